"""The article's test plan on the Docker backend: every shipped scenario, run once through the lab runner
exactly as on netns, must pass its own checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.runner import run_scenario
from lab.scenario import list_scenarios, load_scenario

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("name", list_scenarios())
def test_scenario_passes_on_docker(name: str, hbd_image: str, tmp_path: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=tmp_path)
    failed = [r for r in result.results if not getattr(r, "ok", False)]
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    assert result.results, f"{name}: no check ran"
