"""The lab's power switch on Docker: the `daemon: {fencing: on}` scenarios run unchanged with
`--backend docker` (fence_lab in the container, the switch's socket in the bind-mounted run dir, `off` =
the container killed), and their own checks pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.faults.power_switch import SOCKET_NAME
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

pytestmark = pytest.mark.docker

FENCE_SCENARIOS = ["fence-split-brain", "fence-tiebreak-holder", "fence-no-loop"]


@pytest.mark.parametrize("name", FENCE_SCENARIOS)
def test_fence_scenario_passes_on_docker(name: str, hbd_image: str, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    failed = [r for r in result.results if not getattr(r, "ok", False)]
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    checked = {r.check or r.name for r in result.results}
    assert "fences" in checked, f"{name}: the fences check did not run ({checked})"
    # The switch served from the run dir (what the containers see) and is gone after the run.
    assert not (result.run_dir / SOCKET_NAME).exists()
    hacf = (result.run_dir / "nodes" / "bob" / "ha.d" / "ha.cf").read_text()
    assert f"stonith_host * fence_lab socket={result.run_dir / SOCKET_NAME}" in hacf
