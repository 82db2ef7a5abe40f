"""Every fault injects, verifies and heals on a dummy lab (sleep as the daemon: no hbd needed); the freeze
also on a real, supervised hbd."""

import json
import time
from random import Random

import pytest

from lab import faults
from lab.faults import HEARTBEAT_UDP_PORT, FaultContext, FaultError
from lab.runner import run_scenario
from lab.spec.scenario import parse_scenario

from .conftest import reach


@pytest.fixture
def ctx(lab):
    backend, daemons, log = lab
    return FaultContext(backend, backend.topology, daemons, log.write, Random(1), keepalive_s=0.05)


def records(ctx):
    path = ctx.backend.lab_dir / "lab.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_soft_stop_waits_for_exit_and_heal_boots_again(ctx):
    old = ctx.daemons.pid("bob")
    [rec] = faults.inject(ctx, {"fault": "soft_stop", "node": "bob"})
    assert rec["event"] == "fault.inject" and rec["pid"] == old and rec["verified_mono"] >= rec["mono"]
    assert 0 <= rec["phase_wait_s"] < 0.05
    assert ctx.daemons.pid("bob") is None and not ctx.backend.alive(old)
    faults.heal(ctx, {"fault": "soft_stop", "node": "bob"})
    assert ctx.daemons.pid("bob") not in (None, old)


def test_soft_stop_without_a_daemon_fails(ctx):
    faults.inject(ctx, {"fault": "soft_stop", "node": "bob"})
    with pytest.raises(FaultError, match="no daemon"):
        faults.inject(ctx, {"fault": "soft_stop", "node": "bob"})


def test_power_off_and_on(ctx):
    [rec] = faults.inject(ctx, {"fault": "power_off", "node": "bob"})
    assert rec["node"] == "bob" and ctx.backend.pids("bob") == []
    assert not ctx.backend.link_state("bob", "eth0").carrier
    [rec] = faults.heal(ctx, {"fault": "power_off"})
    assert rec["event"] == "fault.heal" and ctx.daemons.pid("bob") is not None
    assert ctx.backend.link_state("bob", "eth0").carrier


def test_boot_together(ctx):
    faults.inject(ctx, {"fault": "power_off", "nodes": ["bob", "bobek"]})
    [rec] = faults.inject(ctx, {"fault": "boot_together", "nodes": ["bob", "bobek"]})
    assert rec["fault"] == "boot_together" and set(rec["pids"]) == {"bob", "bobek"}
    assert all(ctx.daemons.pid(n) for n in ("bob", "bobek"))
    assert any(r["event"] == "boot" and r["together"] for r in records(ctx))


@pytest.mark.parametrize("how", ["down", "drop", "pull"])
def test_link_cut_three_ways(ctx, how):
    assert reach(ctx.backend, "bob", "10.77.0.2") == "refused"
    [rec] = faults.inject(ctx, {"fault": "link_cut", "link": "crossover", "how": how})
    assert (rec["node"], rec["iface"], rec["how"]) == ("bob", "eth1", how)
    assert reach(ctx.backend, "bob", "10.77.0.2", timeout_s=0.3) == "unreachable"
    state = ctx.backend.link_state("bob", "eth1")
    if how == "down":
        assert not state.admin_up
    if how == "pull":
        assert not state.attached and not state.carrier
    if how == "drop":
        assert state.carrier
    assert reach(ctx.backend, "client", "192.168.77.11") == "refused"  # only that cable
    [healed] = faults.heal(ctx, {"fault": "link_cut"})  # the heal reuses the inject's `how`
    assert healed["how"] == how
    assert reach(ctx.backend, "bob", "10.77.0.2") == "refused"


def test_link_heal_alias_and_one_way_drop(ctx):
    faults.inject(
        ctx, {"fault": "link_cut", "link": "crossover", "how": "drop", "direction": "in", "node": "bobek"}
    )
    assert reach(ctx.backend, "bob", "10.77.0.2", timeout_s=0.3) == "unreachable"
    faults.inject(ctx, {"fault": "link_heal", "link": "crossover"})
    assert reach(ctx.backend, "bob", "10.77.0.2") == "refused"


