"""The scale bench's outputs (lab/bench/scale.py): bench.json, bench.md and bench.png under --out.

Per (case, fault, setting): the median and max takeover over runs, hbd's detect -> served and GARP
spread, and each node's daemon CPU (% of one core) and RSS over the steady window before the fault.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NODES = ("bob", "bobek")


def _nums(runs: Sequence[dict[str, Any]], key: str) -> list[float]:
    values = [r.get(key) for r in runs]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _usage(runs: Sequence[dict[str, Any]], node: str, key: str) -> list[float]:
    return [float(r["usage"][node][key]) for r in runs if node in (r.get("usage") or {})]


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cells(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per (case, fault, setting), in the order first seen."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["case"], row["scenario"], row["label"]), []).append(row)
    out = []
    for (case, fault, label), group in grouped.items():
        runs = [r["metrics"] for r in group if "metrics" in r]
        take = _nums(runs, "takeover_s")
        cell: dict[str, Any] = {
            "case": case,
            "shape": group[0]["shape"],
            "n": group[0]["n"],
            "scenario": fault,
            "label": label,
            "kind": group[0]["kind"],
            "runs": len(runs),
            "errors": [r["error"] for r in group if r.get("error")],
            "takeover_median_s": _med(take),
            "takeover_max_s": max(take) if take else None,
            "takeover_s": take,
            "detect_to_answer_median_s": _med(_nums(runs, "detect_to_answer_s")),
            "garp_spread_median_s": _med(_nums(runs, "garp_spread_s")),
            "garp_vips": _med(_nums(runs, "garp_vips")),
            "arp_all_announced_median_s": _med(_nums(runs, "arp_all_announced_s")),
            "arp_frames_median": _med(_nums(runs, "arp_frames")),
            "arp_burst_median_s": _med(_nums(runs, "arp_burst_s")),
            "probed_last": [r["probed_last"] for r in runs if "probed_last" in r],
            "run_dirs": [r.get("run_dir") for r in runs],
        }
        for node in NODES:
            cell[f"{node}_cpu_pct"] = _med(_usage(runs, node, "cpu_pct"))
            cell[f"{node}_rss_mb"] = _med(_usage(runs, node, "rss_mb"))
        out.append(cell)
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def markdown(summary: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Scale bench: takeover as the VIPs and groups grow",
        "",
        f"Started {meta['started']}, {meta['repeat']} repeat(s), {meta['cpus']} CPUs, LAN {meta['lan']}. "
        "Takeover: fault -> first answer of the survivor on the probed VIP, the last one each daemon "
        "acquires. CPU (% of one core) and RSS: the daemon's processes on each node over the steady 2 s "
        "before the fault (bob active, bobek standby). Client's GARP: fault -> the first gratuitous ARP "
        "of the last VIP to be announced, the frames seen after the fault and their first -> last span "
        "(the burst), from the client's ARP watcher. hbd's spread: its first VIP's first announcement "
        "-> last VIP's first announcement (events). Medians over runs.",
        "",
        "| case | fault | setting | runs | takeover median ms | max ms | detect->served ms "
        "| client: all VIPs announced ms | GARP frames | burst ms | hbd spread ms "
        "| bob CPU % | bob RSS MB | bobek CPU % | bobek RSS MB | probed last |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in summary:
        last = c["probed_last"]
        lines.append(
            f"| {c['case']} | {c['scenario']} | {c['label']} | {c['runs']}"
            + (f" ({len(c['errors'])} failed)" if c["errors"] else "")
            + f" | {_ms(c['takeover_median_s'])} | {_ms(c['takeover_max_s'])}"
            f" | {_ms(c['detect_to_answer_median_s'])} | {_ms(c['arp_all_announced_median_s'])}"
            f" | {_num(c['arp_frames_median'], '{:.0f}')} | {_ms(c['arp_burst_median_s'])}"
            f" | {_ms(c['garp_spread_median_s'])}"
            f" | {_num(c['bob_cpu_pct'], '{:.2f}')} | {_num(c['bob_rss_mb'])}"
            f" | {_num(c['bobek_cpu_pct'], '{:.2f}')} | {_num(c['bobek_rss_mb'])}"
            f" | {(f'{sum(last)}/{len(last)}' if last else '-')} |"
        )
    errors = [e for c in summary for e in c["errors"]]
    if errors:
        lines += ["", "Failed runs:", *(f"- {e[:300]}" for e in errors)]
    return "\n".join(lines) + "\n"


def plot(summary: Sequence[dict[str, Any]], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults = list(dict.fromkeys(c["scenario"] for c in summary))
    shapes = ("vips", "groups")
    if not faults:
        return False
    fig, axes = plt.subplots(len(faults), 2, figsize=(11, 4 * len(faults)), squeeze=False)
    for i, fault in enumerate(faults):
        for j, shape in enumerate(shapes):
            ax = axes[i][j]
            one = [c for c in summary if c["scenario"] == fault and (c["shape"] == shape or c["n"] == 1)]
            for label in dict.fromkeys(c["label"] for c in one):
                pts = sorted((c["n"], c["takeover_median_s"]) for c in one if c["label"] == label)
                pts = [(n, t * 1000) for n, t in pts if t is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker="o", label=label)
            ax.set_xscale("log")
            if fault == "soft-stop":
                ax.set_yscale("log")  # a few ms for one VIP, hundreds for a thousand
            ax.set_xlabel("VIPs in one group" if shape == "vips" else "groups of one VIP")
            ax.set_ylabel("takeover median, ms")
            ax.set_title(f"{fault}: {'VIPs' if shape == 'vips' else 'groups'}")
            ax.grid(True, alpha=0.3)
            if ax.get_lines():
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_scale_outputs(rows: Sequence[dict[str, Any]], out_dir: Path, meta: dict[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = cells(rows)
    data = {"meta": meta, "cells": summary, "rows": list(rows)}
    outputs = [out_dir / "bench.json", out_dir / "bench.md"]
    outputs[0].write_text(json.dumps(data, indent=1, default=str) + "\n")
    outputs[1].write_text(markdown(summary, meta))
    if plot(summary, out_dir / "bench.png"):
        outputs.append(out_dir / "bench.png")
    return outputs
