"""Gratuitous ARP: tell the LAN that the service address now lives at this interface's MAC.

Clients follow a moved address only because of these packets (DESIGN.md "Lab facts"), so they leave on
the interface that carries the address, from a packet socket, with no helper process. Each announcement
is a pair, as heartbeat's send_arp sends it (heartbeat.md 8.2), both to ff:ff:ff:ff:ff:ff:
- an ARP request "who-has VIP tell VIP", target MAC 00:00:00:00:00:00;
- an ARP reply "VIP is-at MAC", target MAC = our own MAC.
send_arp spaces the two by half an interval; here both leave at once, so the first announcement reaches
receivers that only honour one of the forms without waiting.

The first pair is sent before `start_garp_burst` returns (its time is the takeover's "GARP sent" mark);
the other `count - 1` are scheduled on the event loop `interval_s` apart, never slept on.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import threading
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6


class ArpError(Exception):
    """The burst could not start (no such interface, not root, not an Ethernet device)."""


def garp_frame(mac: bytes, ip: str, op: int) -> bytes:
    """One Ethernet frame carrying a gratuitous ARP request (op 1) or reply (op 2) for `ip`."""
    try:
        vip = socket.inet_pton(socket.AF_INET, ip)  # strict dotted quad, ~20x cheaper than ipaddress
    except OSError:
        raise ValueError(f"{ip!r} is not an IPv4 address") from None
    target_mac = ZERO_MAC if op == ARPOP_REQUEST else mac
    ethernet = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARPHRD_ETHER, ETH_P_IP, 6, 4, op) + mac + vip + target_mac + vip
    return ethernet + arp


class GarpBurst:
    """A burst in progress. `first_sent_mono` is time.monotonic() of the first packet."""

    def __init__(
        self, sock: socket.socket, mac: bytes, iface: str, ip: str, count: int, interval_s: float
    ) -> None:
        self.iface = iface
        self.ip = ip
        self.count = count
        self.interval_s = interval_s
        self.mac = mac
        self.announcements = 0  # pairs attempted
        self.packets_sent = 0
        self.errors = 0
        self.first_sent_mono: float | None = None
        self._sock: socket.socket | None = sock
        self._frames = (garp_frame(mac, ip, ARPOP_REQUEST), garp_frame(mac, ip, ARPOP_REPLY))
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._t0 = self._loop.time()
        self.done: asyncio.Future[None] = self._loop.create_future()

    @property
    def mac_text(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)

    def _announce(self) -> None:
        self._timer = None
        if self._sock is None:
            return
        for frame in self._frames:
            try:
                self._sock.send(frame)
            except OSError as exc:  # the interface went away mid-burst, or the queue is full: count, go on
                self.errors += 1
                if exc.errno in (errno.ENXIO, errno.ENODEV, errno.ENETDOWN):
                    forget_socket(self.iface)
            else:
                self.packets_sent += 1
                if self.first_sent_mono is None:
                    self.first_sent_mono = time.monotonic()
        self.announcements += 1
        if self.announcements >= self.count:
            self._finish()
        else:
            # Scheduled against the burst's start, so a slow loop does not stretch the whole burst.
            when = self._t0 + self.announcements * self.interval_s
            self._timer = self._loop.call_at(when, self._announce)

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sock = None  # shared per interface: stays open (see _SOCKETS)
        if not self.done.done():
            self.done.set_result(None)

    def cancel(self) -> None:
        """Stop sending (the address was removed); harmless after the burst ended."""
        self._finish()


# One send-only packet socket per interface, kept open: the kernel waits for an RCU grace period when a
# packet socket is closed (~15 ms measured), which would stall the event loop and its heartbeats.
_SOCKETS: dict[str, socket.socket] = {}


def _packet_socket(iface: str) -> socket.socket:
    sock = _SOCKETS.get(iface)
    if sock is None:
        sock = _open_packet_socket(iface)
        _SOCKETS[iface] = sock
    return sock


def forget_socket(iface: str) -> None:
    """Drop a socket whose interface went away (closed off the event loop: the close is slow)."""
    sock = _SOCKETS.pop(iface, None)
    if sock is not None:
        threading.Thread(target=sock.close, name="garp-close", daemon=True).start()


def start_garp_burst(iface: str, ip: str, count: int, interval_s: float) -> GarpBurst:
    """Send the first announcement now and schedule the rest. Must run inside the event loop."""
    if count < 1:
        raise ArpError(f"gratuitous ARP count must be at least 1, not {count}")
    sock = _packet_socket(iface)
    _, _, _, hatype, mac = sock.getsockname()
    if hatype != ARPHRD_ETHER or len(mac) != 6:
        raise ArpError(f"{iface} is not an Ethernet interface (hardware type {hatype}): no ARP to send")
    burst = GarpBurst(sock, mac, iface, ip, count, interval_s)
    burst._announce()
    return burst


def _open_packet_socket(iface: str) -> socket.socket:
    try:
        # Protocol 0: a send-only socket. Binding a socket registered for ETH_P_ARP waits for an RCU grace
        # period in the kernel (15 ms measured here), right on the takeover path.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError as exc:
        raise ArpError(f"cannot open a packet socket for gratuitous ARP: {exc}") from exc
    try:
        sock.setblocking(False)
        sock.bind((iface, 0))
    except OSError as exc:
        sock.close()
        raise ArpError(f"cannot send gratuitous ARP on {iface}: {exc}") from exc
    return sock
