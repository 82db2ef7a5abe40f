"""The soak's outputs: soak.md (table), soak.json (every figure), soak.png (outage per hour per setting,
real takeovers and false failovers stacked, the unexplained gaps beside); and for `--latency` the
power-off takeover with and without hbd_stall_aware (latency.md, latency.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.bench.metrics import summarize_values

GOAL_RATIO = 0.5  # hbd's best outage per hour at most half of keepalived's best


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value * 1000:.0f}"


def _s(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.2f}"


def best(
    rows: Sequence[dict[str, Any]], kind: str, exclude: str = "stall_aware off"
) -> dict[str, Any] | None:
    """The row of `kind` with the least outage per hour (rule-off variants compare, they are no setting)."""
    ok = [r for r in rows if r.get("kind") == kind and not r.get("error") and exclude not in r["label"]]
    return min(ok, key=lambda r: r["outage_per_hour_s"], default=None)


def verdict(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    hbd, ka = best(rows, "hbd"), best(rows, "keepalived")
    out: dict[str, Any] = {"goal": f"hbd's best outage per hour <= {GOAL_RATIO:g} x keepalived's best"}
    if hbd is None or ka is None:
        return {**out, "met": None, "why": "a side has no successful run"}
    ratio = hbd["outage_per_hour_s"] / ka["outage_per_hour_s"] if ka["outage_per_hour_s"] > 0 else None
    met = ratio is not None and ratio <= GOAL_RATIO
    return {
        **out,
        "hbd_best": hbd["label"],
        "keepalived_best": ka["label"],
        "ratio": ratio,
        "met": met,
    }


def soak_markdown(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    v = verdict(rows)
    lines = [
        "# hbd soak",
        "",
        f"{meta.get('started', '')} - {meta.get('minutes')} min per setting ({meta.get('mode')}), a hard "
        f"power-off of the VIP holder every {meta.get('period_s'):g} s, the node back after "
        f"{meta.get('reboot_s'):g} s; stress-ng on every core: {'yes' if meta.get('stress') else 'no'}; "
        "5 % loss on the crossover. Outage = client gaps from power-offs (real) + gaps around VIP moves no "
        "power-off explains (false); other = gaps over 50 ms with no VIP move (the VM or the client did not "
        "run), not counted. Command: `" + " ".join(meta.get("argv", [])) + "`",
        "",
        "| setting | window s | power-offs | takeovers | missed | false failovers | real outage ms | "
        "false outage ms | outage ms | longest gap ms | **outage per hour s** | real /h s | false /h s | "
        "other gaps (ms) | two holders ms | daemon.stall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['label']} | FAILED: {str(r['error'])[:200]} |" + " |" * 14)
            continue
        lines.append(
            f"| {r['label']} | {r['window_s']:.0f} | {r['power_offs']} | {r['takeovers']} | "
            f"{r['missed_takeovers']} | {r['false_failovers']} | {_ms(r['real_outage_s'])} | "
            f"{_ms(r['false_outage_s'])} | {_ms(r['outage_s'])} | {_ms(r['longest_gap_s'])} | "
            f"**{_s(r['outage_per_hour_s'])}** | {_s(r['real_per_hour_s'])} | {_s(r['false_per_hour_s'])} | "
            f"{r['other_gaps']} ({_ms(r['other_outage_s'])}) | {_ms(r['dual_owner_s'])} | "
            f"{r.get('stalls', '-')} |"
        )
    lines += ["", "Takeover gaps per power-off (ms):", ""]
    for r in rows:
        if not r.get("error"):
            gaps = ", ".join(f"{g * 1000:.0f}" for g in r["takeover_gaps_s"]) or "-"
            false = ", ".join(f"{g * 1000:.0f}" for g in r["false_gaps_s"]) or "-"
            lines.append(f"- {r['label']}: {gaps}; false-failover gaps: {false}")
    ratio = v.get("ratio")
    lines += [
        "",
        f"Goal: {v['goal']}: "
        + (
            "no verdict (" + str(v.get("why")) + ")"
            if v.get("met") is None
            else f"{'met' if v['met'] else 'missed'} ({v['hbd_best']} against {v['keepalived_best']}: ratio "
            f"{'-' if ratio is None else f'{ratio:.2f}'})"
        ),
        "",
    ]
    return "\n".join(lines)


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    from lab.analysis.plot import _pyplot

    plt = _pyplot()
    ok = [r for r in rows if not r.get("error")]
    labels = [r["label"].replace(" stall_aware", "\nstall_aware") for r in ok]
    real = [r["real_per_hour_s"] for r in ok]
    false = [r["false_per_hour_s"] for r in ok]
    other = [r["other_per_hour_s"] for r in ok]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(ok)), 4.5))
    xs = list(range(len(ok)))
    ax.bar(xs, real, 0.4, label="real takeovers (power-off)", color="#4c72b0")
    ax.bar(xs, false, 0.4, bottom=real, label="false failovers", color="#dd8452")
    ax.bar([x + 0.42 for x in xs], other, 0.2, label="other gaps > 50 ms (not counted)", color="#bbbbbb")
    for x, r in zip(xs, ok, strict=True):
        ax.text(
            x, r["outage_per_hour_s"], f"{r['outage_per_hour_s']:.2f}", ha="center", va="bottom", fontsize=8
        )
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("client outage per hour (s)")
    top = max([r["outage_per_hour_s"] for r in ok] + other + [1e-3])
    ax.set_ylim(0, top * 1.25)  # room for the labels and the legend
    ax.set_title("Soak: power-off of the VIP holder every period, stress-ng + 5 % loss", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_soak(rows: Sequence[dict[str, Any]], out: Path, meta: dict[str, Any]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js, png = out / "soak.md", out / "soak.json", out / "soak.png"
    md.write_text(soak_markdown(rows, meta))
    js.write_text(json.dumps({"meta": meta, "verdict": verdict(rows), "rows": list(rows)}, indent=1) + "\n")
    written = [md, js]
    if any(not r.get("error") for r in rows):
        plot(rows, png)
        written.append(png)
    return written


SUMMED = (
    "window_s", "power_offs", "takeovers", "missed_takeovers", "false_failovers", "real_outage_s",
    "false_outage_s", "outage_s", "other_gaps", "other_outage_s", "dual_owner_s", "stalls",
)  # fmt: skip
LISTED = ("takeover_gaps_s", "false_gaps_s")


def combine(windows: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Several soak windows' rows as one row per setting: counts and times summed, longest gaps the
    longest, per hour over the summed windows. A setting that failed in any window keeps that error."""
    out: dict[str, dict[str, Any]] = {}
    for rows in windows:
        for r in rows:
            have = out.get(r["label"])
            if r.get("error") or (have is not None and have.get("error")):
                out[r["label"]] = have if have is not None and have.get("error") else dict(r)
                continue
            if have is None:
                out[r["label"]] = {**r, "run_dirs": [r.get("run_dir")]}
                continue
            for key in SUMMED:
                have[key] = have.get(key, 0) + r.get(key, 0)
            for key in LISTED:
                have[key] = list(have.get(key, [])) + list(r.get(key, []))
            for key in ("longest_gap_s", "longest_other_gap_s"):
                have[key] = max(have.get(key, 0.0), r.get(key, 0.0))
            have["run_dirs"].append(r.get("run_dir"))
    for row in out.values():
        if not row.get("error"):
            per_hour = 3600.0 / max(row["window_s"], 1e-9)
            for key in ("real", "false", "other"):
                row[f"{key}_per_hour_s"] = row[f"{key}_outage_s"] * per_hour
            row["outage_per_hour_s"] = row["outage_s"] * per_hour
            row.pop("false_at_s", None)
    return list(out.values())


def write_latency(rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """Power-off takeover per setting (rule on/off): min / median / p95 / max over the runs."""
    out.mkdir(parents=True, exist_ok=True)
    by: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for r in rows:
        m = r.get("metrics") or {}
        if isinstance(m.get("takeover_s"), int | float):
            by.setdefault(r["label"], []).append(float(m["takeover_s"]))
        else:
            errors[r["label"]] = errors.get(r["label"], 0) + 1
    stats = {label: summarize_values(v) for label, v in by.items()}
    lines = [
        "# Power-off takeover with and without hbd_stall_aware (no stress)",
        "",
        "| setting | runs | min ms | median ms | p95 ms | max ms | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in dict.fromkeys(r["label"] for r in rows):
        s = stats.get(label, summarize_values([]))
        lines.append(
            f"| {label} | {s['n']} | {_ms(s['min'])} | {_ms(s['median'])} | {_ms(s['p95'])} | "
            f"{_ms(s['max'])} | {errors.get(label, 0)} |"
        )
    (out / "latency.md").write_text("\n".join(lines) + "\n")
    (out / "latency.json").write_text(json.dumps({"stats": stats, "rows": list(rows)}, indent=1) + "\n")
    return out / "latency.md"
