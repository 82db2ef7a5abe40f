"""An experiment's summary keeps the checks counted in other units than time (acked_rows: rows lost)."""

from __future__ import annotations

from lab.analysis.experiment import ScenarioSummary, Summary, run_counts, run_metrics

RESULT = {
    "checks": [
        {"name": "sql_takeover_latency", "unit": "s", "value": 1.2, "values": {"latency_s": 1.2}},
        {"name": "acked_rows", "unit": "rows", "value": 221, "values": {"acked": 753, "lost": 221}},
        {"name": "single_owner", "unit": "s", "value": 0.0, "values": {}},
        {"name": "bad_news", "unit": "", "value": 0, "values": {}},
    ]
}


def test_run_counts_takes_the_other_units_and_run_metrics_keeps_time() -> None:
    assert run_counts(RESULT) == {
        "acked_rows": ("rows", 221.0),
        "acked_rows.acked": ("rows", 753.0),
        "acked_rows.lost": ("rows", 221.0),
    }
    assert "acked_rows" not in run_metrics(RESULT)


def test_the_summary_shows_counts_per_run() -> None:
    s = ScenarioSummary("db-replication-async-power-off", attempts=2, passed=2)
    s.metrics["sql_takeover_latency"] = [1.2, 1.3]
    s.counts["acked_rows"] = [221.0, 190.0]
    s.count_units["acked_rows"] = "rows"
    summary = Summary([s])
    text = summary.to_markdown()
    assert "| db-replication-async-power-off | acked_rows | rows | 2 | 190 | 205.5 | 221 | 221, 190 |" in text
    counts = summary.to_json()["scenarios"][0]["counts"]
    assert counts == {"acked_rows": {"unit": "rows", "values": [221.0, 190.0]}}
