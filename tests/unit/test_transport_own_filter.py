"""The kernel filter that drops our own looped-back broadcasts (hbd/transport/udp.py), on loopback
sockets: only datagrams from one of our addresses *and* our port are dropped; everything else passes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hbd.transport.udp import attach_filter, own_packet_filter


def bound(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    sock.settimeout(0.3)
    return sock


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = bound("127.0.0.1")
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recvfrom(100)[0])
        except TimeoutError:
            return out


def test_only_our_address_and_port_together_are_dropped(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    other_port = bound("127.0.0.1")
    other_address = bound("127.0.0.2")
    # Ours: the receiver's own address and port (what a looped-back broadcast of ours looks like).
    attach_filter(receiver, own_packet_filter(["10.0.0.9", "127.0.0.1"], port))
    receiver.sendto(b"own", ("127.0.0.1", port))
    other_port.sendto(b"same address, other port", ("127.0.0.1", port))
    other_address.sendto(b"other address", ("127.0.0.1", port))
    assert sorted(received(receiver)) == [b"other address", b"same address, other port"]
    other_port.close()
    other_address.close()


def test_an_unfiltered_socket_hears_itself(receiver: socket.socket) -> None:
    # What the filter is for: without it the kernel hands our own datagram back to us.
    port = receiver.getsockname()[1]
    receiver.sendto(b"own", ("127.0.0.1", port))
    assert received(receiver) == [b"own"]


def test_program_shape() -> None:
    program = own_packet_filter(["10.77.0.1"], 694)
    assert program[1] == (0x15, 0, 2, 694)  # not our port: jump to accept
    assert program[3] == (0x15, 1, 0, 0x0A4D0001)  # our address: jump to drop
    assert program[-2:] == [(0x06, 0, 0, 0xFFFFFFFF), (0x06, 0, 0, 0)]
    with pytest.raises(ValueError):
        own_packet_filter([], 694)


def test_a_kernel_that_refuses_the_filter_leaves_the_medium_open(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import hbd.transport.udp as udp
    from hbd.config.model import Medium

    def refuse(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
        raise OSError(22, "Invalid argument")

    async def addresses(ifindex: int) -> list[tuple[str, int, str | None]]:
        return [("127.0.0.1", 8, "127.255.255.255")]

    monkeypatch.setattr(udp, "attach_filter", refuse)
    monkeypatch.setattr(udp, "_ipv4_addresses", addresses)
    monkeypatch.setattr(socket.socket, "setsockopt", lambda *a: None)  # no SO_BINDTODEVICE without root

    async def main() -> None:
        t = udp.BcastTransport(Medium("bcast", "bcast:lo", iface="lo", port=0), 0)
        await t.open(lambda payload, link: None)
        assert t._sock is not None  # opened; our own packets are dropped in Python instead
        await t.close()

    asyncio.run(main())
