"""Root lab test: the media / idle-cost bench end to end at a tiny size (one medium, a 1 s window)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.bench.cost import default_settings, run_media


@pytest.mark.root
def test_media_bench_measures_cpu_and_gaps(short_runs_root: Path, tmp_path: Path) -> None:
    said: list[str] = []
    outputs = run_media(
        default_settings([1], keepalived=False), 1, 1.0, 0.5, tmp_path / "out", short_runs_root, said.append
    )
    assert {p.name for p in outputs} >= {"bench.md", "bench.json"}
    data = json.loads((tmp_path / "out" / "bench.json").read_text())
    (row,) = data["runs"]
    assert not row.get("error"), row.get("error")
    for node in ("bob", "bobek"):
        n = row["nodes"][node]
        assert n["cpu_pct"] > 0 and {p["role"] for p in n["procs"]} >= {"supervisor", "worker"}
        (link,) = n["links"]  # one medium: the crossover
        assert sum(n["links"][link]["counts"]) > 10  # 10 ms keepalive over a 1 s window
    assert "| hbd 10/40ms 1 media | 1 |" in (tmp_path / "out" / "bench.md").read_text()
