"""Delay without netem: the NFQUEUE relay (lab/node/delay_relay.py) measured on a bare veth pair, and the
delay scenarios on real namespaces with the real daemon."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.analysis.pcap import packet_records
from lab.history.store import load_run
from lab.runner import ScenarioRun, run_scenario
from lab.spec.scenario import load_scenario

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]
pytest.importorskip("netfilterqueue")

DELAY = ["delay-past-warntime", "delay-past-deadtime", "jitter-suggested-deadtime"]

# A sender stamps each datagram with time.monotonic() (namespaces share the clock), a receiver records
# the one-way time of each: what the relay adds, as the other side of the cable sees it.
UDP = """
import socket, struct, sys, time, json
if sys.argv[1] == "send":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[3])):
        s.sendto(struct.pack("!Id", i, time.monotonic()), (sys.argv[2], 9999))
        time.sleep(float(sys.argv[4]))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 9999))
    s.settimeout(float(sys.argv[2]))
    got = []
    try:
        while True:
            i, t = struct.unpack("!Id", s.recv(64))
            got.append((i, time.monotonic() - t))
    except socket.timeout:
        pass
    print(json.dumps(got))
"""


def sh(*argv: str, ns: str | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    return subprocess.run(full, capture_output=True, text=True, check=True, timeout=60, **kw)  # type: ignore[call-overload]


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by one veth: 10.8.0.1 (a, eth0) and 10.8.0.2 (b, eth0)."""
    a, b = f"hbldly{os.getpid()}a", f"hbldly{os.getpid()}b"
    sh("ip", "netns", "add", a)
    sh("ip", "netns", "add", b)
    try:
        sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
        for ns, addr in ((a, "10.8.0.1/24"), (b, "10.8.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        sh("ip", "netns", "del", a)
        sh("ip", "netns", "del", b)


def relay_through(
    pair: tuple[str, str], tmp_path: Path, relay_args: list[str], count: int, gap_s: float
) -> tuple[list[tuple[int, float]], dict[str, object]]:
    """Send `count` datagrams a -> b through a relay on a's eth0 (outgoing); (received, relay.end)."""
    a, b = pair
    out = tmp_path / "relay.jsonl"
    argv = ["ip", "netns", "exec", a, sys.executable, "-m", "lab.node.delay_relay", "--iface", "eth0"]
    argv += ["--direction", "out", "--seed", "7", "--out", str(out), *relay_args]
    relay = subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (out.exists() and "relay.ready" in out.read_text()):
            assert relay.poll() is None, relay.stderr.read() if relay.stderr else ""
            assert time.monotonic() < deadline, "relay not ready"
            time.sleep(0.02)
        receiver = subprocess.Popen(
            ["ip", "netns", "exec", b, sys.executable, "-c", UDP, "recv", "3"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.3)
        sh(sys.executable, "-c", UDP, "send", "10.8.0.2", str(count), str(gap_s), ns=a)
        got, _ = receiver.communicate(timeout=60)
    finally:
        relay.terminate()
        relay.wait(10)
    end = [json.loads(line) for line in out.read_text().splitlines() if "relay.end" in line]
    assert end, out.read_text()
    assert "HBLAB_DELAY_eth0" not in sh("iptables", "-S", ns=a).stdout, "the relay removed its chain"
    return [tuple(x) for x in json.loads(got)], end[0]


def test_requested_100_ms_is_what_the_far_end_sees(pair: tuple[str, str], tmp_path: Path) -> None:
    got, end = relay_through(pair, tmp_path, ["--delay-ms", "100"], count=200, gap_s=0.01)
    assert len(got) == 200, "nothing lost"
    ms = sorted(d * 1000 for _i, d in got)
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(
        f"requested 100 ms: min {ms[0]:.2f} median {statistics.median(ms):.2f} p99 {p99:.2f} max {ms[-1]:.2f}"
    )
    print(f"relay's own view: {end}")
    assert ms[0] >= 100.0, "never early"
    assert statistics.median(ms) < 105.0, "late by a few ms at most, typically"
    assert [i for i, _ in got] == sorted(i for i, _ in got), "a constant delay keeps the order"


def test_jitter_reorder_and_duplicates(pair: tuple[str, str], tmp_path: Path) -> None:
    args = ["--delay-ms", "50", "--jitter-ms", "20", "--reorder-pct", "20", "--duplicate-pct", "30"]
    got, end = relay_through(pair, tmp_path, args, count=300, gap_s=0.005)
    firsts = {}
    for i, d in got:
        firsts.setdefault(i, d)
    assert len(firsts) == 300, "every datagram arrives"
    assert end["reordered"] and end["duplicated"], end
    assert len(got) == 300 + end["duplicated"]
    assert 0.2 * 300 < end["duplicated"] < 0.4 * 300, "about 30% sent twice"
    held = [d * 1000 for i, d in firsts.items() if d > 0.01]  # the reordered ones go at once
    assert min(held) >= 30.0 and max(held) < 80.0, (min(held), max(held))
    order = [i for i, _ in got]
    assert order != sorted(order), "jitter and reordering change the order"


@pytest.mark.parametrize("name", ["delay-past-warntime", "delay-past-deadtime"])
def test_delay_scenario_passes_its_checks(name: str, tmp_path: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="netns", seed=7, runs_root=tmp_path)
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert result.error is None, result.error
    assert not failed, failed
    heal = load_run(result.run_dir).select("fault.heal", source="lab")
    assert heal and heal[0].get("via") in ("relay", "netem")


def test_the_suggested_deadtime_survives_the_jitter(tmp_path: Path) -> None:
    """After 3 s of jitter, `hbctl status` on bobek suggests a deadtime; no gap between bob's heartbeats
    over the whole jitter period (read from the run's capture) reaches it."""
    scenario = load_scenario("jitter-suggested-deadtime")
    run = ScenarioRun(scenario, backend_name="netns", seed=7, runs_root=tmp_path)
    inject = next(i for i, s in enumerate(scenario.steps) if s.kind == "inject")
    suggested = None
    run.begin()
    try:
        run.build()
        for index, step in enumerate(scenario.steps):
            run.run_step(index, step)
            if index == inject + 1:  # the first sleep of jitter
                state = run.backend.node_dirs("bobek").state_dir
                argv = [*run.backend.python_argv("hbd.control_cli"), "--state-dir", str(state)]
                status = json.loads(run.backend.exec("bobek", [*argv, "status", "--json"]).stdout)
                suggested = status["peer"]["suggested_deadtime_s"]
    finally:
        run.finish()
    failed = [f"{r.name}: {r.detail}" for r in run.check(scenario.expect) if not r.ok]
    assert not failed, failed
    assert suggested is not None
    history = load_run(run.run_dir)
    start, end = history.faults("delay")[0].mono, history.select("fault.heal", source="lab")[0].mono
    beats = [
        r["mono"]
        for r in packet_records(run.run_dir)
        if r["kind"] == "heartbeat" and r["src"] == "bob" and r["link"] == "lan" and start <= r["mono"] <= end
    ]
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    print(f"suggested deadtime after 3 s: {suggested} s; largest gap over 6 s of jitter: {max(gaps):.3f} s")
    assert len(beats) > 100
    assert max(gaps) < suggested, "a deadtime set to the suggestion would have survived the jitter"
