"""`daemon: pacemaker` on the Docker backend: the cluster `hbd export pacemaker` makes of the lab's hbd files
runs in the pacemaker node image and passes the checks hbd passes. Only the two light scenarios here
(about a minute each); the rest of the comparison is experiments/pacemaker-migration."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.runner import run_scenario
from lab.spec.scenario import load_scenario
from tests.marks import long_unless

pytestmark = pytest.mark.docker

# The shipped Pacemaker scenarios (lab/scenarios), docker only (tests/unit/test_shipped_scenarios.py).
PACEMAKER = ("pacemaker-power-off", "pacemaker-partition")


@pytest.fixture(scope="session")
def pacemaker_image(engine: object) -> str:
    from lab.backends.docker.image import ensure_image

    return ensure_image("pacemaker")


@pytest.mark.parametrize("name", long_unless(PACEMAKER, kept=["pacemaker-power-off"]))
def test_pacemaker_scenario_passes(name: str, pacemaker_image: str, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    failed = [r for r in result.results if not getattr(r, "ok", False)]
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    assert {r.name for r in result.results} >= {"single_owner", "takeover_latency"}
