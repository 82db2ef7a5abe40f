"""Built-in IPaddr/IPaddr2 and gratuitous ARP in a namespace pair (root): `a` serves, `b` is the client."""

import asyncio
import os
import time

import pytest

from hbd.config.model import Resource, ResourceGroup
from hbd.resources.group import GroupRunner
from hbd.resources.ipaddr import IpAddrManager, parse_ip_spec
from hbd.resources.runner import ScriptRunner
from tests.integration.hbl_netns import inside, netns_pair, sh

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

VIP = "10.77.2.100"


class Events(list):
    def __call__(self, event, level, **fields):
        self.append((event, level, fields))

    def named(self, name):
        return [f for e, _, f in self if e == name]


@pytest.fixture
def pair():
    with netns_pair("10.77.2") as p:
        yield p


def _addrs(ns, ifname):
    return sh("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", ifname)


def test_start_stop_status_are_idempotent_and_choose_the_interface(pair):
    async def main():
        mgr = IpAddrManager(garp_count=2, garp_interval_s=0.05)
        events = Events()
        spec = parse_ip_spec("IPaddr2", [f"{VIP}"])  # no prefix, no interface: found from 10.77.2.0/24
        assert (await mgr.status(spec)).rc == 3
        first = await mgr.start(spec, events)
        assert first.rc == 0 and pair.if_a in first.detail
        assert f"{VIP}/24 brd 10.77.2.255" in _addrs(pair.a, pair.if_a)
        again = await mgr.start(spec, events)
        assert again.rc == 0 and "already" in again.detail
        assert len(events.named("ip.added")) == 1
        assert (await mgr.status(spec)).rc == 0
        stopped = await mgr.stop(spec, events)
        assert stopped.rc == 0 and VIP not in _addrs(pair.a, pair.if_a)
        removed = events.named("ip.removed")
        assert [(f["ip"], f["iface"]) for f in removed] == [(VIP, pair.if_a)]
        assert (await mgr.stop(spec, events)).detail == f"{VIP} not present"
        assert (await mgr.status(spec)).rc == 3

    with inside(pair.a):
        asyncio.run(main())


def test_explicit_interface_label_and_broadcast(pair):
    async def main():
        mgr = IpAddrManager(garp_count=1)
        spec = parse_ip_spec("IPaddr2", [f"10.99.0.5/28/{pair.if_a}:v/10.99.0.15"])
        result = await mgr.start(spec, Events())
        assert result.rc == 0, result.detail
        shown = _addrs(pair.a, pair.if_a)
        assert "10.99.0.5/28 brd 10.99.0.15" in shown and f"{pair.if_a}:v" in shown
        assert (await mgr.stop(spec, Events())).rc == 0

    with inside(pair.a):
        asyncio.run(main())


def test_address_outside_every_network_is_a_clear_error(pair):
    async def main():
        mgr = IpAddrManager()
        result = await mgr.start(parse_ip_spec("IPaddr", ["192.0.2.77"]), Events())
        assert result.rc == 1
        assert "no configured IPv4 network on any interface contains 192.0.2.77" in result.detail
        result = await mgr.start(parse_ip_spec("IPaddr2", ["10.77.2.9/24/hblnosuch0"]), Events())
        assert result.rc == 1 and "interface hblnosuch0 does not exist" in result.detail

    with inside(pair.a):
        asyncio.run(main())


def test_gratuitous_arp_moves_the_clients_neighbour_entry(pair):
    old_mac = "02:00:00:00:00:99"
    sh("ip", "-n", pair.b, "neigh", "replace", VIP, "lladdr", old_mac, "dev", pair.if_b, "nud", "stale")
    time.sleep(1.1)  # past the neighbour locktime (1 s), so the kernel accepts an override
    mac_a = pair.mac(pair.a, pair.if_a)

    async def main():
        runner = ScriptRunner([], timeout_s=5)
        runner.ipaddr.garp_count, runner.ipaddr.garp_interval_s = 3, 0.1
        events = Events()
        groups = GroupRunner(runner, "alice", events)
        group = ResourceGroup("alice", (Resource("IPaddr", (VIP,)),))
        before = time.monotonic()
        result = await groups.start(group, "test takeover")
        assert result.ok, result.detail
        garp = events.named("garp.sent")
        assert len(garp) == 1 and garp[0]["iface"] == pair.if_a and garp[0]["mac"] == mac_a
        assert garp[0]["first_mono"] >= before
        burst = runner.ipaddr.bursts[VIP]
        await asyncio.wait_for(burst.done, 10)
        assert burst.packets_sent == 6 and burst.errors == 0
        entry = sh("ip", "-n", pair.b, "neigh", "show", VIP, "dev", pair.if_b)
        assert mac_a in entry and old_mac not in entry
        stop = await groups.stop(group, "test release")
        assert stop.ok and VIP not in _addrs(pair.a, pair.if_a)

    with inside(pair.a):
        asyncio.run(main())


def test_stop_cancels_a_burst_in_flight(pair):
    async def main():
        mgr = IpAddrManager(garp_count=50, garp_interval_s=0.2)
        spec = parse_ip_spec("IPaddr", [VIP])
        assert (await mgr.start(spec, Events())).rc == 0
        burst = mgr.bursts[VIP]
        await mgr.stop(spec, Events())
        assert burst.done.done() and burst.announcements < 50

    with inside(pair.a):
        asyncio.run(main())


def test_many_addresses_are_all_up_before_the_first_arp_and_events_keep_their_times(pair):
    vips = [parse_ip_spec("IPaddr", [f"10.77.2.{i}"]) for i in (101, 102, 103)]

    async def main():
        mgr = IpAddrManager(garp_count=1)
        events = Events()
        before = time.monotonic()
        outcomes = await mgr.start_many(vips, events)
        assert [o.rc for o in outcomes] == [0, 0, 0], outcomes
        assert [e for e, _, _ in events] == ["ip.added"] * 3 + ["garp.sent"] * 3
        added = [f["mono"] for f in events.named("ip.added")]
        first_arp = min(f["first_mono"] for f in events.named("garp.sent"))
        assert before <= added[0] <= added[1] <= added[2] <= first_arp  # stamped when done, not when written
        shown = _addrs(pair.a, pair.if_a)
        assert all(f"{v.ip}/24" in shown for v in vips)
        stopped = await mgr.stop_many(list(reversed(vips)), events)
        assert [o.rc for o in stopped] == [0, 0, 0]
        assert [f["ip"] for f in events.named("ip.removed")] == [v.ip for v in reversed(vips)]
        assert not any(v.ip in _addrs(pair.a, pair.if_a) for v in vips)

    with inside(pair.a):
        asyncio.run(main())


def test_a_batch_start_stops_at_the_first_address_it_cannot_add(pair):
    good, bad, later = (parse_ip_spec("IPaddr", [ip]) for ip in ("10.77.2.111", "192.0.2.7", "10.77.2.112"))

    async def main():
        mgr = IpAddrManager(garp_count=1)
        outcomes = await mgr.start_many([good, bad, later], Events())
        assert [o.rc for o in outcomes] == [0, 1] and "192.0.2.7" in outcomes[1].detail
        shown = _addrs(pair.a, pair.if_a)
        assert "10.77.2.111/24" in shown and "10.77.2.112" not in shown
        assert [o.rc for o in await mgr.stop_many([good], Events())] == [0]

    with inside(pair.a):
        asyncio.run(main())
