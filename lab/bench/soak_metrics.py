"""The soak's client-side availability figures from one recorded run (pure functions over a History).

A soak run (lab/bench/soak.py) powers off whichever node holds the VIP every period, boots it again a few
seconds later, and probes the VIP from the client all along. What the client saw is split by cause:

  real    a gap between answers that contains a scheduled power-off, or that ends with the first answer
          from another node after it (answers already on their way when the power went arrive a few ms
          after it): the takeover the fault calls for
  false   a gap within FALSE_SLACK_S of the start or the end of the holding of a VIP acquisition no
          power-off explains (every acquisition but the survivor's first one after each power-off):
          the move and the move back, not the prober's noise while the false holder serves
  other   any other gap over OTHER_GAP_S with no VIP move near it: the client, the responder or the whole
          VM did not run (the VM's own stalls, docs/bench.md "Stress"); not the failover daemon's doing,
          reported beside the figure, not in it

outage = real + false, and outage per hour = outage / measured window * 3600: the figure the soak ranks
settings by. Times in seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from lab.bench.metrics import acquisitions, dual_owner
from lab.history.ownership import holding_intervals
from lab.history.records import History

FALSE_SLACK_S = 0.2  # a false acquisition's client gap: this near its start or its end
OTHER_GAP_S = 0.05  # gaps shorter than this with no VIP move are the prober's own noise (every 5 ms)
TAKEOVER_WITHIN_S = 30.0  # the survivor's acquisition after a power-off, or none (a missed takeover)


@dataclass(frozen=True)
class Gap:
    start: float  # the last answer before it
    end: float  # the first answer after it (the window's end when never answered again)
    cause: str  # real | false | other

    @property
    def length(self) -> float:
        return self.end - self.start


def answer_gaps(history: History, since: float, until: float) -> list[tuple[float, float]]:
    """(last answer, next answer) for every pair of successive answers in [since, until]; a window that
    ends unanswered closes with (last answer, until)."""
    good = [p.mono for p in history.probes() if p.get("ok") and p.get("answer") and since <= p.mono <= until]
    gaps = list(itertools.pairwise(good))
    if good and until > good[-1]:
        gaps.append((good[-1], until))
    return gaps


def power_offs(history: History, since: float, until: float) -> list[tuple[float, str]]:
    """(time, node) of every power-off injected in [since, until]."""
    out = []
    for r in history.faults("power_off"):
        if r.event == "fault.inject" and since <= r.mono <= until and r.get("node"):
            out.append((r.mono, str(r.get("node"))))
    return out


def split_acquisitions(
    history: History, since: float, until: float, offs: list[tuple[float, str]]
) -> tuple[list[tuple[float, str]], list[tuple[float, str]], int]:
    """(real, false, missed): the survivor's first acquisition after each power-off is real, every other
    acquisition in [since, until] false; missed counts power-offs no other node took the VIP after."""
    acq = acquisitions(history, since, until)
    real: list[tuple[float, str]] = []
    missed = 0
    for t, victim in offs:
        found = next(
            (
                a
                for a in acq
                if a[0] >= t and a[1] != victim and a[0] <= t + TAKEOVER_WITHIN_S and a not in real
            ),
            None,
        )
        if found is None:
            missed += 1
        else:
            real.append(found)
    false = [a for a in acq if a not in real]
    return real, false, missed


def takeover_answers(history: History, offs: list[tuple[float, str]], until: float) -> set[float]:
    """For each power-off, the time of the first answer from another node after it."""
    answers = [(p.mono, p.get("answer")) for p in history.probes() if p.get("ok") and p.get("answer")]
    found = set()
    for t, victim in offs:
        first = next((m for m, who in answers if t <= m <= until and who != victim), None)
        if first is not None:
            found.add(first)
    return found


def classify_gaps(
    gaps: list[tuple[float, float]],
    offs: list[tuple[float, str]],
    false_moves: Sequence[Sequence[float]],
    survivor_answers: Collection[float] = (),
) -> list[Gap]:
    """Each gap with its cause (module doc); gaps under OTHER_GAP_S that are neither real nor false are
    dropped (the prober's own rhythm). A false move's outage is one gap: the largest within FALSE_SLACK_S
    of it (the owner sampler may see a move after the client did, under stress by ~60 ms), not the
    prober's 10-20 ms hiccups around it on a loaded machine; moves closer than that (a VIP taken and
    dropped again within ms) are one move. `survivor_answers`: takeover_answers."""
    out = []
    floor = 2 * _probe_floor(gaps)
    real = [b in survivor_answers or (b - a > floor and any(a <= t <= b for t, _ in offs)) for a, b in gaps]
    false: set[int] = set()
    clusters: list[list[float]] = []
    for t in sorted(t for ts in false_moves for t in ts):
        if clusters and t - clusters[-1][-1] < FALSE_SLACK_S:
            clusters[-1].append(t)
        else:
            clusters.append([t])
    for c in clusters:
        lo, hi = c[0] - FALSE_SLACK_S, c[-1] + FALSE_SLACK_S
        near = [
            i
            for i, (a, b) in enumerate(gaps)
            if a <= hi and b >= lo and b - a > floor and not real[i] and i not in false
        ]
        if near:
            false.add(max(near, key=lambda i: gaps[i][1] - gaps[i][0]))
    for i, (a, b) in enumerate(gaps):
        if real[i]:
            out.append(Gap(a, b, "real"))
        elif i in false:
            out.append(Gap(a, b, "false"))
        elif b - a > OTHER_GAP_S:
            out.append(Gap(a, b, "other"))
    return out


def _probe_floor(gaps: list[tuple[float, float]]) -> float:
    """The prober's usual gap (the median): a gap near it is no outage even beside a false failover."""
    lengths = sorted(b - a for a, b in gaps)
    return lengths[len(lengths) // 2] if lengths else 0.0


def _holding_span(history: History, start: float, node: str) -> tuple[float, float]:
    for a, b in holding_intervals(history).get(node, []):
        if a == start:
            return a, b
    return start, start


def soak_metrics(history: History, since: float, until: float) -> dict[str, Any]:
    """The soak figures of one run over its measured window [since, until] (module doc)."""
    offs = power_offs(history, since, until)
    real_acq, false_acq, missed = split_acquisitions(history, since, until, offs)
    # Each false holding's start and end (an end at the window's end is no move back).
    false_moves = [[x for x in _holding_span(history, t, node) if x < until] for t, node in false_acq]
    survivors = takeover_answers(history, offs, until)
    gaps = classify_gaps(answer_gaps(history, since, until), offs, false_moves, survivors)
    window = max(until - since, 1e-9)

    def total(cause: str) -> float:
        return sum(g.length for g in gaps if g.cause == cause)

    real_s, false_s, other_s = total("real"), total("false"), total("other")
    dual, _ = dual_owner(history, since, until)
    per_hour = 3600.0 / window
    counted = [g.length for g in gaps if g.cause in ("real", "false")]
    return {
        "window_s": round(window, 3),
        "power_offs": len(offs),
        "takeovers": len(real_acq),
        "missed_takeovers": missed,
        "false_failovers": len(false_acq),
        "real_outage_s": real_s,
        "false_outage_s": false_s,
        "outage_s": real_s + false_s,
        "other_gaps": sum(1 for g in gaps if g.cause == "other"),
        "other_outage_s": other_s,
        "longest_gap_s": max(counted, default=0.0),
        "longest_other_gap_s": max((g.length for g in gaps if g.cause == "other"), default=0.0),
        "real_per_hour_s": real_s * per_hour,
        "false_per_hour_s": false_s * per_hour,
        "outage_per_hour_s": (real_s + false_s) * per_hour,
        "other_per_hour_s": other_s * per_hour,
        "dual_owner_s": dual,
        "takeover_gaps_s": [round(g.length, 4) for g in gaps if g.cause == "real"],
        "false_gaps_s": [round(g.length, 4) for g in gaps if g.cause == "false"],
        "false_at_s": [round(t - since, 3) for t, _ in false_acq],
    }
