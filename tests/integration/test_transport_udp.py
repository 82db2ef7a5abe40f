"""UDP media between two namespaces over a veth pair (root)."""

import asyncio
import os
import socket
import time

import pytest

from hbd.config.model import Medium
from hbd.transport.base import TransportError
from hbd.transport.udp import RECV_BYTES, BcastTransport, McastTransport, UcastTransport
from tests.integration.hbl_netns import inside, netns_pair, sh

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


class Inbox:
    def __init__(self):
        self.packets = []
        self.event = asyncio.Event()

    def __call__(self, payload, link):
        self.packets.append((payload, link))
        self.event.set()

    async def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.packets) < count and time.monotonic() < deadline:
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
        return self.packets


async def _open_in(ns, transport, inbox):
    with inside(ns):
        await transport.open(inbox)
    return transport


@pytest.fixture
def pair():
    with netns_pair("10.77.1") as p:
        yield p


def test_bcast_reaches_the_peer_and_not_ourselves(pair):
    async def main():
        ta = BcastTransport(Medium("bcast", f"bcast:{pair.if_a}", iface=pair.if_a), 694)
        tb = BcastTransport(Medium("bcast", f"bcast:{pair.if_b}", iface=pair.if_b), 694)
        ia, ib = Inbox(), Inbox()
        await _open_in(pair.a, ta, ia)
        await _open_in(pair.b, tb, ib)
        try:
            assert ta.broadcast == "10.77.1.255"
            ta.send(b"from-a")
            tb.send(b"from-b")
            assert await ib.wait_for(1) == [(b"from-a", f"bcast:{pair.if_b}")]
            assert await ia.wait_for(1) == [(b"from-b", f"bcast:{pair.if_a}")]
            await asyncio.sleep(0.1)  # give a looped-back copy time to show up, if any
            assert [p for p, _ in ia.packets] == [b"from-b"]
            assert ta.stats["sent"] == 1 and tb.stats["received"] == 1
            # Our own broadcast never reached Python: the socket's kernel filter dropped it (issue 15).
            assert ta.stats["dropped_own"] == 0 and tb.stats["dropped_own"] == 0
        finally:
            await ta.close()
            await tb.close()

    asyncio.run(main())


def test_bcast_and_ucast_share_port_694_on_one_interface(pair):
    async def main():
        b_bcast = BcastTransport(Medium("bcast", "bcast:b", iface=pair.if_b), 694)
        b_ucast = UcastTransport(Medium("ucast", "ucast:b", iface=pair.if_b, peer=pair.ip_a), 694)
        a_bcast = BcastTransport(Medium("bcast", "bcast:a", iface=pair.if_a), 694)
        a_ucast = UcastTransport(Medium("ucast", "ucast:a", iface=pair.if_a, peer=pair.ip_b), 694)
        ib_b, ib_u, ia = Inbox(), Inbox(), Inbox()
        await _open_in(pair.b, b_bcast, ib_b)
        await _open_in(pair.b, b_ucast, ib_u)
        await _open_in(pair.a, a_bcast, ia)
        await _open_in(pair.a, a_ucast, ia)
        try:
            for i in range(20):
                a_bcast.send(b"B%d" % i)
                a_ucast.send(b"U%d" % i)
            await ib_b.wait_for(20)
            await ib_u.wait_for(20)
            assert sorted(p for p, _ in ib_b.packets) == sorted(b"B%d" % i for i in range(20))
            assert sorted(p for p, _ in ib_u.packets) == sorted(b"U%d" % i for i in range(20))
            assert {link for _, link in ib_b.packets} == {"bcast:b"}
            assert {link for _, link in ib_u.packets} == {"ucast:b"}
        finally:
            for t in (a_bcast, a_ucast, b_bcast, b_ucast):
                await t.close()

    asyncio.run(main())


