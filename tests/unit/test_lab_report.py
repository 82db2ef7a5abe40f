from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.analysis.experiment import (
    ExperimentError,
    load_experiment,
    main,
    percentile,
    run_experiment,
    run_metrics,
    summarize,
)
from lab.analysis.report import read_result, write_run_report
from lab.checks import run_checks
from lab.history.records import load_history
from lab.history.store import new_run_dir
from lab.spec.scenario import Scenario, load_scenario
from tests.unit.lab_history_builder import power_off_history


def store_history(run_dir: Path, builder) -> None:
    """Write a synthetic history the way the runner does: lab, probe, owners and per-node files."""
    files: dict[Path, list[str]] = {}
    for rec in builder.records:
        src = rec["source"]
        path = run_dir / (
            "nodes/" + rec["node"] + "/events.jsonl"
            if src == "node"
            else {"lab": "lab.jsonl", "probe": "probe.jsonl", "owner": "owners.jsonl"}[src]
        )
        files.setdefault(path, []).append(json.dumps(rec))
    for path, lines in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def fake_run(root: Path, scenario: Scenario, seed: int, delay: float = 0.35) -> Path:
    run_dir = new_run_dir(scenario.name, seed, root)
    b = power_off_history()
    # Shift the survivor's first answer to vary the latency between runs.
    for rec in b.records:
        if rec["source"] == "probe" and 3.0 <= rec["mono"] < 3.0 + delay:
            rec["ok"], rec["answer"] = False, None
    store_history(run_dir, b)
    history = load_history(run_dir)
    write_run_report(run_dir, scenario, run_checks(history, scenario.expect))
    return run_dir


def test_write_run_report_writes_json_markdown_and_png(tmp_path: Path):
    scenario = load_scenario("power-off-active")
    run_dir = fake_run(tmp_path, scenario, 3)
    result = read_result(run_dir)
    assert result["scenario"] == "power-off-active" and result["seed"] == 3
    assert result["ok"] is True, [c for c in result["checks"] if not c["ok"]]
    assert {c["name"] for c in result["checks"]} >= {"takeover_latency", "breakdown", "single_owner"}
    md = (run_dir / "report.md").read_text()
    assert md.startswith("# power-off-active: PASS")
    assert "| takeover_latency | ok | 350.0 ms |" in md
    assert "client    answers from bobek" in md and "fault.inject" in md
    png = (run_dir / "timeline.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_failing_run_report_says_fail(tmp_path: Path):
    scenario = load_scenario("power-off-active", ["expect[0].max=100ms"])
    run_dir = fake_run(tmp_path, scenario, 1)
    result = read_result(run_dir)
    assert result["ok"] is False
    assert "**FAIL**" in (run_dir / "report.md").read_text()


def test_read_result_errors_name_the_file(tmp_path: Path):
    with pytest.raises(ValueError, match=r"result\.json: cannot read"):
        read_result(tmp_path)
    (tmp_path / "result.json").write_text("{")
    with pytest.raises(ValueError, match=r"result\.json:1: not JSON"):
        read_result(tmp_path)


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 11)), 95) == pytest.approx(9.55)
    assert percentile([7], 95) == 7


def test_run_metrics_takes_seconds_and_breakdown_phases():
    result = {
        "checks": [
            {"name": "takeover_latency", "unit": "s", "value": 0.3, "values": {"latency_s": 0.3}},
            {"name": "failback", "unit": "transitions", "value": 1, "values": {"transitions": 1}},
            {
                "name": "breakdown",
                "unit": "s",
                "value": 0.35,
                "values": {"detected_s": 0.3, "garp_s": None, "answered_s": 0.35},
            },
        ]
    }
    assert run_metrics(result) == {
        "takeover_latency": 0.3,
        "breakdown": 0.35,
        "breakdown.detected": 0.3,
        "breakdown.answered": 0.35,
    }


def test_run_experiment_with_a_fake_runner(tmp_path: Path):
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    (exp_dir / "experiment.yml").write_text(
        "name: tiny\nscenarios: [power-off-active, soft-stop-standby]\nrepeat: 3\nseed: 5\n"
    )
    seen: list[tuple[str, int]] = []

    def runner(scenario: Scenario, seed: int) -> Path:
        seen.append((scenario.name, seed))
        if scenario.name == "soft-stop-standby":
            raise RuntimeError("fault did not take effect")
        return fake_run(tmp_path / "runs", scenario, seed, delay=0.35 + 0.05 * (seed - 5))

    summary = run_experiment(exp_dir, runner=runner, echo=False)
    assert seen == [
        ("power-off-active", 5),
        ("power-off-active", 6),
        ("power-off-active", 7),
        ("soft-stop-standby", 5),
        ("soft-stop-standby", 6),
        ("soft-stop-standby", 7),
    ]
    power, standby = summary.scenarios
    assert power.passed == 3 and power.attempts == 3
    stats = power.stats()["takeover_latency"]
    assert (stats.min, stats.median, stats.max) == pytest.approx((0.35, 0.4, 0.45))
    assert power.representative("takeover_latency").name.endswith("-6")
    assert standby.passed == 0 and standby.attempts == 3
    assert "fault did not take effect" in standby.failures[0]
    table = summary.to_markdown()
    assert "| power-off-active | 3/3 | takeover_latency | 3 | 350.0 ms | 400.0 ms |" in table
    assert "| soft-stop-standby | 0/3 | - |" in table
    results = exp_dir / "results"
    for name in (
        "summary.md",
        "summary.json",
        "runs.json",
        "latency-power-off-active.png",
        "timeline-power-off-active.png",
    ):
        assert (results / name).exists(), name
    # Re-aggregation reads only stored results.
    assert main([str(exp_dir)]) == 1  # the standby runs failed
    assert json.loads((results / "summary.json").read_text())["scenarios"][0]["passed"] == 3


def test_summarize_counts_unreadable_results_as_failures(tmp_path: Path):
    broken = tmp_path / "power-off-active" / "x"
    broken.mkdir(parents=True)
    summary = summarize([broken])
    assert summary.scenarios[0].attempts == 1 and "cannot read" in summary.scenarios[0].failures[0]


def test_experiment_file_errors(tmp_path: Path):
    (tmp_path / "experiment.yml").write_text("scenarios: []\nrepeat: 0\nbogus: 1\n")
    with pytest.raises(ExperimentError) as info:
        load_experiment(tmp_path)
    lines = [line.split("/", 1)[1] for line in str(info.value).splitlines()]
    assert lines == [
        "experiment.yml: bogus: unknown key (known: name, description, scenarios, repeat, seed, set)",
        "experiment.yml: scenarios: expected a non-empty list of scenario names, got []",
        "experiment.yml: repeat: expected a positive integer, got 0",
    ]


def test_shipped_article_experiment_loads():
    exp = load_experiment("article-test-plan")
    assert exp.repeat == 10 and len(exp.scenarios) == 7
    for name in exp.scenarios:
        load_scenario(name, exp.overrides)
