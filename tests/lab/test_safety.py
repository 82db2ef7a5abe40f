"""Issue 4's scenarios in real namespaces with hbd: redundant media, fencing, shared-disk data safety.

Each scenario runs once and every one of its checks must pass; a few verdicts are also asserted directly
(who fenced whom, the fenced node waiting for the operator, the damage split brain does to the disk).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.history.records import load_history
from lab.history.shared_disk import with_disk_records
from lab.runner import RunResult, run_scenario
from lab.spec.scenario import load_scenario

from .conftest import netns_list

LINK_CUTS = [
    "link-cut-lan",
    "link-cut-serial",
    "link-cut-lan-crossover",
    "link-cut-lan-serial",
    "link-cut-crossover-serial",
]
SAFETY_SCENARIOS = [
    "fence-split-brain",
    "fence-no-loop",
    "fence-tiebreak-holder",
    "shared-disk-failover",
    "shared-disk-split-brain-fenced",
    "shared-disk-split-brain-unfenced",
]  # each run below by its own test, with verdicts of its own


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A SHORT runs root: hbd's control socket lives in <run dir>/nodes/<node>/state/control.sock and a unix
    socket path has at most 107 bytes; pytest's own tmp_path is too long for it (`AF_UNIX path too long`)."""
    root = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(name: str, tmp_path: Path) -> RunResult:
    result = run_scenario(load_scenario(name), runs_root=tmp_path)
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert not failed, f"{name}: {failed} (run dir {result.run_dir})"
    # The run's namespaces are gone (only ours are looked at: other labs may run in parallel).
    run_id = json.loads((result.run_dir / "lab-run.json").read_text())["run_id"]
    assert not [ns for ns in netns_list() if ns.startswith(f"hbl{run_id}-")]
    return result


def node_events(result: RunResult, node: str, event: str) -> list[dict]:
    path = result.run_dir / "nodes" / node / "events.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("event") == event]


@pytest.mark.parametrize("name", LINK_CUTS)
def test_a_medium_left_means_no_failover_and_the_cut_link_is_named(name, tmp_path):
    result = run(name, tmp_path)
    assert {r.check for r in result.results} >= {"no_failover", "links_down_only", "link_down_named"}


def test_all_media_cut_with_fencing_the_holder_fences_and_there_is_never_a_second_owner(tmp_path):
    result = run("fence-split-brain", tmp_path)
    by_name = {r.name: r for r in result.results}
    assert by_name["single_owner"].value == 0
    assert node_events(result, "bob", "fence.ok")
    assert not node_events(result, "bobek", "fence.ok")  # the waiting side was powered off first


def test_the_fenced_node_boots_without_fencing_back(tmp_path):
    result = run("fence-no-loop", tmp_path)
    assert node_events(result, "bobek", "fence.wait_operator")
    assert not node_events(result, "bobek", "fence.start")
    assert node_events(result, "bobek", "peer.up")  # contact again once the media healed


def test_the_tie_break_follows_the_groups_not_the_names(tmp_path):
    result = run("fence-tiebreak-holder", tmp_path)
    assert node_events(result, "bobek", "fence.ok")
    assert not node_events(result, "bob", "fence.ok")


def test_shared_disk_failover_keeps_every_acknowledged_record(tmp_path):
    result = run("shared-disk-failover", tmp_path)
    acked = next(r for r in result.results if r.check == "acked_records")
    assert acked.values["acked"] > 0 and acked.values["lost"] == 0


def test_shared_disk_with_fencing_survives_the_cut(tmp_path):
    run("shared-disk-split-brain-fenced", tmp_path)


def test_shared_disk_without_fencing_shows_the_damage(tmp_path):
    result = run("shared-disk-split-brain-unfenced", tmp_path)
    history = with_disk_records(load_history(result.run_dir), result.run_dir)
    writers = {r.get("writer_node") for r in history.select("disk.ack", source="disk")}
    assert writers == {"bob", "bobek"}
