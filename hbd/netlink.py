"""A small rtnetlink client for the daemon's fast path: list, add and remove IPv4 addresses.

pyroute2 does this and far more, but importing it costs ~0.5 s at every daemon start (boot, failback)
and decoding its messages 1-6 ms per request on the takeover path. The three requests hbd needs are a
few struct formats (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h).

rtnetlink handles a request inside the sendmsg call and queues the answer before it returns, so the
calls here are plain blocking socket calls that come back at once; a timeout bounds a wedged kernel.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
from dataclasses import dataclass

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
RTATTR = struct.Struct("=HH")  # length, type
NLMSGERR = struct.Struct("=i")  # negative errno, 0 for an acknowledgement
TIMEOUT_S = 2.0
RECV_BYTES = 65536


class NetlinkError(OSError):
    """The kernel refused a request; `errno` says why (EEXIST, EADDRNOTAVAIL, ENODEV, ...)."""


@dataclass(frozen=True)
class Address:
    index: int
    address: str
    prefixlen: int
    broadcast: str | None = None
    label: str | None = None


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, data: bytes) -> bytes:
    length = RTATTR.size + len(data)
    return RTATTR.pack(length, kind) + data + b"\0" * (_align(length) - length)


def _attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    offset = 0
    while offset + RTATTR.size <= len(data):
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size:
            break  # malformed: stop rather than loop
        out[kind] = data[offset + RTATTR.size : offset + length]
        offset += _align(length)
    return out


def address_message(index: int, ip: str, prefixlen: int, broadcast: str | None, label: str | None) -> bytes:
    """The body of RTM_NEWADDR / RTM_DELADDR for one IPv4 address (what `ip addr add` sends)."""
    packed = socket.inet_aton(ip)
    body = IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, 0, index)
    body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
    if broadcast:
        body += _attr(IFA_BROADCAST, socket.inet_aton(broadcast))
    if label:
        body += _attr(IFA_LABEL, label.encode() + b"\0")
    return body


def parse_address(body: bytes) -> Address | None:
    """One RTM_NEWADDR from a dump; None for anything that is not IPv4."""
    if len(body) < IFADDRMSG.size:
        return None
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(body)
    if family != socket.AF_INET:
        return None
    attrs = _attrs(body[IFADDRMSG.size :])
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if raw is None or len(raw) != 4:
        return None
    broadcast = attrs.get(IFA_BROADCAST)
    label = attrs.get(IFA_LABEL)
    return Address(
        index,
        socket.inet_ntoa(raw),
        prefixlen,
        socket.inet_ntoa(broadcast) if broadcast and len(broadcast) == 4 else None,
        label.rstrip(b"\0").decode(errors="replace") if label else None,
    )


class RtNetlink:
    """One NETLINK_ROUTE socket; use as a context manager (it is cheap to open: ~50 us)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self._sock.settimeout(TIMEOUT_S)
        self._sock.bind((0, 0))
        self._seq = itertools.count(1)

    def __enter__(self) -> RtNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def _request(self, kind: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request; return the bodies of the answer's messages (a dump's, or none for an ack)."""
        seq = next(self._seq)
        self._sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags, seq, 0) + body)
        bodies: list[bytes] = []
        while True:
            try:
                data = self._sock.recv(RECV_BYTES)
            except TimeoutError as exc:
                raise NetlinkError(errno.ETIMEDOUT, "no answer from the kernel's rtnetlink") from exc
            offset = 0
            while offset + NLMSGHDR.size <= len(data):
                length, mtype, mflags, mseq, _pid = NLMSGHDR.unpack_from(data, offset)
                if length < NLMSGHDR.size:
                    raise NetlinkError(errno.EPROTO, "malformed netlink message")
                payload = data[offset + NLMSGHDR.size : offset + length]
                offset += _align(length)
                if mseq != seq:
                    continue  # an answer to an earlier request that timed out
                if mtype == NLMSG_ERROR:
                    (code,) = NLMSGERR.unpack_from(payload)
                    if code:
                        raise NetlinkError(-code, os.strerror(-code))
                    return bodies
                if mtype == NLMSG_DONE:
                    return bodies
                bodies.append(payload)
                if not mflags & NLM_F_MULTI and not flags & NLM_F_ACK:
                    return bodies

    def addresses(self, index: int | None = None) -> list[Address]:
        """Every IPv4 address (of one interface, when `index` is given)."""
        request = IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        found = (parse_address(b) for b in self._request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, request))
        return [a for a in found if a is not None and (index is None or a.index == index)]

    def add_address(
        self, index: int, ip: str, prefixlen: int, broadcast: str | None = None, label: str | None = None
    ) -> None:
        """Raises NetlinkError(EEXIST) when the address is already there."""
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        self._request(RTM_NEWADDR, flags, address_message(index, ip, prefixlen, broadcast, label))

    def del_address(self, index: int, ip: str, prefixlen: int) -> None:
        """Raises NetlinkError(EADDRNOTAVAIL) when the address is not there."""
        self._request(
            RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, address_message(index, ip, prefixlen, None, None)
        )
