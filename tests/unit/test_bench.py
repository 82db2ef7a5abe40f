"""Bench: peer configuration rendering, per-run metrics on synthetic histories, table and ratio math."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from lab.backends.base import LabError
from lab.bench.metrics import ratio, run_metrics, summarize_values
from lab.bench.peers.base import PeerError, PeerNode, peer_nodes
from lab.bench.peers.heartbeat import HeartbeatDriver, render_hacf, render_haresources
from lab.bench.peers.keepalived import advert_text, render_conf, version_for
from lab.bench.peers.ucarp import UcarpDriver
from lab.bench.report import build_cells, ratios, to_markdown
from lab.bench.suite import DEFAULT_SETTINGS, bench_scenario, select_settings
from lab.spec.topology import load_topology
from tests.unit.lab_history_builder import HistoryBuilder


def node(home: bool = True, root: Path = Path("/tmp/x")) -> PeerNode:
    return PeerNode(
        name="bob" if home else "bobek",
        peer="bobek" if home else "bob",
        home=home,
        vip=ipaddress.IPv4Interface("192.168.77.50/24"),
        vip_iface="eth0",
        hb_iface="eth1",
        hb_ip=ipaddress.IPv4Interface("10.77.0.1/30" if home else "10.77.0.2/30"),
        peer_hb_ip=ipaddress.IPv4Interface("10.77.0.2/30" if home else "10.77.0.1/30"),
        media_ifaces=("eth0", "eth1"),
        root=root,
    )


# -- peer nodes from the topology ------------------------------------------------------------------


def test_peer_nodes_from_bench_topology() -> None:
    topo = load_topology("bench-two-node")
    nodes = peer_nodes(topo, {"bob": Path("/r/bob"), "bobek": Path("/r/bobek")})
    assert nodes["bob"].home and not nodes["bobek"].home
    assert (nodes["bob"].hb_iface, str(nodes["bob"].peer_hb_ip.ip)) == ("eth1", "10.77.0.2")
    assert nodes["bobek"].vip_iface == "eth0"
    assert nodes["bob"].media_ifaces == ("eth0", "eth1")


def test_peer_nodes_needs_a_point_to_point_link() -> None:
    with pytest.raises(PeerError, match="point-to-point"):
        peer_nodes(load_topology("two-node-lan-only"), {"bob": Path("/a"), "bobek": Path("/b")})


# -- keepalived -----------------------------------------------------------------------------------


def test_keepalived_subsecond_is_vrrpv3_in_centiseconds() -> None:
    conf = render_conf(node(), {"advert": "20ms", "rt_priority": 50}, "s3cret-key")
    assert "vrrp_version 3" in conf and "advert_int 0.02" in conf
    assert "vrrp_rt_priority 50" in conf and "authentication" not in conf
    assert "state MASTER" in conf and "priority 150" in conf
    assert "unicast_peer {\n        10.77.0.2\n    }" in conf
    assert "192.168.77.50/24 dev eth0" in conf and "interface eth1" in conf


def test_keepalived_nopreempt_starts_both_as_backup() -> None:
    """The soak's roles alternate: nopreempt, which keepalived honours only in state BACKUP."""
    conf = render_conf(node(), {"advert": "20ms", "nopreempt": True}, "k")
    assert "state BACKUP" in conf and "nopreempt" in conf and "priority 150" in conf
    assert "nopreempt" not in render_conf(node(), {"advert": "20ms"}, "k")


def test_keepalived_v2_whole_seconds_with_auth() -> None:
    conf = render_conf(node(home=False), {"advert": 1, "version": 2}, "s3cret-key")
    assert "vrrp_version 2" in conf and "advert_int 1\n" in conf and "auth_pass s3cret-k" in conf
    assert "state BACKUP" in conf and "priority 100" in conf


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"advert": 0.5, "version": 2}, "whole seconds"),
        ({"advert": 0.005}, "at least 0.01"),
        ({"advert": 1, "version": 4}, "2 or 3"),
        ({"advert": "fast"}, "advert"),
    ],
)
def test_keepalived_bad_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(PeerError, match=message):
        render_conf(node(), settings, "k")


def test_keepalived_bad_rt_priority() -> None:
    with pytest.raises(PeerError, match="rt_priority"):
        render_conf(node(), {"advert": 1, "rt_priority": 200}, "k")


def test_advert_text() -> None:
    assert (advert_text(1.0), advert_text(0.1), advert_text(0.05)) == ("1", "0.10", "0.05")
    assert version_for({"advert": 2}) == 2 and version_for({"advert": 0.1}) == 3


# -- heartbeat --------------------------------------------------------------------------------------


