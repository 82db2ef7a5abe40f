"""The scapy attacks on the Docker backend (issue 11): junk_flood, capture and replay run in the containers
(the node image has scapy: lab/backends/docker/image.py NODE_LAB_EXTRAS), the same scenarios as on netns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.runner import run_scenario
from lab.spec.scenario import load_scenario
from tests.marks import long_unless

pytestmark = pytest.mark.docker


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


ATTACKS = ("junk-flood", "replay-after-restart")  # the flood runs in make test on netns


@pytest.mark.parametrize("name", long_unless(ATTACKS, kept=["replay-after-restart"]))
def test_attack_scenario_passes_on_docker(name: str, hbd_image: str, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert not failed and result.results, f"{name}: {failed} (run dir {result.run_dir})"
    if name == "junk-flood":  # the flood really went out from the client container: 100/s for 20 s
        end = [r for r in records(result.run_dir / "nodes/client/flood.jsonl") if r["event"] == "flood.end"]
        assert end and end[-1]["sent"] >= 1900 and end[-1]["errors"] == 0
    else:  # captured in the client container, replayed from it, refused by bob
        lab = records(result.run_dir / "lab.jsonl")
        healed = [r for r in lab if r.get("event") == "fault.heal" and r.get("fault") == "capture"]
        assert healed and healed[0]["packets"] > 0
        replay = records(result.run_dir / "nodes/client/replay.jsonl")
        assert [r for r in replay if r["event"] == "replay.end" and r["sent"] > 0]
        bob = records(result.run_dir / "nodes/bob/state/events.jsonl")
        assert any(e.get("reason") == "stale_request" for e in bob), "the replay reached bob and was refused"
