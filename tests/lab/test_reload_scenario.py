"""Issue 14's reload in real namespaces with hbd: the key-rotation scenario (three reloads on both nodes).

Every check of the scenario must pass; the records also show that each reload changed only the keys and
that the daemons' workers were never restarted.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

from .conftest import netns_list

RELOAD = ["key-rotation"]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_key_rotation_by_reload_loses_no_packet_and_moves_nothing(short_runs_root: Path) -> None:
    result = run_scenario(load_scenario("key-rotation"), runs_root=short_runs_root)
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert not failed, f"{failed} (run dir {result.run_dir})"
    run_id = json.loads((result.run_dir / "lab-run.json").read_text())["run_id"]
    assert not [ns for ns in netns_list() if ns.startswith(f"hbl{run_id}-")]
    injected = [r for r in records(result.run_dir / "lab.jsonl") if r.get("event") == "fault.inject"]
    assert [r["fault"] for r in injected] == ["reload"] * 3
    for node in ("bob", "bobek"):
        events = records(result.run_dir / f"nodes/{node}/state/events.jsonl")
        reloads = [e for e in events if e["event"] == "config.reloaded"]
        assert [r["changed"] for r in reloads] == [
            {"auth": ["keys added: 2"]},
            {"auth": ["signing key 1 -> 2"]},
            {"auth": ["keys removed: 1"]},
        ]
        assert sum(e["event"] == "daemon.start" for e in events) == 1  # one worker all along
