"""Root lab test: `hblab soak` end to end in seconds (no stress): a worker process, the shared start, two
power-offs of whoever holds the VIP, each node booted again, roles alternating, the figures and the
outputs written, everything torn down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.bench.soak import main_soak
from lab.spec.names import RunNames
from tests.lab.conftest import netns_list


@pytest.mark.root
def test_mini_soak_powers_off_the_active_node_twice_and_roles_alternate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["--only", "hbd 50/300ms", "--minutes", "0.1", "--period", "3", "--reboot", "1", "--no-stress"]
    assert main_soak([*argv, "--out", str(out), "--runs-root", str(tmp_path / "runs")]) == 0
    data = json.loads((out / "soak.json").read_text())
    [row] = data["rows"]
    run_id = json.loads((Path(row["run_dir"]) / "lab-run.json").read_text())["run_id"]
    assert not [n for n in netns_list() if n.startswith(RunNames(run_id).prefix)]
    assert row["label"] == "hbd 50/300ms" and row["params"]["auto_failback"] == "off"
    assert (row["power_offs"], row["takeovers"], row["missed_takeovers"]) == (2, 2, 0)
    assert len(row["takeover_gaps_s"]) == 2 and all(g > 0 for g in row["takeover_gaps_s"])
    assert row["outage_s"] >= row["real_outage_s"] > 0 and row["outage_per_hour_s"] > 0
    offs = [
        json.loads(line)["node"]
        for line in (Path(row["run_dir"]) / "lab.jsonl").read_text().splitlines()
        if '"power_off"' in line and '"fault.inject"' in line
    ]
    assert offs == ["bob", "bobek"]  # auto_failback off: the survivor stays active and is hit next
    assert (out / "soak.md").exists() and (out / "soak.png").stat().st_size > 0
