"""A recorded lab run's events, turned back into a scenario by `hblab incident` (issue 13), reproduce the
original ownership timeline when that scenario runs: the same owner changes per group, in the same order,
ending on the same node, and no split brain where the original had none."""

from __future__ import annotations

from pathlib import Path

from lab.analysis.incident import draft_scenario
from lab.checks.ownership import group_owners
from lab.history.store import load_run
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

ORIGINAL = "power-off-active"


def owner_changes(run_dir: Path) -> dict[str, list[str]]:
    out = {}
    for group, seq in group_owners(load_run(run_dir)).items():
        path: list[str] = []
        for _, node in seq:
            if not path or path[-1] != node:
                path.append(node)
        out[group] = path
    return out


def test_a_recorded_power_off_replays_to_the_same_ownership_timeline(short_runs_root: Path) -> None:
    original = run_scenario(load_scenario(ORIGINAL), runs_root=short_runs_root, seed=3)
    assert original.ok, f"{original.error} (run dir {original.run_dir})"
    events = sorted((original.run_dir / "nodes").glob("*/events.jsonl"))
    scenario = load_scenario(ORIGINAL)
    daemon = {k: str(v) for k, v in scenario.daemon.items()}
    text = draft_scenario(events, "replay", scenario.topology, daemon)
    assert "fault: power_off, node: bob" in text and "# TODO:" not in text, text
    path = short_runs_root / "replay.yaml"
    path.write_text(text)
    replay = run_scenario(load_scenario(path), runs_root=short_runs_root, seed=3)
    assert replay.error is None, f"{replay.error} (run dir {replay.run_dir})"
    failed = [f"{r.name}: {r.detail}" for r in replay.results if not r.ok]
    assert not failed, f"{failed}\n{text}(run dir {replay.run_dir})"
    assert (
        owner_changes(replay.run_dir)
        == owner_changes(original.run_dir)
        == {"hblab-service::8080::www": ["bob", "bobek"]}
    )
