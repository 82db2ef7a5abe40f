"""The UDP receive path without a network: a fake socket hands `_on_readable` queued datagrams.

What it pins (issue 11, bug 1): ucast drops datagrams not from the configured peer before the daemon sees
them, the kernel is asked for no more than the codec accepts, and one readiness callback does bounded work.
"""

from __future__ import annotations

from hbd.config.model import Medium
from hbd.transport.udp import READS_PER_WAKEUP, RECV_BYTES, BcastTransport, UcastTransport
from hbd.wire.codec import MAX_MESSAGE_BYTES

PEER = "10.77.1.2"


class FakeSocket:
    def __init__(self, datagrams: list[tuple[bytes, str]]) -> None:
        self.queue = list(datagrams)
        self.sizes: list[int] = []

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        self.sizes.append(size)
        if not self.queue:
            raise BlockingIOError
        payload, src = self.queue.pop(0)
        return payload[:size], (src, 694)


def wired(transport: UcastTransport | BcastTransport, sock: FakeSocket) -> list[bytes]:
    delivered: list[bytes] = []
    transport._sock = sock  # type: ignore[assignment]
    transport._local_addrs = {"10.77.1.1"}
    transport._on_packet = lambda payload, link: delivered.append(payload)
    return delivered


def ucast() -> UcastTransport:
    return UcastTransport(Medium("ucast", "ucast:eth1", iface="eth1", peer=PEER), 694)


def test_ucast_drops_datagrams_not_from_the_configured_peer() -> None:
    transport = ucast()
    sock = FakeSocket([(b"junk", "10.77.1.99"), (b"hello", PEER), (b"spoofed?", "192.0.2.1")])
    delivered = wired(transport, sock)
    transport._on_readable()
    assert delivered == [b"hello"]
    assert transport.stats["dropped_foreign"] == 2
    assert transport.stats["received"] == 1


def test_bcast_accepts_any_source() -> None:
    transport = BcastTransport(Medium("bcast", "bcast:eth1", iface="eth1"), 694)
    delivered = wired(transport, FakeSocket([(b"a", "10.77.1.99"), (b"b", PEER)]))
    transport._on_readable()
    assert delivered == [b"a", b"b"]
    assert transport.stats["dropped_foreign"] == 0


def test_the_kernel_copies_at_most_one_byte_more_than_the_codec_accepts() -> None:
    transport = ucast()
    sock = FakeSocket([(b"x" * 65507, PEER)])
    delivered = wired(transport, sock)
    transport._on_readable()
    assert RECV_BYTES == MAX_MESSAGE_BYTES + 1
    assert set(sock.sizes) == {RECV_BYTES}
    assert [len(p) for p in delivered] == [RECV_BYTES]  # the codec then refuses it as too_large


def test_one_readiness_callback_reads_a_bounded_batch() -> None:
    transport = ucast()
    sock = FakeSocket([(b"p", PEER)] * (READS_PER_WAKEUP * 3))
    delivered = wired(transport, sock)
    transport._on_readable()
    assert len(delivered) == READS_PER_WAKEUP  # the rest waits for the next turn of the loop
    transport._on_readable()
    assert len(delivered) == 2 * READS_PER_WAKEUP