def test_cut_heartbeat_keeps_the_service_lan(ctx):
    [rec] = faults.inject(ctx, {"fault": "cut_heartbeat", "node": "bob"})
    assert rec["ifaces"] == ["eth0", "eth1"] and rec["serial"] == ["nullmodem"]
    assert not ctx.backend.serial_relaying("nullmodem")
    assert reach(ctx.backend, "client", "192.168.77.11") == "refused"  # the LAN still serves clients
    assert reach(ctx.backend, "bob", "10.77.0.2", timeout_s=0.3) == "unreachable"  # the crossover is gone
    table = ctx.backend.exec("bob", ["nft", "list", "table", "inet", "hblab_drop_eth0"]).stdout
    assert f"udp dport {HEARTBEAT_UDP_PORT} drop" in table
    faults.heal(ctx, {"fault": "cut_heartbeat"})
    assert reach(ctx.backend, "bob", "10.77.0.2") == "refused"
    assert ctx.backend.serial_relaying("nullmodem")


def test_cut_heartbeat_drops_the_scenarios_udpport(ctx):
    ctx.udpport = 700  # daemon: {udpport: 700}: the heartbeats no longer use 694
    faults.inject(ctx, {"fault": "cut_heartbeat", "node": "bob"})
    table = ctx.backend.exec("bob", ["nft", "list", "table", "inet", "hblab_drop_eth0"]).stdout
    assert "udp dport 700 drop" in table
    faults.heal(ctx, {"fault": "cut_heartbeat"})


