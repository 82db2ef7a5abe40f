"""Issue 11's hardening scenarios in real namespaces with hbd: attacks on the heartbeat port (junk flood,
replay after a restart), a killed worker, dead services, failing resources, an unwritable state dir.

Each runs once and every check must pass; a few verdicts are also asserted on the records directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.runner import RunResult, run_scenario
from lab.spec.scenario import load_scenario

from .conftest import netns_list

HARDENING = [
    "junk-flood",
    "replay-after-restart",
    "daemon-kill-active",
    "service-kill",
    "start-failure-on-takeover",
    "stop-failure",
    "stop-failure-fenced",
    "stop-failure-cleanup",
    "stop-failure-worker-killed",
    "state-dir-full",
]
KNOWN_FAILING: dict[str, str] = {}  # name -> why it fails today (strict xfail: a fix is noticed)


def run(name: str, tmp_path: Path) -> RunResult:
    result = run_scenario(load_scenario(name), runs_root=tmp_path)
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert not failed, f"{name}: {failed} (run dir {result.run_dir})"
    run_id = json.loads((result.run_dir / "lab-run.json").read_text())["run_id"]
    assert not [ns for ns in netns_list() if ns.startswith(f"hbl{run_id}-")]
    return result


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[n]))
        if n in KNOWN_FAILING
        else n
        for n in HARDENING
    ],
)
def test_hardening_scenario(name: str, short_runs_root: Path) -> None:
    result = run(name, short_runs_root)
    lab = records(result.run_dir / "lab.jsonl")
    injected = [r for r in lab if r.get("event") == "fault.inject"]
    assert injected, "every hardening scenario injects something"
    if name == "junk-flood":
        end = [r for r in records(result.run_dir / "nodes/client/flood.jsonl") if r["event"] == "flood.end"]
        assert end and end[-1]["sent"] >= 1900 and end[-1]["errors"] == 0  # 100/s for 20 s really went out
    if name == "daemon-kill-active":
        kill = next(r for r in injected if r["fault"] == "daemon_kill")
        assert kill["supervisor_pid"] is not None and kill["worker_pid"] != kill["supervisor_pid"]
    if name.startswith("stop-failure"):
        bob = records(result.run_dir / "nodes/bob/state/events.jsonl")
        stuck = [e for e in bob if e["event"] == "group.stop_failed"]
        assert stuck and stuck[0]["level"] == "CRITICAL" and stuck[0]["shutting_down"] is True
        assert "hbctl cleanup" in stuck[0]["remedy"]
        stopped = [e["mono"] for e in bob if e["event"] == "node.stopped"]
        if name == "stop-failure-cleanup":  # released by the retried stop, then (only then) taken over
            released = [e["mono"] for e in bob if e["event"] == "group.released"]
            bobek = records(result.run_dir / "nodes/bobek/state/events.jsonl")
            acquired = [e["mono"] for e in bobek if e["event"] == "group.acquire.start"]
            assert released and stopped and acquired and released[0] <= stopped[0] <= acquired[0]
        else:
            assert not stopped
        if name == "stop-failure-worker-killed":  # the restarted worker could not stop it and holds it
            kill = max(r["mono"] for r in injected if r["fault"] == "daemon_kill")
            reconcile = [e for e in bob if e["event"] == "daemon.reconcile" and e["mono"] > kill]
            assert reconcile and reconcile[0]["released"] is False and reconcile[0]["level"] == "CRITICAL"
            assert [e for e in stuck if e["mono"] > reconcile[0]["mono"]]
    if name == "replay-after-restart":
        events = records(result.run_dir / "nodes/bob/state/events.jsonl")
        assert any(e.get("reason") == "stale_request" for e in events), (
            "the replay reached bob and was refused"
        )
