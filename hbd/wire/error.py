"""The one exception the wire layer raises for bad bytes from the network."""

from __future__ import annotations

from typing import Literal, get_args

# A small, stable set: the daemon counts rejected packets by reason (`packet.rejected` events),
# so these strings are part of the contract and must not grow casually.
Reason = Literal[
    "malformed",  # not a heartbeat message in either encoding, or a field breaks the rules
    "too_large",  # over MAX_MESSAGE_BYTES
    "no_auth",  # no `auth` field (or, in netstring, no outer auth trailer)
    "unknown_key",  # signed with a key index this node does not have in authkeys
    "bad_auth",  # the digest does not match, or the auth field is garbled
]
REASONS: frozenset[str] = frozenset(get_args(Reason))


class WireError(Exception):
    """A packet was rejected. `detail` is for humans and never contains key material."""

    def __init__(self, reason: Reason, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown WireError reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail
