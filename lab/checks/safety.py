"""Safety verdicts (issue 4): who fenced whom, and what happened to data on the shared disk.

Pure functions over a History, registered in lab/checks/__init__.py's CHECKS like every other checker;
their parameters are declared in lab/spec/check_params.py.

* `fences`: the power-offs done by fence agents (lab.jsonl `fault.inject` with `via: fence_lab`, written by
  lab/faults/power_switch.py): how many, by which node, of which node. The tie-break and "no fence loop" are
  counts.
* `acked_records`: every record the shared-disk writer acknowledged (`disk.ack`, written only after the
  record was fsynced) is on the disk exactly once (`disk.record`), and no sequence number was written
  twice (two writers that each believed they owned the disk).
* `single_writer`: the writing sessions of different writer processes never overlap in time. A session
  runs from a writer's first acknowledged write to its last (a killed writer writes nothing after).
The disk records reach the history through lab/history/shared_disk.py (`disk_records`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from hbd.event_names import LINK_DOWN
from lab.checks.result import CheckResult
from lab.checks.timeline import at as _at
from lab.history.records import History, Record
from lab.spec.check_params import AckedRecords, Fences, LinksDownOnly, SingleWriter

FENCE_VIA = "fence_lab"


def _result(name: str, ok: bool, value: float | None, unit: str, detail: str, **values: Any) -> CheckResult:
    return CheckResult(name, ok, value, unit, detail, dict(values))


def fence_powerings(history: History) -> list[Record]:
    """Power-offs carried out for a fence agent, in time order."""
    return [
        r
        for r in history.select("fault.inject", source="lab")
        if r.get("fault") == "power_off" and r.get("via") == FENCE_VIA
    ]


def fences(history: History, params: Fences) -> CheckResult:
    """`{check: fences, by: NODE, target: NODE, count: N}`: exactly N fence power-offs (default 1), each
    requested by `by` (if given) and aimed at `target` (if given)."""
    count, by, target = params.count, params.by, params.target
    done = fence_powerings(history)
    shown = ", ".join(f"{_at(history, r.mono)} {r.get('by')}->{r.node or r.get('node')}" for r in done)
    problems = []
    if len(done) != count:
        problems.append(f"{len(done)} fence power-off(s), expected {count}")
    for r in done:
        if by is not None and r.get("by") != by:
            problems.append(f"{_at(history, r.mono)}: fenced by {r.get('by')}, expected {by}")
        if target is not None and r.get("node") != target:
            problems.append(f"{_at(history, r.mono)}: fenced {r.get('node')}, expected {target}")
    detail = "; ".join(problems) if problems else (shown or "no fence power-off")
    return _result("fences", not problems, len(done), "fences", detail, fences=len(done))


def _names_one_of(recorded: object, wanted: list[str]) -> bool:
    """hbd names media `bcast:eth1`, `serial:/dev/pts/3`: a wanted name matches the whole or its kind."""
    if not isinstance(recorded, str):
        return False
    return recorded in wanted or recorded.split(":", 1)[0] in wanted


def links_down_only(history: History, params: LinksDownOnly) -> CheckResult:
    """`{check: links_down_only, links: "bcast:eth0 serial"}`: every link.down names one of these media
    (a link reported down that was never cut is a wrong diagnosis), and each of them was reported."""
    wanted = params.links.split()
    downs = history.select(LINK_DOWN, source="node")
    wrong = [r for r in downs if not _names_one_of(r.get("link"), wanted)]
    missing = [w for w in wanted if not any(_names_one_of(r.get("link"), [w]) for r in downs)]
    problems = [f"{_at(history, r.mono)} {r.node} reported {r.get('link')} down" for r in wrong[:5]]
    problems += [f"{w} never reported down" for w in missing]
    seen = sorted({f"{r.node}:{r.get('link')}" for r in downs})
    detail = "; ".join(problems) if problems else f"down: {', '.join(seen)}"
    return _result("links_down_only", not problems, len(wrong), "links", detail, wrong=len(wrong))


# ---------------------------------------------------------------- shared disk


def _disk(history: History, event: str) -> list[Record]:
    return history.select(event, source="disk")


def _ident(r: Record) -> tuple[str, int, int]:
    return (str(r.get("writer_node")), int(r.get("pid", 0)), int(r.get("seq", -1)))


def acked_records(history: History, params: AckedRecords) -> CheckResult:
    """No acknowledged record lost or duplicated, no sequence number written by two writers.

    `expect_violation: true` turns the verdict around: the scenario (split brain without fencing) must
    show the damage, proving the check can see it.
    """
    acks = _disk(history, "disk.ack")
    on_disk = _disk(history, "disk.record")
    if not acks:
        return _result("acked_records", False, None, "", "no acknowledged record (did the writer run?)")
    stored = Counter(_ident(r) for r in on_disk)
    lost = [r for r in acks if stored[_ident(r)] == 0]
    duplicated = [k for k, n in stored.items() if n > 1]
    by_seq: dict[int, set[tuple[str, int]]] = defaultdict(set)
    for node, pid, seq in stored:
        by_seq[seq].add((node, pid))
    conflicts = sorted(seq for seq, writers in by_seq.items() if len(writers) > 1)
    torn = len(_disk(history, "disk.torn"))
    values = {
        "acked": len(acks),
        "stored": len(on_disk),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "seq_conflicts": len(conflicts),
        "torn": torn,
    }
    problems = []
    if lost:
        first = ", ".join(f"{n}/{p}#{s}" for n, p, s in (_ident(r) for r in lost[:5]))
        problems.append(f"{len(lost)} acknowledged record(s) lost ({first})")
    if duplicated:
        problems.append(f"{len(duplicated)} record(s) stored twice")
    if conflicts:
        problems.append(f"{len(conflicts)} sequence number(s) written by two writers (first {conflicts[0]})")
    if torn:
        problems.append(f"{torn} torn line(s) on the disk")
    summary = f"{len(acks)} acknowledged, {len(on_disk)} on disk"
    damaged = bool(problems)
    if params.expect_violation:
        detail = (
            f"{summary}; damage seen as expected: {'; '.join(problems)}"
            if damaged
            else (f"{summary}; expected damage (split brain without fencing) but found none")
        )
        return _result("acked_records", damaged, len(lost) + len(conflicts), "records", detail, **values)
    detail = f"{summary}; " + ("; ".join(problems) if damaged else "none lost, none duplicated")
    return _result("acked_records", not damaged, len(lost) + len(conflicts), "records", detail, **values)


def writer_sessions(history: History) -> list[tuple[float, float, str, int]]:
    """(first, last, node, pid) of every writer process, from its acknowledged writes."""
    spans: dict[tuple[str, int], list[float]] = {}
    for r in _disk(history, "disk.ack"):
        key = (str(r.get("writer_node")), int(r.get("pid", 0)))
        span = spans.setdefault(key, [r.mono, r.mono])
        span[0], span[1] = min(span[0], r.mono), max(span[1], r.mono)
    return sorted((a, b, node, pid) for (node, pid), (a, b) in spans.items())


def single_writer(history: History, params: SingleWriter) -> CheckResult:
    """Writing sessions of writers on different nodes never overlap (`expect_violation` turns it around)."""
    sessions = writer_sessions(history)
    if not sessions:
        return _result("single_writer", False, None, "s", "no writer session (did the writer run?)")
    overlaps: list[tuple[float, float, str, str]] = []
    for i, (_a1, b1, n1, _p1) in enumerate(sessions):
        for a2, b2, n2, _p2 in sessions[i + 1 :]:
            if n1 != n2 and a2 < b1:
                overlaps.append((a2, min(b1, b2), n1, n2))
    total = sum(b - a for a, b, _x, _y in overlaps)
    shown = ", ".join(f"{_at(history, a)}..{_at(history, b)} {x}+{y}" for a, b, x, y in overlaps[:5])
    order = " -> ".join(f"{n}({_at(history, a)}..{_at(history, b)})" for a, b, n, _p in sessions)
    values = {"sessions": len(sessions), "overlap_s": total, "overlaps": len(overlaps)}
    if params.expect_violation:
        ok = bool(overlaps)
        detail = f"two writers at once for {total:.3f}s: {shown}" if ok else f"never two writers: {order}"
        return _result("single_writer", ok, total, "s", detail, **values)
    ok = not overlaps
    detail = f"one writer at a time: {order}" if ok else f"two writers at once for {total:.3f}s: {shown}"
    return _result("single_writer", ok, total, "s", detail, **values)
