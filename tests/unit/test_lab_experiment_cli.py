"""`hblab experiment NAME` leaves the committed results alone unless asked (`--record`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import lab.runner
from lab import cli
from lab.paths import EXPERIMENTS_DIR


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    """A copy of the article's experiment in a temporary experiments folder (name: its directory)."""
    copy = tmp_path / "experiments" / "article-test-plan"
    shutil.copytree(EXPERIMENTS_DIR / "article-test-plan", copy)
    return copy


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    made: list[Path] = []

    def factory(backend_name: str = "netns", runs_root: Path = Path("runs"), progress: object = None):
        def runner(scenario: object, seed: int) -> Path:
            run = runs_root / f"run-{len(made)}"
            run.mkdir(parents=True)
            made.append(run)
            return run

        return runner

    monkeypatch.setattr(lab.runner, "experiment_runner", factory)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return made


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_a_plain_experiment_writes_under_runs_and_keeps_the_recorded_results(
    experiment: Path, fake_runs: list[Path], tmp_path: Path
) -> None:
    before = _snapshot(experiment)
    runs = tmp_path / "runs"
    cli.main(["experiment", str(experiment), "--repeat", "1", "--runs-dir", str(runs)])
    assert fake_runs, "the experiment ran nothing"
    assert _snapshot(experiment) == before
    summaries = list((runs / "experiments" / "article-test-plan").glob("*/summary.md"))
    assert len(summaries) == 1


def test_record_rewrites_the_recorded_results(
    experiment: Path, fake_runs: list[Path], tmp_path: Path
) -> None:
    summary = experiment / "results" / "summary.md"
    before = summary.read_bytes()
    runs = tmp_path / "runs"
    cli.main(["experiment", str(experiment), "--repeat", "1", "--runs-dir", str(runs), "--record"])
    assert summary.read_bytes() != before
    assert not (tmp_path / "runs" / "experiments").exists()
