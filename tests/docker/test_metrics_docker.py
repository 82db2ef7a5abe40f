"""The `metrics` scenario on Docker: the node image carries prometheus_client (its dependency pins come from
pyproject.toml), every node serves and is scraped inside its container, and the counters agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

pytestmark = pytest.mark.docker


def test_metrics_scenario_passes_on_docker(hbd_image: str, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario("metrics"), backend_name="docker", runs_root=short_runs_root)
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    assert not failed, failed
    agree = next(r for r in result.results if r.name == "metrics_agree")
    assert agree.values["nodes"] == 2 and (agree.values["scrapes"] or 0) >= 6
