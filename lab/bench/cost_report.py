"""The media / idle-cost bench's outputs: CPU % of one core per node, heartbeat gaps per medium.

Input: rows, one per run: {"label", "kind", "media", "window_s", "nodes": {node: {"cpu_pct", "procs":
[{"role", "comm", "cpu_pct"}], "links": {link: {"counts": [...], "max_ms"}}}}} (lab/bench/cost.py). Pure
apart from write_outputs.

Gap quantiles come from hbd's per-link histogram (hbctl status --json; buckets of GAP_EDGES_MS below), as
upper bounds: the edge of the bucket they fall in. The shares above a bucket edge are exact; the max is
exact (hbd keeps it), over the run since boot.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# hbd's gap histogram edges in ms (hbd.core.peer.GAP_EDGES_MS: the lab reads hbctl's output, never the
# core; tests/unit/test_bench_cost.py checks the two agree). The last bucket is open.
GAP_EDGES_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)

# The target (issue 15): idle CPU at 10 ms keepalive, per node, in % of one core.
IDLE_CPU_TARGET_PCT = 1.5


def bucket_counts(buckets: Mapping[str, int]) -> list[int]:
    """hbctl status's `{"<=10ms": n, ...}` (non-empty buckets only) back to a full count list."""
    labels = [f"<={e:g}ms" for e in GAP_EDGES_MS] + [f">{GAP_EDGES_MS[-1]:g}ms"]
    unknown = set(buckets) - set(labels)
    if unknown:
        raise ValueError(f"unknown gap buckets {sorted(unknown)} (known: {labels})")
    return [int(buckets.get(label, 0)) for label in labels]


def counts_between(before: Sequence[int], after: Sequence[int]) -> list[int]:
    """The gaps recorded between two snapshots of one link's histogram."""
    if len(before) != len(after):
        raise ValueError("histograms of different shapes")
    return [b - a for a, b in zip(before, after, strict=True)]