def test_heartbeat_hacf_and_haresources() -> None:
    text = render_hacf(node(), ("bob", "bobek"), {"keepalive": "200ms", "deadtime": "1s"})
    lines = text.splitlines()
    assert "keepalive 200ms" in lines and "deadtime 1000ms" in lines and "initdead 2000ms" in lines
    assert lines.index("udpport 694") < lines.index("bcast eth0 eth1")
    assert "node bob bobek" in lines and "crm off" in lines and "auto_failback on" in lines
    assert render_haresources("bob", node()) == "bob IPaddr::192.168.77.50/24/eth0\n"


def test_heartbeat_refuses_keepalive_above_deadtime() -> None:
    with pytest.raises(PeerError, match="below deadtime"):
        render_hacf(node(), ("bob", "bobek"), {"keepalive": "2s", "deadtime": "1s"})


def test_heartbeat_runs_in_its_own_mount_and_uts_namespace(tmp_path: Path) -> None:
    argv = HeartbeatDriver().argv(node(root=tmp_path), {})
    assert argv[:3] == ["unshare", "--mount", "--uts"]
    assert argv[-1] == str(tmp_path / "peer" / "start-heartbeat")


# -- ucarp ------------------------------------------------------------------------------------------


def test_ucarp_argv_and_scripts(tmp_path: Path) -> None:
    n = node(home=False, root=tmp_path)
    driver = UcarpDriver()
    driver.render(n, {"advbase": 1}, "abcdef0123456789xyz")
    argv = driver.argv(n, {"advbase": 1})
    assert "--interface=eth1" in argv and "--srcip=10.77.0.2" in argv and "--addr=192.168.77.50" in argv
    assert "--advskew=10" in argv and "--shutdown" in argv and "--preempt" in argv
    up = (tmp_path / "peer" / "vip-up").read_text()
    assert "ip addr add 192.168.77.50/24 dev eth0" in up and "arping" in up
    assert "ip addr del 192.168.77.50/24 dev eth0" in (tmp_path / "peer" / "vip-down").read_text()
    assert (tmp_path / "peer" / "pass").read_text() == "abcdef0123456789\n"


def test_ucarp_advbase_whole_seconds(tmp_path: Path) -> None:
    with pytest.raises(PeerError, match="advbase"):
        UcarpDriver().render(node(root=tmp_path), {"advbase": 0.5}, "k")


# -- scenarios and settings -------------------------------------------------------------------------


def test_bench_scenario_takes_the_hbd_setting_and_the_stress_duration() -> None:
    hbd = DEFAULT_SETTINGS[0]
    sc = bench_scenario("stress", hbd, stress_s=90.0)
    assert sc.daemon["keepalive"] == "10ms" and sc.daemon["realtime"] == "on"
    sleeps = [s.args for s in sc.steps if s.kind == "sleep"]
    assert {"duration_s": 90.0} in sleeps
    peer = bench_scenario("power-off", select_settings(["ucarp"])[0])
    assert peer.topology == "bench-two-node"


def test_select_settings_unknown() -> None:
    with pytest.raises(LabError, match="matches no setting"):
        select_settings(["nosuchdaemon"])


# -- metrics ----------------------------------------------------------------------------------------


def power_off_history() -> HistoryBuilder:
    h = HistoryBuilder()
    h.owners(0.0, 1.0, ["bob"]).owners(1.0, 1.2, []).owners(1.2, 2.0, ["bobek"])
    h.fault(1.0, "power_off", node="bob")
    h.probes(0.5, 1.0, "bob").probes(1.0, 1.25, None).probes(1.25, 2.0, "bobek")
    h.node(1.15, "bobek", "peer.dead", peer="bob")
    return h


def test_power_off_metrics() -> None:
    m = run_metrics(power_off_history().build(), "power-off")
    assert m["takeover_s"] == pytest.approx(0.25, abs=1e-6)
    assert m["detect_to_answer_s"] == pytest.approx(0.10, abs=1e-6)
    assert m["vip_moved_s"] == pytest.approx(0.2, abs=1e-6)
    assert m["false_failovers"] == 0


def test_teardown_after_the_last_probe_is_not_measured() -> None:
    h = HistoryBuilder()
    h.owners(0.0, 3.0, ["bob"]).owners(3.0, 3.2, ["bobek"])  # bob's namespace went first at teardown
    h.probes(0.1, 2.9, "bob")
    m = run_metrics(h.build(), "steady")
    assert m["false_failovers"] == 0 and m["dual_owner_s"] == 0


def test_steady_flap_counts_false_failovers() -> None:
    h = HistoryBuilder()
    h.owners(0.0, 1.0, ["bob"]).owners(1.0, 1.5, ["bobek"]).owners(1.5, 3.0, ["bob"])
    h.probes(0.1, 3.0, "bob")  # probing starts once bob holds the VIP
    h.node(0.9, "bobek", "peer.warn", peer="bob", gap_s=0.03)
    m = run_metrics(h.build(), "steady")
    assert m["false_failovers"] == 2 and m["takeover_s"] is None and m["late_warnings"] == 1


