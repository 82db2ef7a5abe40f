"""A run's verdict on disk: result.json (for machines and experiments), report.md (for people), timeline.png.

Everything here is derived from the run directory and the check results, so a report can be rewritten from
stored files at any time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hbd.event_names import GARP_SENT
from lab.checks import CheckResult, all_ok
from lab.history.records import History, Record
from lab.history.store import RESULT_FILE, load_run, seed_of
from lab.spec.scenario import Scenario

REPORT_FILE = "report.md"
TIMELINE_FILE = "timeline.png"
MAX_TIMELINE_LINES = 80
# Node events a reader wants to see in the text timeline (everything WARN and above is shown too).
TOLD_EVENTS = (
    "daemon.",
    "peer.",
    "link.",
    "group.",
    "ip.",
    GARP_SENT,
    "splitbrain.",
    "fence.",
)


def write_run_report(run_dir: Path, scenario: Scenario, results: Sequence[CheckResult]) -> None:
    run_dir = Path(run_dir)
    history = load_run(run_dir)
    plot_error = _draw_timeline(history, run_dir / TIMELINE_FILE, scenario.name)
    result = result_dict(run_dir, scenario, results, history)
    if plot_error:
        result["timeline_error"] = plot_error
    (run_dir / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    (run_dir / REPORT_FILE).write_text(render_markdown(result, history, plot_error))


def read_result(run_dir: Path) -> dict[str, Any]:
    """The stored result.json of a run; raises ValueError naming the file when it is missing or malformed."""
    path = Path(run_dir) / RESULT_FILE
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise ValueError(f"{path}: not a run result (no 'checks' list)")
    return data


def result_dict(
    run_dir: Path, scenario: Scenario, results: Sequence[CheckResult], history: History
) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "topology": scenario.topology,
        "daemon": scenario.daemon,
        "seed": seed_of(run_dir),
        "run_dir": str(run_dir),
        "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok": all_ok(list(results)),
        "checks": [r.to_dict() for r in results],
        "history": {
            "records": len(history),
            "start_mono": history.start,
            "end_mono": history.end,
            "problems": list(history.problems),
            "notes": list(history.notes),
        },
    }


def _draw_timeline(history: History, path: Path, title: str) -> str | None:
    # A missing or broken matplotlib must not lose the verdict: report why there is no picture instead.
    try:
        from lab.analysis.pcap import captured_heartbeats
        from lab.analysis.plot import plot_timeline

        plot_timeline(history, path, title, heartbeats=captured_heartbeats(path.parent))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _fmt_value(check: dict[str, Any]) -> str:
    value = check.get("value")
    if value is None:
        return "-"
    if check.get("unit") == "s":
        return f"{value * 1000:.1f} ms"
    return f"{value:g} {check.get('unit', '')}".strip()


def render_markdown(result: dict[str, Any], history: History, plot_error: str | None = None) -> str:
    verdict = "PASS" if result["ok"] else "FAIL"
    lines = [
        f"# {result['scenario']}: {verdict}",
        "",
        result.get("description") or "",
        "",
        f"- topology: `{result['topology']}`, seed {result['seed']}, written {result['written_utc']}",
        "- daemon: " + (", ".join(f"{k} {v}" for k, v in result["daemon"].items()) or "defaults"),
        "",
        "## Checks",
        "",
        "| check | verdict | value | detail |",
        "|---|---|---|---|",
    ]
    for c in result["checks"]:
        detail = str(c.get("detail", "")).replace("|", "\\|")
        lines.append(f"| {c['name']} | {'ok' if c['ok'] else '**FAIL**'} | {_fmt_value(c)} | {detail} |")
    lines += ["", "## Timeline", ""]
    lines += (
        [f"![timeline]({TIMELINE_FILE})", ""] if plot_error is None else [f"(no picture: {plot_error})", ""]
    )
    lines += ["```", *timeline_lines(history), "```"]
    if history.problems or history.notes:
        lines += ["", "## History problems", ""]
        lines += [f"- {p}" for p in history.problems] + [f"- (note) {n}" for n in history.notes]
    return "\n".join(lines) + "\n"


def _told(r: Record) -> bool:
    if r.source == "lab":
        return True
    if r.source == "node":
        return r.level in ("WARN", "ERROR", "CRITICAL") or r.event.startswith(TOLD_EVENTS)
    return False


def timeline_lines(history: History) -> list[str]:
    """Faults, daemon transitions and each change of who answers the client, from the first fault."""
    faults = history.faults()
    t0 = faults[0].mono if faults else (history.start or 0.0)
    out: list[str] = []
    last_answer: object = "start"
    for r in history:
        if r.source == "probe":
            answer = r.get("answer") if r.get("ok") else None
            if answer != last_answer:
                out.append(
                    f"{r.mono - t0:+9.3f}s  client    "
                    + (f"answers from {answer}" if answer else "no answer")
                )
                last_answer = answer
            continue
        if not _told(r):
            continue
        who = r.node or r.source
        extra = {
            k: v for k, v in r.fields.items() if k not in ("mono", "wall", "node", "event", "source", "level")
        }
        shown = " ".join(f"{k}={v}" for k, v in extra.items())
        level = f" {r.level}" if r.level in ("WARN", "ERROR", "CRITICAL") else ""
        out.append(f"{r.mono - t0:+9.3f}s  {who:<9} {r.event}{level} {shown}".rstrip())
    if len(out) > MAX_TIMELINE_LINES:
        cut = len(out) - MAX_TIMELINE_LINES
        half = MAX_TIMELINE_LINES // 2
        out = [*out[:half], f"... {cut} lines left out ...", *out[-half:]]
    return out
