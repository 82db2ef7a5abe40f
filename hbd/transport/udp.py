"""UDP media: `bcast IF`, `mcast IF GROUP PORT TTL LOOP`, `ucast IF PEER-IP` (heartbeat's HBcomm plugins).

Each transport owns one non-blocking socket, bound to its interface (SO_BINDTODEVICE) and port, used both
to send and to receive; the event loop watches it with `add_reader`, so nothing ever blocks the loop.

Sharing a port. Several media may use port 694, on different interfaces or (bcast + ucast) on the same
one, so every socket sets SO_REUSEADDR and SO_REUSEPORT. The kernel hands a *broadcast* datagram to every
matching socket but a *unicast* one to only one of them, so the ucast socket binds to the interface's own
address: the more specific binding always wins the unicast packets, and the wildcard-bound bcast socket
keeps the broadcasts. Without that, a unicast heartbeat could land on the bcast socket and be counted on
the wrong link.

Interface re-creation. SO_BINDTODEVICE pins the interface index; when a VLAN or bridge is deleted and made
again the old socket is deaf (heartbeat's known bug, heartbeat.md 6.1). A one-second watch task (woken early
by a send error hinting at the device) notices the new index and opens the socket again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import ipaddress
import logging
import socket
import struct
from typing import ClassVar

from hbd.config.model import Medium
from hbd.netlink import RtNetlink
from hbd.transport.base import OnPacket, TransportError, TransportStats, register_transport
from hbd.wire.codec import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

IPTOS_LOWDELAY = 0x10
# Read one byte more than the codec accepts: a longer datagram is cut by the kernel (the rest is never
# copied) and then refused by its length, so a 64 KiB flood packet costs no more than an 8 KiB one.
RECV_BYTES = MAX_MESSAGE_BYTES + 1
# Bound the work per readiness callback so one flooded medium cannot starve the loop: the loop visits every
# ready socket (and the timer) between two batches.
READS_PER_WAKEUP = 16
WATCH_INTERVAL_S = 1.0
# errno values meaning "the interface under this socket is gone or changed": worth checking the ifindex now.
_IFACE_ERRNOS = {errno.ENODEV, errno.ENXIO, errno.ENETDOWN, errno.EADDRNOTAVAIL}


# Classic BPF (linux/filter.h) for a socket filter that drops our own broadcasts in the kernel: the kernel
# loops every broadcast we send back to our own socket, and reading it only to throw it away cost a wakeup
# of the event loop and two recvfrom calls per medium per keepalive (issue 15, idle CPU).
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
_SKF_NET_OFF = -0x100000  # loads relative to the IP header; plain offsets are relative to the UDP header
_BPF_LD_W_ABS, _BPF_LD_H_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x28, 0x15, 0x06
_ACCEPT = 0xFFFFFFFF  # keep the whole datagram


def own_packet_filter(addresses: list[str], port: int) -> list[tuple[int, int, int, int]]:
    """A BPF program (code, jt, jf, k per instruction) that drops datagrams from (one of `addresses`,
    `port`) and accepts everything else: [0] load the UDP source port, [1] not ours: accept, [2] load the
    IP source address, [3..] one of ours: drop, else accept."""
    n = len(addresses)
    if not 0 < n < 250:
        raise ValueError(f"need 1 to 249 addresses, got {n}")
    program = [(_BPF_LD_H_ABS, 0, 0, 0), (_BPF_JEQ_K, 0, n + 1, port)]
    program.append((_BPF_LD_W_ABS, 0, 0, _SKF_NET_OFF + 12))
    for i, address in enumerate(addresses):
        program.append((_BPF_JEQ_K, n - i, 0, int(ipaddress.IPv4Address(address))))
    return [*program, (_BPF_RET_K, 0, 0, _ACCEPT), (_BPF_RET_K, 0, 0, 0)]


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    """SO_ATTACH_FILTER with `program` (struct sock_fprog pointing at struct sock_filter[])."""
    code = b"".join(struct.pack("=HBBI", c, jt, jf, k & 0xFFFFFFFF) for c, jt, jf, k in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))  # native layout: padded pointer
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _ifindex(iface: str) -> int | None:
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        return None


async def _ipv4_addresses(ifindex: int) -> list[tuple[str, int, str | None]]:
    """(address, prefixlen, broadcast) of every IPv4 address on the interface, via netlink."""
    with RtNetlink() as nl:
        return [(a.address, a.prefixlen, a.broadcast) for a in nl.addresses(ifindex)]


class UdpTransport:
    """What bcast, mcast and ucast share: the socket life cycle, reading, sending, the interface watch."""

    kind: ClassVar[str] = ""

    def __init__(self, medium: Medium, udpport: int) -> None:
        if not medium.iface:
            raise TransportError(f"{medium.name}: a {medium.kind} medium needs an interface")
        self.name = medium.name
        self.medium = medium
        self.iface = medium.iface
        self.port = medium.port or udpport
        self._stats = TransportStats()
        self._sock: socket.socket | None = None
        self._bound_index: int | None = None
        self._local_addrs: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_packet: OnPacket | None = None
        self._watch: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()  # set by send() when an errno hints that the interface changed
        self._closed = False

    # -- per-kind parts -------------------------------------------------------------------------------
    def _prepare(self, ifindex: int, addrs: list[tuple[str, int, str | None]]) -> None:
        """Read what the socket needs from the interface (destination, local address). May raise."""

    def _bind_address(self) -> str:
        return ""

    def _configure(self, sock: socket.socket, ifindex: int) -> None:
        """Kind-specific socket options, before bind."""

    def _after_bind(self, sock: socket.socket, ifindex: int) -> None:
        """Kind-specific setup that needs a bound socket (multicast membership)."""

    def _destination(self) -> tuple[str, int]:
        raise NotImplementedError

    def _filters_own(self) -> bool:
        return True

    def _accepts_source(self, src: str) -> bool:
        """Whether a datagram from `src` may reach the decoder at all (ucast: only the configured peer)."""
        return True

    # -- life cycle -----------------------------------------------------------------------------------
    async def open(self, on_packet: OnPacket) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_packet = on_packet
        self._closed = False
        ifindex = _ifindex(self.iface)
        if ifindex is None:
            raise TransportError(f"{self.name}: interface {self.iface!r} does not exist")
        await self._open_socket(ifindex)
        self._watch = asyncio.create_task(self._watch_interface(), name=f"watch {self.name}")

    async def _open_socket(self, ifindex: int) -> None:
        """Create, configure, bind and watch the socket. Raises TransportError with the medium's name."""
        assert self._loop is not None
        try:
            addrs = await _ipv4_addresses(ifindex)
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot read addresses of {self.iface}: {exc}") from exc
        self._prepare(ifindex, addrs)
        self._local_addrs = {a for a, _, _ in addrs}
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_LOWDELAY)
            self._configure(sock, ifindex)
            sock.bind((self._bind_address(), self.port))
            self._after_bind(sock, ifindex)
            if self._filters_own() and self._local_addrs:
                try:
                    attach_filter(sock, own_packet_filter(sorted(self._local_addrs), self.port))
                except OSError as exc:  # a kernel without socket filters: _on_readable still drops them
                    log.warning("(%s) no kernel filter for our own packets: %s", self.name, exc)
        except OSError as exc:
            sock.close()
            raise TransportError(f"{self.name}: cannot open a UDP socket on {self.iface}: {exc}") from exc
        self._sock = sock
        self._bound_index = ifindex
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def _close_socket(self) -> None:
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        self._close_socket()

    @property
    def stats(self) -> dict[str, int]:
        return self._stats.as_dict()

    # -- data path ------------------------------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        if self._sock is None:
            self._stats.send_errors += 1
            return
        try:
            self._sock.sendto(payload, self._destination())
        except OSError as exc:  # includes BlockingIOError: a full socket buffer drops this heartbeat
            self._stats.send_errors += 1
            if exc.errno in _IFACE_ERRNOS:
                self._poke.set()
            return
        self._stats.sent += 1

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(READS_PER_WAKEUP):
            try:
                payload, (src, src_port) = sock.recvfrom(RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._stats.receive_errors += 1
                return
            if self._filters_own() and src in self._local_addrs and src_port == self.port:
                self._stats.dropped_own += 1
                continue
            if not self._accepts_source(src):
                self._stats.dropped_foreign += 1
                continue
            self._stats.received += 1
            assert self._on_packet is not None
            try:
                self._on_packet(payload, self.name)
            except Exception:  # the daemon's bug must not kill the medium
                log.exception("(%s) packet handler failed", self.name)

    # -- interface watch ------------------------------------------------------------------------------
    async def _watch_interface(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), WATCH_INTERVAL_S)
            self._poke.clear()
            try:
                await self._check_interface()
            except Exception:  # the watch must outlive any surprise; the medium stays as it was
                log.exception("(%s) interface check failed", self.name)

    async def _check_interface(self) -> None:
        ifindex = _ifindex(self.iface)
        if ifindex is None or ifindex == self._bound_index:
            return
        self._close_socket()
        try:
            await self._open_socket(ifindex)
        except TransportError as exc:
            log.warning("(%s) re-open after the interface came back failed: %s", self.name, exc)
            self._bound_index = None  # try again at the next watch
        else:
            self._stats.reopened += 1
            log.info("(%s) re-opened on %s (ifindex %d)", self.name, self.iface, ifindex)


