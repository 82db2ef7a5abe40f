"""The transport seam: how heartbeat packets leave and reach this node.

A transport is one configured medium (`bcast eth1`, `serial /dev/ttyS0`, ...). The daemon opens every
transport with one callback, sends each outgoing packet on all of them, and reads `stats` for
`hbctl status`. Transports never raise on network trouble after `open`: a heartbeat that cannot be sent
is counted and forgotten, because the next one follows a keepalive later and the peer's liveness logic
is the one place that decides what silence means.

Implementations register themselves by `Medium.kind`; `build_transports` turns ha.cf media into
transports. The in-memory transport (`memory.py`) is built by its hub, not from config.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from hbd.config.model import Medium

OnPacket = Callable[[bytes, str], None]
"""`on_packet(payload, link_name)`: called in the event loop for each received packet."""


class TransportError(Exception):
    """A transport could not be opened (bad interface, no broadcast address, missing device...)."""


@dataclass
class TransportStats:
    """Counters every transport keeps; `as_dict()` is what `Transport.stats` returns."""

    sent: int = 0
    send_errors: int = 0  # the kernel (or the hub) refused or would block: the packet is gone
    received: int = 0
    receive_errors: int = 0
    dropped_own: int = 0  # our own packets looped back to us, not delivered
    dropped_foreign: int = 0  # ucast: from an address other than the configured peer, never decoded
    reopened: int = 0  # the socket or device was opened again after the medium vanished

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@runtime_checkable
class Transport(Protocol):
    name: str  # Medium.name, e.g. "bcast:eth1"; the link id in events

    async def open(self, on_packet: OnPacket) -> None: ...

    def send(self, payload: bytes) -> None: ...

    async def close(self) -> None: ...

    @property
    def stats(self) -> dict[str, int]: ...


TransportFactory = Callable[[Medium, int], Transport]
"""`factory(medium, udpport)`: builds an unopened transport."""

_FACTORIES: dict[str, TransportFactory] = {}

# Where the implementation of each kind lives; imported on first use, so importing this module stays cheap
# and does not drag pyserial into processes that only use UDP.
_MODULES: dict[str, str] = {
    "bcast": "hbd.transport.udp",
    "mcast": "hbd.transport.udp",
    "ucast": "hbd.transport.udp",
    "serial": "hbd.transport.serial",
}


def register_transport(kind: str) -> Callable[[TransportFactory], TransportFactory]:
    """Class or function decorator: `@register_transport("bcast")`."""

    def decorate(factory: TransportFactory) -> TransportFactory:
        _FACTORIES[kind] = factory
        return factory

    return decorate


def factory_for(kind: str) -> TransportFactory:
    if kind not in _FACTORIES and kind in _MODULES:
        importlib.import_module(_MODULES[kind])
    try:
        return _FACTORIES[kind]
    except KeyError:
        known = ", ".join(sorted(set(_MODULES) | set(_FACTORIES)))
        raise TransportError(f"unknown medium kind {kind!r} (known: {known})") from None


def build_transports(media: Sequence[Medium], udpport: int) -> list[Transport]:
    """One unopened transport per medium, in config order. Raises TransportError on an unknown kind."""
    return [factory_for(medium.kind)(medium, udpport) for medium in media]