def test_serial_cut_and_heal(ctx):
    import os

    a = os.open(ctx.backend.serial_device("bob", "ttyS0"), os.O_RDWR | os.O_NOCTTY)
    b = os.open(ctx.backend.serial_device("bobek", "ttyS0"), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        faults.inject(ctx, {"fault": "serial_cut", "link": "nullmodem"})
        assert not ctx.backend.serial_relaying("nullmodem")
        os.write(a, b"lost\n")
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            os.read(b, 100)
        faults.inject(ctx, {"fault": "serial_heal", "link": "nullmodem"})
        os.write(a, b"ping\n")
        deadline = time.monotonic() + 5
        data = b""
        while b"ping" not in data and time.monotonic() < deadline:
            try:
                data += os.read(b, 100)
            except BlockingIOError:
                time.sleep(0.01)
        assert b"ping" in data
    finally:
        os.close(a)
        os.close(b)


def test_loss_installs_and_removes_a_numgen_rule(ctx):
    [rec] = faults.inject(ctx, {"fault": "loss", "link": "lan", "node": "bob", "percent": 50})
    assert rec["iface"] == "eth0"
    table = ctx.backend.exec("bob", ["nft", "list", "table", "inet", "hblab_loss_eth0"]).stdout
    assert "numgen random mod 100 < 50" in table
    faults.heal(ctx, {"fault": "loss"})
    faults.inject(ctx, {"fault": "loss", "link": "lan", "node": "bob", "percent": 100})
    assert reach(ctx.backend, "client", "192.168.77.11", timeout_s=0.3) == "unreachable"
    faults.heal(ctx, {"fault": "loss"})
    assert reach(ctx.backend, "client", "192.168.77.11") == "refused"
    assert ctx.backend.exec("bob", ["nft", "list", "ruleset"]).stdout.strip() == ""


def test_delay_uses_netem_or_else_the_nfqueue_relay(ctx):
    netem = ctx.backend.kernel_features()["netem"]
    [rec] = faults.inject(ctx, {"fault": "delay", "link": "lan", "node": "bob", "ms": 150})
    assert rec["via"] == ("netem" if netem else "relay")
    if not netem:
        assert "HBLAB_DELAY_eth0" in ctx.backend.exec("bob", ["iptables", "-S"]).stdout
    assert reach(ctx.backend, "client", "192.168.77.11", timeout_s=2.0) == "refused"  # bob's RST, late
    [healed] = faults.heal(ctx, {"fault": "delay"})
    assert "HBLAB_DELAY" not in ctx.backend.exec("bob", ["iptables", "-S"]).stdout
    if not netem:
        assert healed["packets"] >= 1 and healed["released"] == healed["packets"], healed
        with pytest.raises(FaultError, match="no netem"):
            faults.inject(ctx, {"fault": "delay", "link": "lan", "node": "bob", "ms": 20, "via": "netem"})


def test_freeze_thaws_after_ms(ctx):
    pid = ctx.daemons.pid("bob")
    faults.inject(ctx, {"fault": "freeze", "node": "bob", "ms": 200})
    assert ctx.backend.stopped(pid)
    deadline = time.monotonic() + 10
    while ctx.backend.stopped(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ctx.backend.stopped(pid)
    heals = [r for r in records(ctx) if r["event"] == "fault.heal" and r["fault"] == "freeze"]
    assert len(heals) == 1


def test_freeze_until_heal(ctx):
    pid = ctx.daemons.pid("bobek")
    faults.inject(ctx, {"fault": "freeze", "node": "bobek"})
    assert ctx.backend.stopped(pid)
    faults.heal(ctx, {"fault": "freeze", "node": "bobek"})
    assert not ctx.backend.stopped(pid)


FREEZE_HBD = {
    "name": "freeze-hbd",
    "topology": "two-node",
    "daemon": {"keepalive": "50ms", "deadtime": "300ms", "warntime": "150ms", "initdead": "2s"},
    "steps": [
        {"boot": ["bob", "bobek"]},
        {"wait_for": {"event": "group.active", "node": "bob", "within": "10s"}},
        {"sleep": "300ms"},
        {"inject": {"fault": "freeze", "node": "bob", "ms": 1000}},
        {"wait_for": {"event": "peer.dead", "node": "bobek", "within": "3s"}},
        {"sleep": "2s"},  # thawed meanwhile: bob runs again
    ],
    "expect": [],
}


def test_freeze_stops_a_supervised_hbd_worker_and_its_heartbeats(short_runs_root):
    """hbd runs as a supervisor and a worker: stopping the supervisor alone (the pid the lab started) left
    the worker heartbeating. Both must stop, so the peer sees silence, and both must run again."""
    result = run_scenario(parse_scenario(FREEZE_HBD, "freeze-hbd"), runs_root=short_runs_root)
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    lab = [json.loads(line) for line in (result.run_dir / "lab.jsonl").read_text().splitlines()]
    [inject] = [r for r in lab if r.get("event") == "fault.inject" and r.get("fault") == "freeze"]
    [heal] = [r for r in lab if r.get("event") == "fault.heal" and r.get("fault") == "freeze"]
    assert inject["supervisor_pid"] is not None and inject["worker_pid"] != inject["supervisor_pid"]

    def events(node):
        path = result.run_dir / "nodes" / node / "state" / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    # bobek heard nothing from bob during the freeze: it declared it dead before the thaw
    dead = [e for e in events("bobek") if e["event"] == "peer.dead"]
    assert dead and inject["mono"] < dead[0]["mono"] < heal["mono"]
    # bob's worker itself did not run: it noticed its own heartbeat was about a second late once thawed
    stalls = [e for e in events("bob") if e["event"] == "daemon.stall" and e["mono"] > heal["mono"]]
    assert stalls and stalls[0]["late_s"] > 0.5
    assert not [e for e in events("bob") if e["event"] == "daemon.restarted"]  # thawed, not restarted


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fault": "earthquake"}, "unknown fault"),
        ({"fault": "power_off", "node": "bob", "force": 1}, "unknown parameter"),
        ({"fault": "power_off", "node": "bobik"}, "unknown node"),
        ({"fault": "link_cut", "link": "wan"}, "no LAN or link"),
        ({"fault": "link_cut", "link": "crossover", "how": "cut"}, "how: expected one of down, drop, pull"),
        ({"fault": "loss", "link": "lan", "percent": 0}, r"percent: expected an integer in \[1, 100\]"),
    ],
)
def test_bad_fault_parameters_fail_clearly(ctx, params, message):
    with pytest.raises(FaultError, match=message):
        faults.inject(ctx, params)
