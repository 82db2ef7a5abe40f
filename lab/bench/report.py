"""The bench's outputs: per setting and scenario statistics, ratios hbd/peer, markdown, JSON and a PNG.

Input: rows of (setting label, kind, scenario, metrics of one run) as lab/bench_metrics.run_metrics
returns them. Pure apart from write_outputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.bench.metrics import ratio, summarize_values

TIME_METRICS = ("takeover_s", "vip_moved_s", "outage_s", "heal_gap_s", "dual_owner_s", "detect_to_answer_s")
COUNT_METRICS = ("false_failovers", "late_warnings")
# lab/bench/memory.py: kB, the largest over the nodes in each run
MEMORY_METRICS = tuple(f"{k}_{role}_kb" for role in ("parent", "child") for k in ("rss", "pss", "uss"))
TAKEOVER_TITLE = {
    "power-off": "takeover (power-off -> survivor answers)",
    "soft-stop": "takeover (SIGTERM -> survivor answers)",
    "link-cut": "split brain after (cut -> 2nd holder)",
    "boot-together": "boot -> first answer",
    "steady": "-",
    "stress": "-",
}


@dataclass
class Cell:
    """Every run of one setting in one scenario."""

    label: str
    kind: str
    scenario: str
    runs: list[dict[str, Any]] = field(default_factory=list)  # run_metrics + run_dir
    errors: list[str] = field(default_factory=list)

    def values(self, metric: str) -> list[float]:
        return [float(r[metric]) for r in self.runs if isinstance(r.get(metric), int | float)]

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {m: summarize_values(self.values(m)) for m in TIME_METRICS}
        for m in COUNT_METRICS:
            out[m] = int(sum(self.values(m)))
        for m in MEMORY_METRICS:
            out[m] = summarize_values(self.values(m))
        out["runs"] = len(self.runs)
        out["errors"] = list(self.errors)
        return out


def build_cells(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], Cell]:
    cells: dict[tuple[str, str], Cell] = {}
    for row in rows:
        key = (row["label"], row["scenario"])
        cell = cells.setdefault(key, Cell(row["label"], row["kind"], row["scenario"]))
        if row.get("error"):
            cell.errors.append(str(row["error"]))
        else:
            cell.runs.append(row["metrics"])
    return cells


def ratios(cells: dict[tuple[str, str], Cell], reference: str) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> peer label -> {takeover, outage}: median of `reference` (an hbd setting) / peer's."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (label, scenario), cell in cells.items():
        ref = cells.get((reference, scenario))
        if ref is None or label == reference or cell.kind == "hbd":
            continue
        ours, theirs = ref.stats(), cell.stats()
        out.setdefault(scenario, {})[label] = {
            m.removesuffix("_s"): ratio(ours[m]["median"], theirs[m]["median"])
            for m in ("takeover_s", "outage_s")
        }
    return out


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}" if v >= 0.1 else f"{v * 1000:.1f}"


def _ratio_text(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def to_markdown(
    cells: dict[tuple[str, str], Cell], reference: str, scenarios: Sequence[str], meta: dict[str, Any]
) -> str:
    rat = ratios(cells, reference)
    lines = [
        "# hbd bench",
        "",
        f"{meta.get('started', '')} - {meta.get('repeat')} runs per setting and scenario; stress "
        f"{meta.get('stress_minutes')} min per setting; times in ms; ratio = median of {reference} / "
        "median of the peer (below 1: hbd is faster).",
        "",
    ]
    if meta.get("backend") == "docker":
        images = ", ".join(f"`{tag}`" for tag in (meta.get("images") or {}).values())
        lines += [f"Backend docker: every node a container, images {images or '(not recorded)'}.", ""]
    for scenario in scenarios:
        row_cells = [c for (_l, s), c in cells.items() if s == scenario]
        if not row_cells:
            continue
        title = TAKEOVER_TITLE.get(scenario, "takeover")
        lines += [f"## {scenario}", "", f"takeover = {title}", ""]
        lines.append(
            "| daemon, setting | runs | takeover min | median | p95 | max | outage median | outage max "
            "| heal gap median | heal gap max | VIP moved median | two VIP holders (max) "
            "| false failovers | late-hb warnings "
            "| detected->answer median "
            "| ratio takeover | ratio outage |"
        )
        lines.append("|---" * 17 + "|")
        for cell in row_cells:
            st = cell.stats()
            t, o, d, b = st["takeover_s"], st["outage_s"], st["dual_owner_s"], st["detect_to_answer_s"]
            v, h = st["vip_moved_s"], st["heal_gap_s"]
            r = rat.get(scenario, {}).get(cell.label, {})
            late = st["late_warnings"] if cell.values("late_warnings") else "n/a"
            errs = f" ({len(cell.errors)} failed)" if cell.errors else ""
            lines.append(
                f"| {cell.label} | {st['runs']}{errs} | {_ms(t['min'])} | {_ms(t['median'])} "
                f"| {_ms(t['p95'])} "
                f"| {_ms(t['max'])} | {_ms(o['median'])} | {_ms(o['max'])} | {_ms(h['median'])} "
                f"| {_ms(h['max'])} | {_ms(v['median'])} "
                f"| {_ms(d['max'])} "
                f"| {st['false_failovers']} | {late} "
                f"| {_ms(b['median'])} | {_ratio_text(r.get('takeover'))} | {_ratio_text(r.get('outage'))} |"
            )
        lines.append("")
    lines += memory_lines(cells)
    errors = [(c.label, c.scenario, e) for c in cells.values() for e in c.errors]
    if errors:
        lines += ["## failed runs", ""] + [f"- {lbl} / {s}: {e}" for lbl, s, e in errors] + [""]
    return "\n".join(lines)


def _mb(v: float | None) -> str:
    return "-" if v is None else f"{v / 1024:.1f}"


def memory_lines(cells: dict[tuple[str, str], Cell], scenario: str = "steady") -> list[str]:
    """Each daemon's processes at idle: the end of `steady` (median over runs of the largest node)."""
    rows = [c for (_l, s), c in cells.items() if s == scenario and c.values("rss_parent_kb")]
    if not rows:
        return []
    lines = [
        f"## memory at idle (end of {scenario}, MB)",
        "",
        "first process: hbd's supervisor, keepalived's parent; others: hbd's worker, keepalived's VRRP child "
        "(the largest). VmRSS counts every mapped page under mlockall (hbd `realtime on`); PSS shares the "
        "common pages out, USS is what only that process holds. Median over runs of the larger node.",
        "",
        "| daemon, setting | runs | first RSS | first PSS | first USS "
        "| others RSS | others PSS | others USS |",
        "|---" * 8 + "|",
    ]
    for cell in rows:
        st = cell.stats()
        vals = " | ".join(_mb(st[m]["median"]) for m in MEMORY_METRICS)
        lines.append(f"| {cell.label} | {st['runs']} | {vals} |")
    return [*lines, ""]