@register_transport("bcast")
class BcastTransport(UdpTransport):
    """Broadcast to the interface's broadcast address (read from netlink at open)."""

    kind = "bcast"

    def __init__(self, medium: Medium, udpport: int) -> None:
        super().__init__(medium, udpport)
        self.broadcast: str | None = None

    def _prepare(self, ifindex: int, addrs: list[tuple[str, int, str | None]]) -> None:
        brds = [b for _, _, b in addrs if b]
        if not brds:
            # heartbeat silently sends to 0.0.0.0 here and hears only itself (heartbeat.md 6.1): refuse.
            raise TransportError(
                f"{self.name}: interface {self.iface} has no IPv4 broadcast address "
                f"(add its address with 'brd +', or use ucast)"
            )
        self.broadcast = brds[0]

    def _configure(self, sock: socket.socket, ifindex: int) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)

    def _destination(self) -> tuple[str, int]:
        assert self.broadcast is not None
        return (self.broadcast, self.port)


@register_transport("ucast")
class UcastTransport(UdpTransport):
    """Unicast to one peer address. Binds to our address on the interface (see the module note)."""

    kind = "ucast"

    def __init__(self, medium: Medium, udpport: int) -> None:
        super().__init__(medium, udpport)
        if not medium.peer:
            raise TransportError(f"{medium.name}: a ucast medium needs a peer address")
        try:
            self.peer = str(ipaddress.IPv4Address(medium.peer))
        except ValueError:
            raise TransportError(f"{medium.name}: {medium.peer!r} is not an IPv4 address") from None
        self.local: str = ""

    def _prepare(self, ifindex: int, addrs: list[tuple[str, int, str | None]]) -> None:
        peer = ipaddress.IPv4Address(self.peer)
        on_link = [a for a, plen, _ in addrs if peer in ipaddress.IPv4Network(f"{a}/{plen}", strict=False)]
        # No address at all: fall back to the wildcard (works alone; shares unicasts badly with a bcast).
        self.local = (on_link or [a for a, _, _ in addrs] or [""])[0]

    def _bind_address(self) -> str:
        return self.local

    def _accepts_source(self, src: str) -> bool:
        # The peer's address is configured: anything else is dropped before a byte of it is looked at.
        # (Spoofing the peer's address gets past this; the signature check stops it next.)
        return src == self.peer

    def _destination(self) -> tuple[str, int]:
        return (self.peer, self.port)


