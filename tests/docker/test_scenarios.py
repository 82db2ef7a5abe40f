"""The article's test plan on the Docker backend: each of its scenarios, run once through the lab runner
exactly as on netns, must pass its own checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

pytestmark = pytest.mark.docker

PLAN = Path(__file__).resolve().parents[2] / "experiments" / "article-test-plan" / "experiment.yml"
ARTICLE_SCENARIOS = yaml.safe_load(PLAN.read_text())["scenarios"]


@pytest.mark.parametrize("name", ARTICLE_SCENARIOS)
def test_scenario_passes_on_docker(name: str, hbd_image: str, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    failed = [r for r in result.results if not getattr(r, "ok", False)]
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    assert result.results, f"{name}: no check ran"
