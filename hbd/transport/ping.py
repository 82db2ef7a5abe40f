"""ICMP echo to the ping nodes of ha.cf (`ping IP...`), heartbeat's ipfail idea.

One raw socket; a request goes to every ping node with each status heartbeat (as heartbeat does), and a
reply is accepted only if it carries our identifier and the per-boot cookie, so a stray or forged echo
reply from elsewhere does not count.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Callable, Sequence

ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0

OnReply = Callable[[str], None]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, checksum, ident, seq) + payload


def parse_echo_reply(packet: bytes, ident: int, cookie: bytes) -> bool:
    """True for an IPv4 packet holding an echo reply with our identifier and cookie."""
    if len(packet) < 20:
        return False
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl:]
    if len(icmp) < 8 + len(cookie):
        return False
    kind, _code, _sum, reply_ident, _seq = struct.unpack("!BBHHH", icmp[:8])
    return kind == ICMP_ECHO_REPLY and reply_ident == ident and icmp[8 : 8 + len(cookie)] == cookie


class Pinger:
    def __init__(self, targets: Sequence[str], on_reply: OnReply) -> None:
        self.targets = tuple(targets)
        self.on_reply = on_reply
        self.ident = os.getpid() & 0xFFFF
        self.cookie = os.urandom(8)
        self.seq = 0
        self.sent = 0
        self.send_errors = 0
        self.replies = 0
        self._sock: socket.socket | None = None

    async def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        sock.setblocking(False)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read)

    def ping_all(self) -> None:
        if self._sock is None:
            return
        self.seq = (self.seq + 1) & 0xFFFF
        packet = echo_request(self.ident, self.seq, self.cookie)
        for target in self.targets:
            try:
                self._sock.sendto(packet, (target, 0))
                self.sent += 1
            except OSError:
                self.send_errors += 1  # unreachable now; deadping decides what that means

    def _read(self) -> None:
        assert self._sock is not None
        while True:
            try:
                packet, (src, _port) = self._sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if src in self.targets and parse_echo_reply(packet, self.ident, self.cookie):
                self.replies += 1
                self.on_reply(src)

    @property
    def stats(self) -> dict[str, int]:
        return {"sent": self.sent, "send_errors": self.send_errors, "replies": self.replies}

    async def close(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
