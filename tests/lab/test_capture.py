"""A scenario run records its segments from the switch side, and `hblab pcap` decodes the recording:
heartbeats of both daemons on each medium (accepted with the run's authkeys), the powered-off node's
heartbeats up to its power-off, and the survivor's GARP for the VIP after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.history.store import load_run
from lab.paths import PROJECT_ROOT
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


def hblab_pcap(run_dir: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "lab.cli", "pcap", "--json", str(run_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_a_power_off_run_decodes_with_hblab_pcap(tmp_path: Path) -> None:
    result = run_scenario(
        load_scenario("power-off-active"), backend_name="netns", seed=11, runs_root=tmp_path
    )
    assert result.error is None, result.error
    recs = hblab_pcap(result.run_dir)
    hbs = [r for r in recs if r["kind"] == "heartbeat"]
    for link in ("lan", "crossover"):
        assert {r["src"] for r in hbs if r["link"] == link} == {"bob", "bobek"}, link
    assert {r["verdict"] for r in hbs} == {"accept"}

    off = load_run(result.run_dir).faults("power_off")[0].mono
    last_bob = max(r["mono"] for r in hbs if r["src"] == "bob")
    # bob's last heartbeat is on file and precedes the power-off by at most a keepalive (50 ms) + slack
    assert off - 0.2 < last_bob <= off + 0.01, (off, last_bob)

    garps = [r for r in recs if r["kind"] == "arp" and r["arp"] == "garp"]
    before = {r["mac"] for r in garps if r["mono"] < off}
    after = [r for r in garps if r["mono"] > off]
    assert before and after, "the GARP of bob's boot and of bobek's takeover"
    assert {r["mac"] for r in after}.isdisjoint(before), "the takeover's GARP comes from bobek's MAC"
    assert all(r["ip"] == "192.168.77.50" for r in garps)
