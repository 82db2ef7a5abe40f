"""The media / idle-cost bench (lab/bench/cost.py, cost_report.py, proc_cpu.py): /proc parsing, process
trees, gap quantiles from hbd's histograms, the generated topologies, the tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hbd.core.peer import GAP_EDGES_MS as HBD_EDGES
from hbd.core.peer import GapHistogram
from lab.bench import proc_cpu
from lab.bench.cost import BASE_TOPOLOGY, media_topology, node_cost
from lab.bench.cost_report import (
    GAP_EDGES_MS,
    bucket_counts,
    counts_between,
    gap_quantile_ms,
    share_above,
    summarize,
    to_markdown,
)
from lab.spec.topology import parse_topology


def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int) -> str:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    return f"{pid} ({comm}) S {ppid} 1 1 0 -1 4194560 10 0 0 0 {utime} {stime} 0 0 20 0 1 0 5 0 0\n"


def test_parse_stat_counts_fields_after_the_last_parenthesis() -> None:
    s = proc_cpu.parse_stat(stat_line(42, "python3 -m (x) y", 7, 120, 30))
    assert (s.pid, s.ppid, s.comm, s.ticks) == (42, 7, "python3 -m (x) y", 150)


@pytest.mark.parametrize("text", ["", "12 no parens", "12 (x) S 1 2"])
def test_parse_stat_refuses_what_is_not_a_stat_line(text: str) -> None:
    with pytest.raises(ValueError):
        proc_cpu.parse_stat(text)


def test_tree_ticks_and_percent() -> None:
    before = {p.pid: p for p in (proc_cpu.ProcStat(10, 1, "hbd", 5), proc_cpu.ProcStat(11, 10, "hbd", 100))}
    after = {
        p.pid: p
        for p in (
            proc_cpu.ProcStat(10, 1, "hbd", 5),
            proc_cpu.ProcStat(11, 10, "hbd", 130),
            proc_cpu.ProcStat(12, 11, "sh", 4),  # started inside the window: all of it counts
            proc_cpu.ProcStat(13, 1, "other", 999),  # not ours
        )
    }
    tree = proc_cpu.tree(10, after)
    assert sorted(tree) == [10, 11, 12]
    assert proc_cpu.ticks_used(before, tree) == {10: 0, 11: 30, 12: 4}
    assert proc_cpu.percent_of_core(30, 3.0, hz=100) == pytest.approx(10.0)
    cost = node_cost(10, before, after, 3.0, ("supervisor", "worker"))
    roles = {p["role"]: p["cpu_pct"] for p in cost["procs"]}
    assert roles["worker"] == pytest.approx(100.0 * 30 / proc_cpu.CLOCK_TICKS / 3.0)
    assert "child:sh" in roles and roles["supervisor"] == 0.0
    with pytest.raises(ValueError):
        proc_cpu.percent_of_core(1, 0.0)


def test_read_all_reads_this_process() -> None:
    import os

    me = proc_cpu.read_all()[os.getpid()]
    assert me.ppid == os.getppid() and me.ticks >= 0


def test_gap_edges_are_hbds() -> None:
    assert GAP_EDGES_MS == HBD_EDGES


def test_bucket_counts_round_trip_hbds_histogram() -> None:
    h = GapHistogram()
    for gap_s in (0.0101, 0.0102, 0.0099, 0.035, 20.0):
        h.add(gap_s)
    counts = bucket_counts(h.as_dict()["buckets"])  # type: ignore[arg-type]
    assert counts == h.counts
    with pytest.raises(ValueError, match="unknown gap buckets"):
        bucket_counts({"<=7ms": 1})
    assert counts_between([1, 2, 3], [1, 5, 3]) == [0, 3, 0]


def test_gap_quantile_is_the_bucket_edge_or_the_max_and_shares_are_exact() -> None:
    counts = [0] * (len(GAP_EDGES_MS) + 1)
    counts[3], counts[4] = 30, 70  # 30 gaps in (5, 10] ms, 70 in (10, 20] ms
    assert gap_quantile_ms(counts, 0.3, max_ms=25.0) == 10
    assert gap_quantile_ms(counts, 0.5, max_ms=25.0) == 20
    assert gap_quantile_ms(counts, 0.5, max_ms=12.0) == 12.0  # never above the largest gap
    assert share_above(counts, 10) == pytest.approx(0.7) and share_above(counts, 20) == 0.0
    counts[-1] = 1  # one gap in the open bucket (> 10 s)
    assert gap_quantile_ms(counts, 1.0, max_ms=12000.0) == pytest.approx(12000.0)
    assert gap_quantile_ms([0] * len(counts), 0.5, 0.0) is None
    assert share_above([0] * len(counts), 10) is None
    with pytest.raises(ValueError):
        gap_quantile_ms(counts, 1.5, 1.0)
    with pytest.raises(ValueError):
        share_above(counts, 11)


@pytest.mark.parametrize("media", [1, 2, 4])
def test_media_topologies_are_valid_and_carry_that_many_media(media: int, tmp_path: Path) -> None:
    text = yaml.safe_dump(media_topology(media, yaml.safe_load(BASE_TOPOLOGY.read_text())))
    topo = parse_topology(text, tmp_path / f"bench-media-{media}.yaml")
    assert len(topo.heartbeat_segments()) == media
    with pytest.raises(ValueError):
        media_topology(3, {})


def test_summary_and_markdown() -> None:
    counts = [0] * (len(GAP_EDGES_MS) + 1)
    counts[4] = 10
    node = {"cpu_pct": 2.0, "procs": [{"role": "worker", "cpu_pct": 2.0}], "links": {}}
    rows = [
        {
            "label": "hbd 10/40ms 1 media",
            "kind": "hbd",
            "media": 1,
            "nodes": {
                "bob": {**node, "links": {"bcast:eth1": {"counts": counts, "max_ms": 11.0}}},
                "bobek": {**node, "cpu_pct": 1.0},
            },
        },
        {"label": "hbd 10/40ms 1 media", "kind": "hbd", "media": 1, "error": "boom"},
        {"label": "keepalived v3 20ms", "kind": "keepalived", "media": 2, "nodes": {"bob": node}},
    ]
    s = summarize(rows)
    assert s[0]["cpu_pct"] == {"median": 1.5, "min": 1.0, "max": 2.0}
    assert s[0]["gaps"]["bcast:eth1"]["n"] == 10 and s[0]["errors"] == ["boom"]
    md = to_markdown(s, {"repeat": 1, "window_s": 30}, [9.5, 11.0])
    assert "| hbd 10/40ms 1 media | 1 | 1.50 | 1.00 | 2.00 | worker 2.00 | 1 (1 failed) |" in md
    assert "< 1.5 % of one core per node: missed" in md  # 1.5 is not under 1.5
    assert "hbd 10/40ms 1 media failed: boom" in md
    assert "Load average (1 min) after each run: 9.5 to 11.0." in md


def test_runs_that_were_not_idle_are_named(tmp_path: Path) -> None:
    import json

    from lab.bench.cost import count_events

    bob = [("daemon.start", 1.0), ("daemon.stall", 5.0), ("peer.dead", 6.0), ("daemon.stall", 7.0)]
    bobek = [("peer.dead", 12.0)]  # after the window: the teardown stopped bob
    for node, events in (("bob", bob), ("bobek", bobek)):
        state = tmp_path / "nodes" / node / "state"
        state.mkdir(parents=True)
        lines = [json.dumps({"event": e, "mono": t}) for e, t in events] + ["{torn"]
        (state / "events.jsonl").write_text("\n".join(lines) + "\n")
    counts = count_events(tmp_path, 2.0, 10.0)
    assert counts == {
        "bob": {"daemon.stall": 2, "peer.dead": 1},
        "bobek": {"daemon.stall": 0, "peer.dead": 0},
    }
    row = {"label": "hbd 10/40ms 1 media", "kind": "hbd", "media": 1, "seed": 2002, "events": counts}
    row["nodes"] = {"bob": {"cpu_pct": 7.0, "procs": [], "links": {}}}
    md = to_markdown(summarize([row]), {}, (), [row])
    assert "- hbd 10/40ms 1 media (seed 2002): bob 2 daemon.stall, bob 1 peer.dead" in md
