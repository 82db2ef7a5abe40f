"""Issue 14's resource monitoring in real namespaces with hbd (ha.cf hbd_monitor through the scenario's
`daemon: {monitor: ...}`): a killed service restarted in place, killed again and handed to the peer, a hung
status check killed at its timeout. Every check must pass; the measured numbers are asserted from the records.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from .test_hardening_scenarios import records, run

MONITOR = ["monitor-restart", "monitor-migrate", "monitor-hang"]


def node_events(run_dir: Path, node: str, name: str) -> list[dict]:
    return [e for e in records(run_dir / f"nodes/{node}/state/events.jsonl") if e["event"] == name]


def largest_gap_s(run_dir: Path, after: float) -> float:
    """The client's longest wait between two answered probes, for waits that end after `after` (mono): the
    gap a fault opens starts at the last answer before it."""
    answered = sorted(r["mono"] for r in records(run_dir / "probe.jsonl") if r.get("ok"))
    return max((b - a for a, b in itertools.pairwise(answered) if b > after), default=0.0)


@pytest.mark.parametrize("name", MONITOR)
def test_monitor_scenario(name: str, short_runs_root: Path) -> None:
    result = run(name, short_runs_root)
    run_dir = result.run_dir
    injected = [r for r in records(run_dir / "lab.jsonl") if r.get("event") == "fault.inject"]
    failed = node_events(run_dir, "bob", "monitor.failed")
    assert failed and all(f["resource"].startswith("hblab-service::") for f in failed)
    assert node_events(run_dir, "bobek", "monitor.failed") == []  # only the holder checks
    if name in ("monitor-restart", "monitor-hang"):
        (done,) = node_events(run_dir, "bob", "group.restart.done")
        assert done["ok"] is True
        assert node_events(run_dir, "bobek", "group.acquire.start") == []
        gap = largest_gap_s(run_dir, injected[0]["mono"])
        print(f"{name}: client gap {gap:.3f} s, restart {done['duration_s']:.3f} s")
        assert gap < 1.0
    if name == "monitor-restart":
        assert failed[0]["rc"] == 3 and failed[0]["result"] == "failed"
    if name == "monitor-hang":
        (hang,) = failed
        assert hang["result"] == "timeout"
        waited = hang["mono"] - injected[0]["mono"]
        # the hung check started within one 200 ms interval of the fault and was killed at its 500 ms timeout
        assert 0.5 <= waited < 0.2 + 0.5 + 0.5, waited
    if name == "monitor-migrate":
        assert [f["next"] for f in failed] == ["restart", "migrate"]
        (migrate,) = node_events(run_dir, "bob", "group.migrate")
        assert "restarts exhausted (2 failures within 60 s)" in migrate["cause"]
        (acquire,) = node_events(run_dir, "bobek", "group.acquire.start")
        assert acquire["mono"] > migrate["mono"]
        took = node_events(run_dir, "bobek", "group.active")[0]["mono"] - injected[1]["mono"]
        print(f"{name}: second kill -> group active on bobek after {took:.3f} s")
