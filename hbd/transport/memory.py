"""An in-memory medium for tests and simulations: the second implementation of the transport seam.

A `MemoryHub` holds named links (broadcast domains). Each `MemoryTransport` sits on one link as one node;
a packet sent on a link reaches every other open transport on that link, never the sender itself.
Faults are per link and per direction: `cut`/`heal` (a pulled cable or a one-way loss) and `drop_next`
(lose the next N packets).

Delivery modes:
- "sync": `send` calls the receivers' callbacks before it returns (simplest for unit tests);
- "loop": each delivery is scheduled with `loop.call_soon`, like a real socket's readiness;
- "manual": packets wait in `hub.pending` until the test calls `deliver()` or `discard()`, so a property
  test can reorder, delay or lose them on purpose.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from hbd.transport.base import OnPacket, TransportError, TransportStats

log = logging.getLogger(__name__)

DeliveryMode = Literal["sync", "loop", "manual"]


@dataclass(frozen=True)
class InFlight:
    """A packet waiting for delivery in manual mode."""

    link: str
    src_node: str
    dst_node: str
    payload: bytes


class MemoryTransport:
    """One node's end of a hub link. `name` is the link name the daemon sees (e.g. "bcast:eth1")."""

    def __init__(self, hub: MemoryHub, name: str, node: str, link: str) -> None:
        self.name = name
        self.node = node
        self.link = link
        self._hub = hub
        self._on_packet: OnPacket | None = None
        self._stats = TransportStats()

    @property
    def is_open(self) -> bool:
        return self._on_packet is not None

    async def open(self, on_packet: OnPacket) -> None:
        self._on_packet = on_packet

    def send(self, payload: bytes) -> None:
        if not self.is_open:
            self._stats.send_errors += 1
            return
        self._stats.sent += 1
        self._hub._carry(self, bytes(payload))

    async def close(self) -> None:
        self._on_packet = None

    @property
    def stats(self) -> dict[str, int]:
        return self._stats.as_dict()

    def _receive(self, payload: bytes) -> None:
        if self._on_packet is None:  # closed while the packet was in flight
            return
        self._stats.received += 1
        self._on_packet(payload, self.name)


class MemoryHub:
    def __init__(self, mode: DeliveryMode = "sync") -> None:
        self.mode: DeliveryMode = mode
        self._links: dict[str, dict[str, MemoryTransport]] = {}
        self._cut: set[tuple[str, str | None, str | None]] = set()  # (link, from_node|None, to_node|None)
        self._drop_next: dict[tuple[str, str | None, str | None], int] = {}
        self.pending: list[InFlight] = []
        self.dropped = 0

    def transport(self, name: str, node: str, link: str | None = None) -> MemoryTransport:
        """A new transport for `node` on `link` (defaults to `name`: same-named media meet)."""
        link = link or name
        members = self._links.setdefault(link, {})
        if node in members:
            raise TransportError(f"node {node!r} already has a transport on link {link!r}")
        members[node] = MemoryTransport(self, name, node, link)
        return members[node]

    # -- faults ---------------------------------------------------------------------------------------
    def cut(self, link: str, from_node: str | None = None, to_node: str | None = None) -> None:
        """Lose every packet on `link` (optionally only from one node and/or to one node) until healed."""
        self._check_link(link)
        self._cut.add((link, from_node, to_node))

    def heal(self, link: str, from_node: str | None = None, to_node: str | None = None) -> None:
        """Undo `cut` with the same arguments; with no nodes, undo every cut of the link."""
        self._check_link(link)
        if from_node is None and to_node is None:
            self._cut = {c for c in self._cut if c[0] != link}
        else:
            self._cut.discard((link, from_node, to_node))

    def drop_next(
        self, link: str, count: int = 1, from_node: str | None = None, to_node: str | None = None
    ) -> None:
        self._check_link(link)
        self._drop_next[(link, from_node, to_node)] = count

    def _check_link(self, link: str) -> None:
        if link not in self._links:
            raise TransportError(f"no such memory link {link!r} (known: {', '.join(sorted(self._links))})")

    def _blocked(self, link: str, src: str, dst: str) -> bool:
        for rule in ((link, None, None), (link, src, None), (link, None, dst), (link, src, dst)):
            if rule in self._cut:
                return True
            left = self._drop_next.get(rule, 0)
            if left > 0:
                self._drop_next[rule] = left - 1
                return True
        return False

    # -- delivery -------------------------------------------------------------------------------------
    def _carry(self, sender: MemoryTransport, payload: bytes) -> None:
        for node, receiver in self._links[sender.link].items():
            if node == sender.node or not receiver.is_open:
                continue
            if self._blocked(sender.link, sender.node, node):
                self.dropped += 1
                continue
            if self.mode == "sync":
                receiver._receive(payload)
            elif self.mode == "loop":
                asyncio.get_running_loop().call_soon(receiver._receive, payload)
            else:
                self.pending.append(InFlight(sender.link, sender.node, node, payload))

    def deliver(self, index: int | None = None) -> int:
        """Manual mode: deliver the packet at `index`, or every pending packet in order; returns the count."""
        if index is not None:
            self._hand_over(self.pending.pop(index))
            return 1
        batch, self.pending = self.pending, []
        for packet in batch:
            self._hand_over(packet)
        return len(batch)

    def discard(self, index: int | None = None) -> int:
        """Manual mode: lose the packet at `index`, or every pending packet."""
        if index is not None:
            del self.pending[index]
            self.dropped += 1
            return 1
        count = len(self.pending)
        self.pending.clear()
        self.dropped += count
        return count

    def _hand_over(self, packet: InFlight) -> None:
        receiver = self._links.get(packet.link, {}).get(packet.dst_node)
        if receiver is not None:
            receiver._receive(packet.payload)
