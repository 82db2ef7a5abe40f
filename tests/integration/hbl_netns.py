"""Two lab namespaces joined by a veth pair, for root integration tests of transports and resources.

Names are `hbl<6 hex>a` / `hbl<6 hex>b` (namespaces and veth ends alike, under 15 characters), so
concurrent runs do not collide and `hblab clean` finds leftovers. `inside(ns)` moves the calling thread
into a namespace for the sockets it creates (sockets keep their namespace afterwards).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import uuid
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(original)
        os.close(original)
        os.close(target)


class NetnsPair:
    def __init__(self, subnet: str = "10.77.0") -> None:
        tag = uuid.uuid4().hex[:6]
        self.a = f"hbl{tag}a"
        self.b = f"hbl{tag}b"
        self.if_a = self.a  # the veth end inside namespace a carries the namespace's name
        self.if_b = self.b
        self.subnet = subnet
        self.ip_a = f"{subnet}.1"
        self.ip_b = f"{subnet}.2"

    def create(self) -> NetnsPair:
        sh("ip", "netns", "add", self.a)
        sh("ip", "netns", "add", self.b)
        self.wire()
        return self

    def wire(self, brd: bool = True) -> None:
        """(Re)create the veth pair, with addresses and links up."""
        sh("ip", "link", "add", self.if_a, "netns", self.a, "type", "veth", "peer", "name", self.if_b,
           "netns", self.b)
        for ns, ifname, ip in ((self.a, self.if_a, self.ip_a), (self.b, self.if_b, self.ip_b)):
            extra = ["brd", "+"] if brd else []
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", *extra, "dev", ifname)
            sh("ip", "-n", ns, "link", "set", ifname, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def unwire(self) -> None:
        sh("ip", "-n", self.a, "link", "del", self.if_a)

    def mac(self, ns: str, ifname: str) -> str:
        return sh("ip", "-n", ns, "-br", "link", "show", ifname).split()[2]

    def destroy(self) -> None:
        for ns in (self.a, self.b):
            # the veth pair dies with its namespaces; ignore a namespace that was never made
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@contextlib.contextmanager
def netns_pair(subnet: str = "10.77.0") -> Iterator[NetnsPair]:
    pair = NetnsPair(subnet)
    try:
        yield pair.create()
    finally:
        pair.destroy()
