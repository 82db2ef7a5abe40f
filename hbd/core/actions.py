"""What the core asks the daemon to do (imperative); the daemon carries these out and reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SendStatus:
    """Send a status heartbeat with these fields on every medium (the daemon adds src/seq/hg/ts/auth)."""

    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SendMessage:
    """Send a non-status message (e.g. `hb_takeover`) on every medium."""

    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StartGroup:
    group: str
    cause: str


@dataclass(frozen=True)
class StopGroup:
    group: str
    cause: str


@dataclass(frozen=True)
class RestartGroup:
    """Restart a group here after `resource` failed: stop right to left down to `resource`, start again left
    to right from it (the resources before it keep running). Reported back as GroupRestarted."""

    group: str
    resource: str
    cause: str


@dataclass(frozen=True)
class RunMonitor:
    """Run `resource`'s status out of the event loop, killed after `timeout_s`; report MonitorOk or
    MonitorFailed carrying `run`."""

    group: str
    resource: str
    timeout_s: float
    run: int


@dataclass(frozen=True)
class AnnounceGroup:
    """Send gratuitous ARP again for a group's addresses: after a split brain clients follow the last one."""

    group: str
    cause: str


@dataclass(frozen=True)
class FencePeer:
    peer: str
    cause: str


@dataclass(frozen=True)
class Emit:
    """A structured event for events.jsonl (the daemon adds mono, wall, node)."""

    event: str
    level: str = "INFO"
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exit:
    """Everything is released and the goodbye is sent: the process may end."""

    code: int = 0


Action = (
    SendStatus
    | SendMessage
    | StartGroup
    | StopGroup
    | RestartGroup
    | RunMonitor
    | AnnounceGroup
    | FencePeer
    | Emit
    | Exit
)
