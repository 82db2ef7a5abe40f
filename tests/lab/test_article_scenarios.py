"""The article's test plan, each scenario once, on real namespaces with the real daemon: all checks pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

ARTICLE = [
    "soft-stop-active",
    "failback",
    "soft-stop-standby",
    "power-off-active",
    "link-cut-one-medium",
    "link-cut-all",
    "boot-together",
    "ping-node-lost",  # issue 4: heartbeat's ipfail case
]

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


@pytest.mark.parametrize("name", ARTICLE)
def test_article_scenario_passes_its_checks(name: str, tmp_path: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="netns", seed=7, runs_root=tmp_path)
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert result.error is None, result.error
    assert not failed, failed
