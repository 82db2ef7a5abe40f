"""The status heartbeat: what a node announces about itself, and its one wire codec.

Both directions live here so that they cannot drift apart: the machine encodes its own status with
`encode_status`, the daemon (and the simulator) decode the peer's with `decode_status`, and a property
test checks `decode_status(encode_status(s)) == s`. Pure: text fields in, values out.

Fields (after `t=status`; the daemon adds `src`, `seq`, `hg`, `ts` and the codec `auth`):

    st     the sender's node state (NodeState value: init | active | shutdown | dead)
    dt     its deadtime in ms, hex (heartbeat's number format)
    hold   groups it runs or is starting/stopping, space-separated
    fail   groups it could not start
    sfail  groups it could not stop: still in `hold` (it may still run them); the peer must not start them,
           unless fencing is configured, then it fences the sender first (optional: absent when none)
    sby    groups it gives up while we are alive (standby)
    cfg    digest of its haresources (optional)
    heard  our generation as it last heard it, decimal (optional: absent while it does not see us alive)
    ping   ping nodes it reaches, decimal (optional: absent until measured)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

MESSAGE_TYPE = "status"
# A decimal count or generation: ASCII digits only (str.isdigit() accepts "²", which int() refuses),
# and no more digits than a 64-bit value has, so a forged field cannot cost a huge int() conversion.
_DECIMAL = re.compile(r"[0-9]{1,20}")
_HEX = re.compile(r"[0-9a-fA-F]{1,16}")


class NodeState(enum.Enum):
    """A node's own state; the value is what travels in the `st` field."""

    INIT = "init"
    RUNNING = "active"
    SHUTTING_DOWN = "shutdown"
    STOPPED = "dead"


class StatusError(ValueError):
    """A status message whose fields cannot be read: the packet is malformed."""


@dataclass(frozen=True)
class PeerStatus:
    """The state a node announced in a status heartbeat (for the receiver: the peer's newest one)."""

    state: NodeState
    holds: frozenset[str] = frozenset()  # groups it runs or is starting/stopping
    failed: frozenset[str] = frozenset()  # groups it could not start
    stop_failed: frozenset[str] = frozenset()  # groups it could not stop: still held, maybe still running
    standby: frozenset[str] = frozenset()  # groups it gives up while we are alive
    ping_nodes: int | None = None  # ping nodes it reaches (None: none configured or not measured yet)
    heard: int | None = None  # our generation as the sender last heard it (None: it does not see us alive)
    generation: int = 0  # the sender's generation: from the packet header (hg), not from these fields
    config_digest: str = ""
    deadtime_ms: int | None = None


def encode_status(status: PeerStatus) -> tuple[tuple[str, str], ...]:
    """The message fields of a status, `t` first. `generation` travels in the header, not here."""
    fields = [("t", MESSAGE_TYPE), ("st", status.state.value)]
    if status.deadtime_ms is not None:
        fields.append(("dt", format(status.deadtime_ms, "x")))
    fields += [
        ("hold", " ".join(sorted(status.holds))),
        ("fail", " ".join(sorted(status.failed))),
        ("sby", " ".join(sorted(status.standby))),
    ]
    if status.stop_failed:  # rare: left out otherwise, so a status stays what older peers send
        fields.append(("sfail", " ".join(sorted(status.stop_failed))))
    if status.config_digest:
        fields.append(("cfg", status.config_digest))
    if status.heard is not None:
        fields.append(("heard", str(status.heard)))
    if status.ping_nodes is not None:
        fields.append(("ping", str(status.ping_nodes)))
    return tuple(fields)


def decode_status(fields: Mapping[str, str], generation: int) -> PeerStatus:
    """Read a status message's fields (any extra fields are ignored); StatusError if one is malformed."""
    if fields.get("t", MESSAGE_TYPE) != MESSAGE_TYPE:
        raise StatusError(f"not a status message (t={fields['t'][:20]!r})")
    st = fields.get("st") or NodeState.RUNNING.value  # old senders left it out while running
    try:
        state = NodeState(st)
    except ValueError:
        raise StatusError(f"unknown state st={st[:20]!r}") from None
    return PeerStatus(
        state=state,
        holds=_keys(fields, "hold"),
        failed=_keys(fields, "fail"),
        stop_failed=_keys(fields, "sfail"),
        standby=_keys(fields, "sby"),
        ping_nodes=_number(fields, "ping", _DECIMAL, 10),
        heard=_number(fields, "heard", _DECIMAL, 10),
        generation=generation,
        config_digest=fields.get("cfg") or "",
        deadtime_ms=_number(fields, "dt", _HEX, 16),
    )


def _keys(fields: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset((fields.get(name) or "").split())


def _number(fields: Mapping[str, str], name: str, pattern: re.Pattern[str], base: int) -> int | None:
    text = fields.get(name)
    if text is None:
        return None
    if not pattern.fullmatch(text):
        raise StatusError(f"bad {name}={text[:20]!r}")
    return int(text, base)
