"""What can happen to a node: inputs of the core state machine (past tense).

The daemon turns I/O into these values; the core never sees sockets, processes or clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hbd.core.monitor import MonitorSpec
from hbd.core.status import PeerStatus as PeerStatus  # re-exported: an event carries it


@dataclass(frozen=True)
class Booted:
    """The daemon started (first event).

    `stop_failed`: (group, detail) for groups a dead predecessor (a worker the supervisor restarted) left
    running that could not be stopped before this boot: they are held from the first status on, never
    announced as free."""

    stop_failed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HeartbeatReceived:
    """A valid, authentic packet from `peer` arrived on `link`.

    `status` is None when the packet only proves the link works (a copy already seen on another medium,
    or an older message arriving late): it refreshes the link but must not change what we know of the peer.
    """

    peer: str
    link: str
    status: PeerStatus | None


@dataclass(frozen=True)
class TakeoverAsked:
    """The peer's operator ran `hbctl takeover SCOPE` there: give up SCOPE (relative to the peer)."""

    peer: str
    scope: str  # "all" | "local" | "foreign", as seen from the peer


@dataclass(frozen=True)
class StandbyCommanded:
    """Local `hbctl standby SCOPE`."""

    scope: str


@dataclass(frozen=True)
class TakeoverCommanded:
    """Local `hbctl takeover SCOPE [--force]`; force = the operator vouches that the peer is down."""

    scope: str
    force: bool = False


@dataclass(frozen=True)
class ShutdownRequested:
    """SIGTERM: release everything, say goodbye, exit."""


@dataclass(frozen=True)
class GroupStarted:
    group: str
    ok: bool
    detail: str = ""
    resource: str = ""  # the resource that failed, if any


@dataclass(frozen=True)
class GroupStopped:
    group: str
    ok: bool
    detail: str = ""
    resource: str = ""


@dataclass(frozen=True)
class FenceFinished:
    peer: str
    ok: bool
    detail: str = ""
    agent: str = ""  # the agent that confirmed the fence; every agent tried, when none did


@dataclass(frozen=True)
class GroupAnnounced:
    """The gratuitous ARP burst of a group's address left (first packet at `at`)."""

    group: str
    at: float
    ips: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PingReplied:
    """A ping node (ha.cf `ping`) answered our echo request."""

    target: str


@dataclass(frozen=True)
class ConfigChanged:
    """A reload (SIGHUP, `hbctl reload`) brought a valid new configuration: take its timings and groups.

    `groups` is the new haresources as (key, home) pairs. A group left out is released (if held) and
    forgotten; a group in `replaced` had its resources changed: held, it is stopped and then decided afresh
    (its new resources started where the policy says). A group whose home changed is decided afresh too.
    """

    keepalive_s: float
    deadtime_s: float
    warntime_s: float
    initdead_s: float
    groups: tuple[tuple[str, str], ...]
    replaced: frozenset[str] = frozenset()
    auto_failback: bool = True
    fencing: bool = False
    fence_delay_s: float = 0.0
    config_digest: str = ""
    ping_targets: tuple[str, ...] = ()
    deadping_s: float | None = None
    monitors: tuple[MonitorSpec, ...] = ()  # hbd_monitor: kept monitors keep their failure counts


@dataclass(frozen=True)
class MonitorOk:
    """A monitored resource's status said running (LSB 0); `run` is the RunMonitor it answers."""

    group: str
    resource: str
    run: int
    detail: str = ""


@dataclass(frozen=True)
class MonitorFailed:
    """A monitored resource's status said stopped (3), failed (any other code) or timed out (killed)."""

    group: str
    resource: str
    run: int
    rc: int
    detail: str = ""
    timed_out: bool = False


@dataclass(frozen=True)
class GroupRestarted:
    """A RestartGroup finished. Not ok: `op` says which half failed; after a failed start the daemon has
    stopped the whole group, so nothing of it runs here."""

    group: str
    ok: bool
    detail: str = ""
    resource: str = ""
    op: str = ""  # "stop" | "start" when not ok


@dataclass(frozen=True)
class CleanupCommanded:
    """Local `hbctl cleanup GROUP`: forget the group's monitor failures and its failed mark here."""

    group: str


@dataclass(frozen=True)
class TimerFired:
    """The deadline from `next_deadline()` was reached."""


Event = (
    Booted
    | HeartbeatReceived
    | TakeoverAsked
    | StandbyCommanded
    | TakeoverCommanded
    | ShutdownRequested
    | GroupStarted
    | GroupStopped
    | FenceFinished
    | GroupAnnounced
    | PingReplied
    | ConfigChanged
    | MonitorOk
    | MonitorFailed
    | GroupRestarted
    | CleanupCommanded
    | TimerFired
)