@register_transport("mcast")
class McastTransport(UdpTransport):
    """Multicast: join GROUP on the interface; TTL and loopback from the medium."""

    kind = "mcast"

    def __init__(self, medium: Medium, udpport: int) -> None:
        super().__init__(medium, udpport)
        if not medium.group:
            raise TransportError(f"{medium.name}: an mcast medium needs a group address")
        try:
            group = ipaddress.IPv4Address(medium.group)
        except ValueError:
            raise TransportError(f"{medium.name}: {medium.group!r} is not an IPv4 address") from None
        if not group.is_multicast:
            raise TransportError(f"{medium.name}: {group} is not a multicast address (224.0.0.0/4)")
        self.group = str(group)
        self.ttl = 1 if medium.ttl is None else medium.ttl
        self.loop = medium.loop

    def _mreqn(self, ifindex: int) -> bytes:
        return struct.pack("=4s4si", socket.inet_aton(self.group), socket.inet_aton("0.0.0.0"), ifindex)

    def _bind_address(self) -> str:
        # Binding to the group keeps unicasts and broadcasts to the same port out of this socket.
        return self.group

    def _configure(self, sock: socket.socket, ifindex: int) -> None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1 if self.loop else 0)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, self._mreqn(ifindex))

    def _after_bind(self, sock: socket.socket, ifindex: int) -> None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, self._mreqn(ifindex))

    def _filters_own(self) -> bool:
        # `loop 1` asks for our own packets (two nodes on one host); the daemon drops src == self anyway.
        return not self.loop

    def _destination(self) -> tuple[str, int]:
        return (self.group, self.port)