def to_json(cells: dict[tuple[str, str], Cell], reference: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "reference": reference,
        "cells": [
            {"label": c.label, "kind": c.kind, "scenario": c.scenario, "stats": c.stats(), "runs": c.runs}
            for c in cells.values()
        ],
        "ratios": ratios(cells, reference),
    }


def plot(cells: dict[tuple[str, str], Cell], scenarios: Sequence[str], path: Path) -> None:
    """Takeover distributions per setting, one panel per scenario with takeovers (log scale, ms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in scenarios if any(c.values("takeover_s") for (_l, sc), c in cells.items() if sc == s)]
    if not shown:
        return
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 3.2 * len(shown)), squeeze=False)
    for ax, scenario in zip(axes[:, 0], shown, strict=True):
        row = [c for (_l, s), c in cells.items() if s == scenario and c.values("takeover_s")]
        data = [[v * 1000 for v in c.values("takeover_s")] for c in row]
        ax.boxplot(data, vert=False, whis=(5, 95))
        for i, values in enumerate(data, start=1):
            ax.scatter(values, [i] * len(values), s=10, alpha=0.6)
        ax.set_yticks(range(1, len(row) + 1), [c.label for c in row])
        ax.set_xscale("log")
        ax.set_xlabel("ms")
        ax.set_title(f"{scenario}: {TAKEOVER_TITLE.get(scenario, 'takeover')}")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(
    rows: Sequence[dict[str, Any]],
    out_dir: Path,
    reference: str,
    scenarios: Sequence[str],
    meta: dict[str, Any],
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = build_cells(rows)
    md, js, png = out_dir / "bench.md", out_dir / "bench.json", out_dir / "bench.png"
    md.write_text(to_markdown(cells, reference, scenarios, meta))
    js.write_text(json.dumps(to_json(cells, reference, meta), indent=1, default=str) + "\n")
    plot(cells, scenarios, png)
    return [p for p in (md, js, png) if p.exists()]