def test_setup_before_the_first_probe_is_not_measured() -> None:
    # ucarp: both nodes master at boot for a moment, before probing starts; then a clean steady run.
    h = HistoryBuilder()
    h.owners(0.0, 0.5, ["bob", "bobek"]).owners(0.5, 1.0, ["bob"]).owners(1.0, 1.2, ["bob", "bobek"])
    h.owners(1.2, 3.0, ["bob"])
    h.probes(1.1, 3.0, "bob")
    m = run_metrics(h.build(), "steady")
    assert m["dual_owner_s"] == pytest.approx(0.1, abs=1e-6)  # only the part inside the window
    assert m["false_failovers"] == 0


def test_link_cut_split_brain_and_heal_outage() -> None:
    h = HistoryBuilder()
    h.owners(0.0, 1.3, ["bob"]).owners(1.3, 2.0, ["bob", "bobek"])
    h.owners(2.0, 2.5, []).owners(2.5, 4.0, ["bob"])
    h.fault(1.0, "cut_heartbeat", node="bob")
    h.records.append({"mono": 1.9, "source": "lab", "event": "fault.heal", "fault": "cut_heartbeat"})
    h.probes(0.0, 2.0, "bob").probes(2.0, 2.6, None).probes(2.6, 4.0, "bob")
    m = run_metrics(h.build(), "link-cut")
    assert m["takeover_s"] == pytest.approx(0.3, abs=1e-6)
    assert m["dual_owner_s"] == pytest.approx(0.7, abs=1e-6)
    assert m["outage_s"] == pytest.approx(0.605, abs=1e-3)
    assert m["heal_gap_s"] == pytest.approx(0.605, abs=1e-3)  # owners settle at 2.5: the gap is the heal's


def test_heal_gap_leaves_out_the_noise_after_the_owner_settled() -> None:
    h = HistoryBuilder()
    h.owners(0.0, 1.3, ["bob"]).owners(1.3, 2.1, ["bob", "bobek"]).owners(2.1, 6.0, ["bob"])
    h.fault(1.0, "cut_heartbeat", node="bob")
    h.records.append({"mono": 2.0, "source": "lab", "event": "fault.heal", "fault": "cut_heartbeat"})
    h.probes(0.0, 1.3, "bob").probes(1.3, 2.09, "bobek").probes(2.09, 2.11, None).probes(2.11, 4.0, "bob")
    h.probes(4.0, 4.05, None).probes(4.05, 6.0, "bob")  # a hiccup long after the heal
    m = run_metrics(h.build(), "link-cut")
    assert m["outage_s"] == pytest.approx(0.05, abs=6e-3)
    assert m["heal_gap_s"] == pytest.approx(0.02, abs=6e-3)


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="unknown bench scenario"):
        run_metrics(power_off_history().build(), "reboot")


# -- table and ratios -------------------------------------------------------------------------------


def row(label: str, kind: str, scenario: str, takeover: float, outage: float = 0.1) -> dict[str, Any]:
    metrics = {"takeover_s": takeover, "outage_s": outage, "dual_owner_s": 0.0, "false_failovers": 0}
    return {"label": label, "kind": kind, "scenario": scenario, "metrics": metrics}


def test_summary_and_ratio() -> None:
    s = summarize_values([0.05, 0.06, 0.07, 0.5])
    assert s["median"] == pytest.approx(0.065) and s["max"] == 0.5 and s["n"] == 4
    assert s["p95"] == pytest.approx(0.5 - 0.05 * (0.5 - 0.07) * 3, rel=1e-6)
    assert summarize_values([])["median"] is None
    assert ratio(0.05, 0.2) == 0.25 and ratio(None, 1.0) is None and ratio(1.0, 0.0) is None


def test_ratios_and_markdown() -> None:
    rows = [
        row("hbd 10/40ms", "hbd", "power-off", 0.05),
        row("hbd 10/40ms", "hbd", "power-off", 0.07),
        row("keepalived v3 20ms", "keepalived", "power-off", 0.08),
        row("keepalived v3 20ms", "keepalived", "power-off", 0.04),
        {"label": "ucarp 1s", "kind": "ucarp", "scenario": "power-off", "error": "boom"},
    ]
    cells = build_cells(rows)
    r = ratios(cells, "hbd 10/40ms")
    assert r["power-off"]["keepalived v3 20ms"]["takeover"] == pytest.approx(1.0)
    assert r["power-off"]["ucarp 1s"]["takeover"] is None  # no successful run
    md = to_markdown(cells, "hbd 10/40ms", ["power-off"], {"repeat": 2, "stress_minutes": 0})
    assert "| hbd 10/40ms | 2 | 50.0 | 60.0 |" in md
    assert "| ucarp 1s | 0 (1 failed) |" in md and "boom" in md
