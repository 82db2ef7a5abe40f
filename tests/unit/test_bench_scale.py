"""The scale bench: its generated configuration (lab/bench/scale.py) and report (scale_report.py)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from lab.bench.peers.base import PeerNode
from lab.bench.scale import LAN, NODE_IPS, Case, _proc_tree, hbd_groups, keepalived_conf, topology_text, vips
from lab.bench.scale_report import cells, markdown
from lab.spec.topology import parse_topology


def test_vips_stay_on_the_labs_own_lan_and_miss_the_nodes():
    got = vips(1000)
    assert len(set(got)) == 1000
    assert all(v.ip in LAN and v.network == LAN for v in got)
    assert not {str(v.ip) for v in got} & set(NODE_IPS.values())
    assert vips(10) == got[:10]  # the same addresses in every case: the last of n is the probed one


def test_more_vips_than_the_lan_holds_is_an_error():
    with pytest.raises(ValueError, match="room for"):
        vips(2000)
    with pytest.raises(ValueError):
        vips(0)


def test_generated_topology_probes_the_last_vip(tmp_path: Path):
    topo = parse_topology(topology_text(Case("vips", 100)), tmp_path / "t.yaml")
    assert [g.vip for g in topo.groups] == [vips(100)[-1]]
    assert {n.name for n in topo.servers} == {"bob", "bobek"} and topo.client is not None


def test_hbd_gets_the_probed_vip_last():
    one = hbd_groups(Case("vips", 3), "bob", "eth0")
    assert len(one) == 1 and [r.spec for r in one[0].resources][-1] == f"IPaddr::{vips(3)[-1].ip}/22/eth0"
    many = hbd_groups(Case("groups", 3), "bob", "eth0")
    assert [len(g.resources) for g in many] == [1, 1, 1]
    assert many[-1].resources[0].args == (f"{vips(3)[-1].ip}/22/eth0",)


def _node(home: bool) -> PeerNode:
    return PeerNode(
        "bob",
        "bobek",
        home,
        vips(1)[0],
        "eth0",
        "eth1",
        ipaddress.IPv4Interface("10.77.0.1/30"),
        ipaddress.IPv4Interface("10.77.0.2/30"),
        ("eth0", "eth1"),
        Path("/nonexistent"),
    )


def test_keepalived_one_instance_lists_the_probed_vip_last_past_twenty_as_excluded():
    conf = keepalived_conf(Case("vips", 25), _node(True), {"advert": 0.1, "rt_priority": 50})
    assert conf.count("vrrp_instance") == 1 and "virtual_ipaddress_excluded" in conf
    addrs = [line.split()[0] for line in conf.splitlines() if line.strip().endswith("dev eth0")]
    assert addrs == [str(v) for v in vips(25)]
    assert "vrrp_rlimit_rttime" in conf and "state MASTER" in conf


def test_keepalived_one_instance_per_group_with_its_own_router_id():
    conf = keepalived_conf(Case("groups", 3), _node(False), {"advert": 0.1})
    assert [f"virtual_router_id {i}" in conf for i in (1, 2, 3)] == [True] * 3
    assert conf.rstrip().endswith(f"{vips(3)[-1]} dev eth0\n    }}\n}}".rstrip())
    with pytest.raises(ValueError, match="255"):
        keepalived_conf(Case("groups", 300), _node(False), {"advert": 0.1})


def test_proc_tree_is_the_daemon_and_its_descendants_only():
    me = os.getpid()
    assert _proc_tree(me, [me, 1]) == [me]  # pid 1 is not our child


def test_report_summarises_per_case_fault_and_setting():
    def row(t: float, last: bool) -> dict:
        usage = {"bob": {"cpu_pct": 1.0, "rss_mb": 40.0}, "bobek": {"cpu_pct": 2.0, "rss_mb": 41.0}}
        m = {"takeover_s": t, "probed_last": last, "usage": usage, "garp_spread_s": 0.001}
        return {"case": "vips 10", "shape": "vips", "n": 10, "label": "hbd", "kind": "hbd",
                "scenario": "soft-stop", "metrics": m}

    summary = cells([row(0.010, True), row(0.030, True), row(0.020, False)])
    (c,) = summary
    assert c["takeover_median_s"] == 0.020 and c["takeover_max_s"] == 0.030 and c["runs"] == 3
    assert c["bobek_rss_mb"] == 41.0 and c["probed_last"] == [True, True, False]
    text = markdown(summary, {"started": "t", "repeat": 3, "cpus": 2, "lan": str(LAN)})
    assert "| vips 10 | soft-stop | hbd | 3 | 20.0 | 30.0 |" in text and "| 2/3 |" in text


def _frame(op: int, sender: str, target: str) -> bytes:
    import socket
    import struct

    mac = bytes.fromhex("020000000001")
    eth = b"\xff" * 6 + mac + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac + socket.inet_aton(sender)
    return eth + arp + b"\x00" * 6 + socket.inet_aton(target)


def test_arp_watch_keeps_gratuitous_arp_only():
    from lab.node.arp_watch import parse_garp

    assert parse_garp(_frame(2, "192.168.76.1", "192.168.76.1")) == {
        "ip": "192.168.76.1",
        "mac": "02:00:00:00:00:01",
        "op": 2,
    }
    assert parse_garp(_frame(1, "192.168.76.100", "192.168.76.1")) is None  # an ordinary who-has
    assert parse_garp(b"\x00" * 60) is None


def test_garp_seen_counts_from_the_fault(tmp_path: Path):
    import json

    from lab.bench.scale import ARP_FILE, garp_seen
    from lab.history.records import history_from_records

    lines = [
        {"mono": 9.0, "source": "arp", "event": "garp", "ip": "a", "mac": "m", "op": 1},  # the boot's
        {"mono": 10.1, "source": "arp", "event": "garp", "ip": "a", "mac": "m", "op": 1},
        {"mono": 10.2, "source": "arp", "event": "garp", "ip": "b", "mac": "m", "op": 1},
        {"mono": 10.9, "source": "arp", "event": "garp", "ip": "a", "mac": "m", "op": 1},
    ]
    (tmp_path / ARP_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines))
    fault = {"mono": 10.0, "source": "lab", "event": "fault.inject", "fault": "power_off", "node": "bob"}
    got = garp_seen(tmp_path, history_from_records([fault]))
    assert got["arp_frames"] == 3 and got["arp_vips"] == 2
    assert abs(got["arp_all_announced_s"] - 0.2) < 1e-9 and abs(got["arp_burst_s"] - 0.8) < 1e-9
