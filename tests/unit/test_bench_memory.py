"""lab/bench/memory.py: a daemon's processes and their memory from a (fake) /proc, and the bench's table."""

from __future__ import annotations

from pathlib import Path

from lab.bench.memory import daemon_processes, memory_metrics, process_memory, tree_memory
from lab.bench.report import build_cells, memory_lines

ROLLUP = "Rss:   30000 kB\nPss:   18000 kB\nPrivate_Clean:  1000 kB\nPrivate_Dirty:  15000 kB\n"


def fake_proc(root: Path, pid: int, name: str, rss_kb: int, children: tuple[int, ...] = ()) -> None:
    d = root / str(pid)
    (d / "task" / str(pid)).mkdir(parents=True)
    (d / "status").write_text(f"Name:\t{name}\nVmLck:\t{rss_kb} kB\nVmRSS:\t{rss_kb} kB\n")
    (d / "smaps_rollup").write_text(ROLLUP)
    (d / "task" / str(pid) / "children").write_text(" ".join(map(str, children)))


def test_one_process_from_its_status_and_rollup() -> None:
    got = process_memory("Name:\tpython3\nVmRSS:\t  28092 kB\n", ROLLUP)
    assert got == {"comm": "python3", "rss_kb": 28092, "locked_kb": None, "pss_kb": 18000, "uss_kb": 16000}
    assert process_memory("Name:\tx\n", None) == {"comm": "x", "rss_kb": None, "locked_kb": None}


def test_the_daemon_tree_skips_wrappers_and_the_scripts_it_runs(tmp_path: Path) -> None:
    # sh (a wrapper) -> python3 (supervisor) -> python3 (worker) -> sh (a resource script)
    fake_proc(tmp_path, 10, "sh", 1000, (11,))
    fake_proc(tmp_path, 11, "python3", 15000, (12,))
    fake_proc(tmp_path, 12, "python3", 28000, (13,))
    fake_proc(tmp_path, 13, "sh", 900)
    tree = tree_memory(10, proc=tmp_path)
    assert [p["pid"] for p in tree] == [10, 11, 12, 13]
    procs = daemon_processes(tree)
    assert [(p["pid"], p["rss_kb"]) for p in procs] == [(11, 15000), (12, 28000)]
    assert tree_memory(99, proc=tmp_path) == []  # gone (powered off): nothing


def test_metrics_take_the_largest_node_per_role() -> None:
    def proc(rss: int, pss: int, uss: int) -> dict[str, int]:
        return {"rss_kb": rss, "pss_kb": pss, "uss_kb": uss}

    bob = [proc(15000, 9000, 8000), proc(28000, 17000, 15000)]
    bobek = [proc(15500, 9100, 8100), proc(27000, 16000, 14000)]
    m = memory_metrics({"bob": bob, "bobek": bobek})
    assert (m["rss_parent_kb"], m["rss_child_kb"], m["uss_child_kb"]) == (15500, 28000, 15000)
    single = memory_metrics({"bob": [{"rss_kb": 5000}]})  # ucarp: one process
    assert single["rss_parent_kb"] == 5000 and single["rss_child_kb"] is None


def test_the_report_has_a_memory_table_for_steady_only() -> None:
    metrics = {"rss_parent_kb": 15360, "rss_child_kb": 28672, "pss_parent_kb": 9216}
    rows = [
        {"label": "hbd 50/300ms", "kind": "hbd", "scenario": "steady", "metrics": metrics},
        {"label": "hbd 50/300ms", "kind": "hbd", "scenario": "power-off", "metrics": {"rss_parent_kb": 1}},
    ]
    lines = memory_lines(build_cells(rows))
    assert lines[0] == "## memory at idle (end of steady, MB)"
    assert "| hbd 50/300ms | 1 | 15.0 | 9.0 | - | 28.0 | - | - |" in lines
    assert memory_lines(build_cells(rows[1:])) == []
