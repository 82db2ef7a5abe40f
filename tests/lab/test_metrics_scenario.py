"""The `metrics` scenario on real namespaces: hbd_metrics scraped inside each node agrees with events.jsonl
across a power-off, a takeover and the powered-off node's second life."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.history.store import load_run
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

OPERATIONS = ["metrics"]

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


def test_metrics_agree_with_the_events_through_a_power_off_and_a_failback(tmp_path: Path) -> None:
    result = run_scenario(load_scenario("metrics"), backend_name="netns", seed=5, runs_root=tmp_path)
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert result.error is None, result.error
    assert not failed, failed
    history = load_run(result.run_dir)
    last = {node: [s for s in history.scrapes(node) if s.get("ok")][-1] for node in ("bob", "bobek")}
    failovers = {
        node: sum(v for name, _labels, v in s.get("samples") if name == "hbd_failovers_total")
        for node, s in last.items()
    }
    # bobek took the group over from the dead bob once; bob's second life took it back as the home node.
    assert failovers == {"bob": 0, "bobek": 1}
    generations = {
        s.get("samples") and next(v for name, _l, v in s.get("samples") if name == "hbd_generation")
        for s in history.scrapes("bob")
        if s.get("ok")
    }
    assert len(generations) == 2, "bob was scraped in both of its lives"