def test_mcast_between_namespaces(pair):
    async def main():
        def medium(name, iface):
            return Medium("mcast", name, iface=iface, group="239.77.0.1", port=6940, ttl=1, loop=False)

        ta = McastTransport(medium("mcast:a", pair.if_a), 694)
        tb = McastTransport(medium("mcast:b", pair.if_b), 694)
        ia, ib = Inbox(), Inbox()
        await _open_in(pair.a, ta, ia)
        await _open_in(pair.b, tb, ib)
        try:
            ta.send(b"hello-group")
            assert await ib.wait_for(1) == [(b"hello-group", "mcast:b")]
            tb.send(b"back")
            assert await ia.wait_for(1) == [(b"back", "mcast:a")]
            await asyncio.sleep(0.1)
            assert len(ia.packets) == 1  # loop off: our own multicast is not heard
        finally:
            await ta.close()
            await tb.close()

    asyncio.run(main())


def test_bcast_without_broadcast_address_fails_loudly(pair):
    pair.unwire()
    pair.wire(brd=False)

    async def main():
        t = BcastTransport(Medium("bcast", "bcast:nobrd", iface=pair.if_a), 694)
        with pytest.raises(TransportError, match=r"bcast:nobrd: interface .* has no IPv4 broadcast address"):
            await _open_in(pair.a, t, Inbox())

    asyncio.run(main())


def test_missing_interface_fails_at_open(pair):
    async def main():
        t = BcastTransport(Medium("bcast", "bcast:ghost", iface="hblghost0"), 694)
        with pytest.raises(TransportError, match="interface 'hblghost0' does not exist"):
            await _open_in(pair.a, t, Inbox())

    asyncio.run(main())


def test_send_never_raises_when_the_network_refuses(pair):
    async def main():
        t = UcastTransport(Medium("ucast", "ucast:a", iface=pair.if_a, peer="10.77.1.2"), 694)
        await _open_in(pair.a, t, Inbox())
        try:
            sh("ip", "-n", pair.a, "link", "set", pair.if_a, "down")
            for _ in range(3):
                t.send(b"x" * 100)
            t.send(b"y" * 70000)  # larger than any datagram: EMSGSIZE
            assert t.stats["send_errors"] >= 1
        finally:
            await t.close()

    asyncio.run(main())


def test_reopens_after_the_interface_is_recreated(pair):
    """The receiver's loop runs inside its namespace, like the daemon does."""

    async def main():
        tb = BcastTransport(Medium("bcast", "bcast:b", iface=pair.if_b), 694)
        ib = Inbox()
        await tb.open(ib)
        try:
            old_index = tb._bound_index
            pair.unwire()
            pair.wire()
            deadline = time.monotonic() + 10
            while tb.stats["reopened"] == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert tb.stats["reopened"] == 1 and tb._bound_index != old_index
            ta = BcastTransport(Medium("bcast", "bcast:a", iface=pair.if_a), 694)
            await _open_in(pair.a, ta, Inbox())
            try:
                ta.send(b"after-recreate")
                assert await ib.wait_for(1) == [(b"after-recreate", "bcast:b")]
            finally:
                await ta.close()
        finally:
            await tb.close()

    with inside(pair.b):
        asyncio.run(main())


def test_ucast_drops_datagrams_not_from_the_peer_and_reads_at_most_what_the_codec_accepts(pair):
    # Issue 11, bug 1: a ucast medium knows its peer's address, so anything else is dropped before the
    # daemon sees a byte of it; and a 64 KiB datagram reaches the daemon cut to RECV_BYTES.
    stranger = f"{pair.subnet}.3"
    sh("ip", "-n", pair.a, "addr", "add", f"{stranger}/24", "dev", pair.if_a)

    async def main():
        b_ucast = UcastTransport(Medium("ucast", "ucast:b", iface=pair.if_b, peer=pair.ip_a), 694)
        inbox = Inbox()
        await _open_in(pair.b, b_ucast, inbox)
        try:
            with inside(pair.a):
                for source, payload in ((stranger, b"from a stranger"), (pair.ip_a, b"x" * 65000)):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    sock.bind((source, 0))
                    sock.sendto(payload, (pair.ip_b, 694))
                    sock.close()
            packets = await inbox.wait_for(1)
            await asyncio.sleep(0.1)
            assert [len(p) for p, _ in packets] == [RECV_BYTES]  # the peer's, cut; never the stranger's
            assert b_ucast.stats["dropped_foreign"] == 1
        finally:
            await b_ucast.close()

    asyncio.run(main())