def gap_quantile_ms(counts: Sequence[int], q: float, max_ms: float) -> float | None:
    """An upper bound of the q-quantile of the gaps in `counts` (per bucket of GAP_EDGES_MS, the last one
    open): the upper edge of the bucket it falls in, or the largest gap seen when that is lower (hbd's own
    GapHistogram.quantile_ms reads it the same way). None without gaps."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside [0, 1]")
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if count and seen >= rank:
            return min(GAP_EDGES_MS[i], max_ms) if i < len(GAP_EDGES_MS) else max_ms
    return max_ms


def share_above(counts: Sequence[int], edge_ms: float) -> float | None:
    """The fraction of gaps above `edge_ms` (one of GAP_EDGES_MS): exact, bucket edges being what they are."""
    if edge_ms not in GAP_EDGES_MS:
        raise ValueError(f"{edge_ms} ms is not a bucket edge ({GAP_EDGES_MS})")
    total = sum(counts)
    if total == 0:
        return None
    return sum(counts[GAP_EDGES_MS.index(edge_ms) + 1 :]) / total


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per setting (label, in first-seen order): CPU per node over runs (median, min, max of the
    per-run node values; both nodes pooled), per-process medians, and per medium the gap quantiles over
    all runs' windows together."""
    out: list[dict[str, Any]] = []
    for label in dict.fromkeys(r["label"] for r in rows):
        runs = [r for r in rows if r["label"] == label and not r.get("error")]
        errors = [str(r["error"]) for r in rows if r["label"] == label and r.get("error")]
        first = next((r for r in rows if r["label"] == label), {})
        node_cpu = [n["cpu_pct"] for r in runs for n in r["nodes"].values()]
        per_node: dict[str, list[float]] = {}
        roles: dict[str, list[float]] = {}
        links: dict[str, dict[str, Any]] = {}
        for r in runs:
            for node, n in r["nodes"].items():
                per_node.setdefault(node, []).append(n["cpu_pct"])
                for p in n["procs"]:
                    roles.setdefault(p["role"], []).append(p["cpu_pct"])
                for link, g in n.get("links", {}).items():
                    acc = links.setdefault(link, {"counts": [0] * (len(GAP_EDGES_MS) + 1), "max_ms": 0.0})
                    acc["counts"] = [a + b for a, b in zip(acc["counts"], g["counts"], strict=True)]
                    acc["max_ms"] = max(acc["max_ms"], g["max_ms"])
        gaps = {
            link: {
                "n": sum(g["counts"]),
                "p50_ms": gap_quantile_ms(g["counts"], 0.5, g["max_ms"]),
                "p99_ms": gap_quantile_ms(g["counts"], 0.99, g["max_ms"]),
                "over_10ms": share_above(g["counts"], 10),
                "over_20ms": share_above(g["counts"], 20),
                "max_ms": g["max_ms"],
            }
            for link, g in sorted(links.items())
        }
        out.append(
            {
                "label": label,
                "kind": first.get("kind"),
                "media": first.get("media"),
                "runs": len(runs),
                "errors": errors,
                "cpu_pct": {
                    "median": _median(node_cpu),
                    "min": min(node_cpu, default=None),
                    "max": max(node_cpu, default=None),
                },
                "cpu_pct_by_node": {node: _median(v) for node, v in per_node.items()},
                "cpu_pct_by_role": {role: _median(v) for role, v in roles.items()},
                "gaps": gaps,
            }
        )
    return out


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.2f} %"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def to_markdown(
    summary: Sequence[dict[str, Any]],
    meta: Mapping[str, Any],
    loads: Sequence[float] = (),
    rows: Sequence[dict[str, Any]] = (),
) -> str:
    lines = [
        "# Idle cost: heartbeat media and CPU per node",
        "",
        f"{meta.get('started', '')}; {meta.get('repeat')} run(s) per setting, CPU over "
        f"{meta.get('window_s')} s of steady state per run (after {meta.get('settle_s')} s to settle), "
        f"{meta.get('cpus')} CPUs. "
        "CPU is utime+stime of the daemon's processes (/proc/PID/stat) in % of one core; per node the "
        "median over runs and both nodes, and the range.",
        "",
        "| setting | media | CPU % per node, median | min | max | by process (median) | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        roles = ", ".join(f"{role} {_num(v)}" for role, v in s["cpu_pct_by_role"].items())
        cpu = s["cpu_pct"]
        runs = f"{s['runs']}" + (f" ({len(s['errors'])} failed)" if s["errors"] else "")
        lines.append(
            f"| {s['label']} | {s['media']} | {_num(cpu['median'])} | {_num(cpu['min'])} "
            f"| {_num(cpu['max'])} | {roles or '-'} | {runs} |"
        )
    if loads:
        lines += ["", f"Load average (1 min) after each run: {min(loads):.1f} to {max(loads):.1f}."]
    lines += [
        "",
        "Heartbeat gaps per medium, as hbd's receivers saw them during the CPU windows (hbctl status "
        "histograms, both nodes pooled). hbd's buckets end at 10 and 20 ms, so p50 and p99 are upper bounds "
        "(the bucket's edge, or the largest gap when lower); the shares above 10 and 20 ms are exact; the "
        "max is exact and counts from boot:",
        "",
        "| setting | medium | gaps | p50 <= ms | p99 <= ms | max ms | > 10 ms | > 20 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        for link, g in s["gaps"].items():
            lines.append(
                f"| {s['label']} | {link} | {g['n']} | {_num(g['p50_ms'], 1)} | {_num(g['p99_ms'], 1)} "
                f"| {_num(g['max_ms'], 1)} | {_pct(g.get('over_10ms'))} | {_pct(g.get('over_20ms'))} |"
            )
    hbd = [s for s in summary if s["kind"] == "hbd" and s["cpu_pct"]["median"] is not None]
    if hbd:
        worst = max(hbd, key=lambda s: s["cpu_pct"]["median"])
        met = "met" if worst["cpu_pct"]["median"] < IDLE_CPU_TARGET_PCT else "missed"
        lines += [
            "",
            f"Target idle CPU < {IDLE_CPU_TARGET_PCT} % of one core per node: {met} "
            f"(highest median: {worst['label']}, {_num(worst['cpu_pct']['median'])} %).",
        ]
    noisy = [
        f"{r['label']} (seed {r.get('seed')}): "
        + ", ".join(f"{node} {n} {name}" for node, c in r["events"].items() for name, n in c.items() if n)
        for r in rows
        if any(n for c in r.get("events", {}).values() for n in c.values())
    ]
    if noisy:
        lines += ["", "Runs that were not idle throughout the window (hbd's events within it):"]
        lines += [f"- {line}" for line in noisy]
    for s in summary:
        for error in s["errors"]:
            lines.append(f"- {s['label']} failed: {error[:300]}")
    return "\n".join(lines) + "\n"


def write_png(summary: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never try a display
    import matplotlib.pyplot as plt

    fig, (ax_cpu, ax_gap) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [
        s["label"] if s["kind"] == "hbd" else f"{s['label']}\n({s['media']} media topology)" for s in summary
    ]
    med = [s["cpu_pct"]["median"] or 0.0 for s in summary]
    low = [m - (s["cpu_pct"]["min"] or m) for m, s in zip(med, summary, strict=True)]
    high = [(s["cpu_pct"]["max"] or m) - m for m, s in zip(med, summary, strict=True)]
    ax_cpu.bar(range(len(summary)), med, yerr=[low, high], capsize=4, color="#4c72b0")
    ax_cpu.axhline(IDLE_CPU_TARGET_PCT, color="#d62728", linestyle="--", label="target")
    ax_cpu.set_xticks(range(len(summary)), labels, fontsize=7)
    ax_cpu.set_ylabel("CPU % of one core per node")
    ax_cpu.set_title("idle CPU (median, min-max)")
    ax_cpu.legend(fontsize=7)
    names, p50, p99, mx = [], [], [], []
    for s in summary:
        for link, g in s["gaps"].items():
            names.append(f"{s['media']}m {link}")
            p50.append(g["p50_ms"] or 0.0)
            p99.append(g["p99_ms"] or 0.0)
            mx.append(g["max_ms"] or 0.0)
    xs = range(len(names))
    ax_gap.bar([x - 0.27 for x in xs], p50, width=0.27, label="p50")
    ax_gap.bar(list(xs), p99, width=0.27, label="p99")
    ax_gap.bar([x + 0.27 for x in xs], mx, width=0.27, label="max")
    ax_gap.set_xticks(list(xs), names, rotation=45, ha="right", fontsize=7)
    ax_gap.set_ylabel("gap between heartbeats, ms")
    ax_gap.set_title("hbd gaps per medium")
    ax_gap.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(rows: Sequence[dict[str, Any]], out_dir: Path, meta: Mapping[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    md, js, png = out_dir / "bench.md", out_dir / "bench.json", out_dir / "bench.png"
    loads = [float(r["loadavg_1m"]) for r in rows if isinstance(r.get("loadavg_1m"), int | float)]
    md.write_text(to_markdown(summary, meta, loads, rows))
    js.write_text(json.dumps({"meta": dict(meta), "summary": summary, "runs": list(rows)}, indent=1) + "\n")
    written = [md, js]
    try:
        write_png(summary, png)
        written.append(png)
    except ImportError as exc:  # no matplotlib: the tables still stand
        md.write_text(md.read_text() + f"\n(no PNG: {exc})\n")
    return written
