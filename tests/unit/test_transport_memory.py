import asyncio

import pytest

from hbd.transport.base import Transport, TransportError
from hbd.transport.memory import MemoryHub


def _pair(hub: MemoryHub, name: str = "bcast:eth1"):
    got: dict[str, list[tuple[bytes, str]]] = {"a": [], "b": []}
    a = hub.transport(name, node="a")
    b = hub.transport(name, node="b")
    return a, b, got


async def _open(a, b, got):
    await a.open(lambda p, link: got["a"].append((p, link)))
    await b.open(lambda p, link: got["b"].append((p, link)))


def test_sync_delivery_reaches_the_others_not_the_sender():
    async def main():
        hub = MemoryHub()
        a, b, got = _pair(hub)
        c = hub.transport("bcast:eth1", node="c")
        seen_c = []
        await c.open(lambda p, link: seen_c.append(p))
        await _open(a, b, got)
        assert isinstance(a, Transport)
        a.send(b"hello")
        assert got == {"a": [], "b": [(b"hello", "bcast:eth1")]}
        assert seen_c == [b"hello"]
        assert a.stats["sent"] == 1 and b.stats["received"] == 1

    asyncio.run(main())


def test_links_are_separate_broadcast_domains():
    async def main():
        hub = MemoryHub()
        a1 = hub.transport("bcast:eth1", node="a")
        b2 = hub.transport("bcast:eth2", node="b")
        seen = []
        await a1.open(lambda p, link: None)
        await b2.open(lambda p, link: seen.append(p))
        a1.send(b"x")
        assert seen == []

    asyncio.run(main())


def test_one_way_cut_and_heal():
    async def main():
        hub = MemoryHub()
        a, b, got = _pair(hub)
        await _open(a, b, got)
        hub.cut("bcast:eth1", from_node="a")
        a.send(b"lost")
        b.send(b"kept")
        assert got["b"] == [] and got["a"] == [(b"kept", "bcast:eth1")]
        hub.heal("bcast:eth1", from_node="a")
        a.send(b"back")
        assert got["b"] == [(b"back", "bcast:eth1")]
        assert hub.dropped == 1

    asyncio.run(main())


def test_whole_link_cut_is_healed_by_plain_heal():
    async def main():
        hub = MemoryHub()
        a, b, got = _pair(hub)
        await _open(a, b, got)
        hub.cut("bcast:eth1", to_node="b")
        hub.cut("bcast:eth1")
        a.send(b"1")
        b.send(b"2")
        hub.heal("bcast:eth1")
        a.send(b"3")
        assert got == {"a": [], "b": [(b"3", "bcast:eth1")]}

    asyncio.run(main())


def test_drop_next_loses_exactly_n():
    async def main():
        hub = MemoryHub()
        a, b, got = _pair(hub)
        await _open(a, b, got)
        hub.drop_next("bcast:eth1", 2)
        for i in range(4):
            a.send(bytes([i]))
        assert [p for p, _ in got["b"]] == [b"\x02", b"\x03"]

    asyncio.run(main())


def test_loop_mode_delivers_later_not_inside_send():
    async def main():
        hub = MemoryHub(mode="loop")
        a, b, got = _pair(hub)
        await _open(a, b, got)
        a.send(b"p")
        assert got["b"] == []
        await asyncio.sleep(0)
        assert got["b"] == [(b"p", "bcast:eth1")]

    asyncio.run(main())


def test_manual_mode_reorders_and_discards():
    async def main():
        hub = MemoryHub(mode="manual")
        a, b, got = _pair(hub)
        await _open(a, b, got)
        a.send(b"1")
        a.send(b"2")
        a.send(b"3")
        assert [p.payload for p in hub.pending] == [b"1", b"2", b"3"]
        hub.deliver(2)
        hub.discard(0)
        assert hub.deliver() == 1
        assert [p for p, _ in got["b"]] == [b"3", b"2"]
        assert hub.dropped == 1

    asyncio.run(main())


def test_closed_transport_neither_sends_nor_receives():
    async def main():
        hub = MemoryHub(mode="manual")
        a, b, got = _pair(hub)
        await _open(a, b, got)
        a.send(b"in flight")
        await b.close()
        hub.deliver()
        b.send(b"x")
        assert got["b"] == [] and got["a"] == []
        assert b.stats["send_errors"] == 1

    asyncio.run(main())


def test_bad_use_is_reported_clearly():
    hub = MemoryHub()
    hub.transport("l", node="a")
    with pytest.raises(TransportError, match="already has a transport"):
        hub.transport("l", node="a")
    with pytest.raises(TransportError, match="no such memory link 'nope'"):
        hub.cut("nope")
