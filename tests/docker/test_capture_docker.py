"""On Docker the capture is taken on the host side of the networks' bridges: `hblab pcap` decodes both
daemons' heartbeats on each medium and the takeover's GARP, as on netns (tests/lab/test_capture.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.history.store import load_run
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario
from tests.lab.test_capture import hblab_pcap

pytestmark = pytest.mark.docker


def test_a_soft_stop_run_decodes_with_hblab_pcap(hbd_image: str, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario("soft-stop-active"), backend_name="docker", runs_root=short_runs_root)
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    recs = hblab_pcap(result.run_dir)
    hbs = [r for r in recs if r["kind"] == "heartbeat"]
    for link in ("lan", "crossover"):
        assert {r["src"] for r in hbs if r["link"] == link} == {"bob", "bobek"}, link
    assert {r["verdict"] for r in hbs} == {"accept"}
    stop = load_run(result.run_dir).faults("soft_stop")[0].mono
    garps = [r for r in recs if r["kind"] == "arp" and r["arp"] == "garp"]
    before = {r["mac"] for r in garps if r["mono"] < stop}
    after = {r["mac"] for r in garps if r["mono"] > stop}
    assert before and after and before.isdisjoint(after), "bob's GARP, then bobek's after the takeover"
