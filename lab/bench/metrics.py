"""Per-run bench metrics from a recorded History, the same rules for every daemon (pure functions).

The bench's daemons differ in what they log, so everything here comes from what the lab itself sees:
fault records, client probes and VIP-owner samples. hbd's own events add the takeover breakdown and
late-heartbeat warnings. Times in seconds.

  takeover_s       fault -> first answer from the survivor (boot-together: boot -> first answer;
                   link-cut: fault -> the moment a second node holds the VIP, "split brain after")
  outage_s         the largest gap between answers (link-cut: the largest gap from the heal on, which
                   includes the prober's noise over the seconds the run waits for a steady owner)
  heal_gap_s       link-cut: the gap the heal itself causes, from the last answer of the node that gives
                   the VIP up to the first answer of the one that keeps it
  dual_owner_s     total time two nodes held the VIP
  false_failovers  VIP acquisitions beyond what the scenario calls for
  vip_moved_s      power-off/soft-stop: fault -> the survivor holds the VIP (from the owner sampler,
                   every 2 ms, or hbd's exact ip.added): free of the prober's granularity (a probe
                   sent to the dead node's MAC waits for its connect timeout, 100 ms)
  detect_to_answer_s  hbd only: detected (peer.dead/gone) -> first client answer
  rss_parent_kb, rss_child_kb (and pss_, uss_)  the daemon's processes' memory as the run ends
                   (lab/bench/memory.py; idle in `steady`): the largest over the nodes
"""

from __future__ import annotations

import itertools
from typing import Any

from hbd.event_names import PEER_WARN
from lab.bench.memory import memory_metrics
from lab.checks import breakdown, outage, takeover_latency
from lab.history.ownership import holding_intervals, multi_owner_windows, total_length
from lab.history.records import History
from lab.spec.check_params import Breakdown, Outage, TakeoverLatency

Metrics = dict[str, float | int | None]

# VIP acquisitions a scenario calls for within the measured window (from the first probe on: the boot
# before it is setup, except in boot-together, whose probe starts before the boot).
EXPECTED_ACQUISITIONS = {
    "power-off": 1,
    "soft-stop": 1,
    "link-cut": 1,  # the standby takes the VIP during the cut; the heal settles to one owner
    "boot-together": 1,
    "steady": 0,
    "stress": 0,
}


INF = float("inf")


def window(history: History) -> tuple[float, float]:
    """What is measured: first to last probe. Before, the nodes were being set up; after, the lab tears
    them down one by one (the survivor of a teardown may briefly take the VIP: not a failover)."""
    probes = history.probes()
    if probes:
        return probes[0].mono, probes[-1].mono
    return (history.start or 0.0), (history.end or 0.0)


def acquisitions(history: History, since: float = -INF, until: float = INF) -> list[tuple[float, str]]:
    """(start, node) of every interval during which a node held the VIP, started in [since, until]."""
    spans = holding_intervals(history).items()
    return sorted((a, node) for node, intervals in spans for a, _b in intervals if since <= a <= until)


def dual_owner(history: History, since: float = -INF, until: float = INF) -> tuple[float, float | None]:
    """(time with two holders within [since, until], start of the first such window or None)."""
    windows = [
        (max(a, since), min(b, until))
        for a, b in multi_owner_windows(holding_intervals(history))
        if b > since and a < until
    ]
    return total_length(windows), (windows[0][0] if windows else None)


def _boot_mono(history: History) -> float | None:
    boot = history.first("boot")
    if boot is None:
        return None
    at = boot.get("at")
    return float(at) if isinstance(at, int | float) else boot.mono


def _first_answer_after(history: History, t0: float) -> float | None:
    for p in history.probes():
        if p.mono >= t0 and p.get("ok") and p.get("answer"):
            return p.mono - t0
    return None


def _largest_gap_after(history: History, t0: float) -> float | None:
    """The largest gap between answers over [t0, end]; the gap that spans t0 counts from its start."""
    probes = history.probes()
    good = [p.mono for p in probes if p.get("ok") and p.get("answer")]
    if not probes or not good:
        return None
    before = [t for t in good if t < t0]
    times = ([before[-1]] if before else []) + [t for t in good if t >= t0]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps.append(probes[-1].mono - times[-1])  # not recovered by the end of the run
    return max(gaps) if gaps else 0.0


def _heal_gap(history: History, t0: float) -> float | None:
    """The largest gap between answers from the heal until the client is answered under the ownership
    the heal settled on (the first answer after the last change of VIP owners)."""
    answers = [p.mono for p in history.probes() if p.get("ok") and p.get("answer")]
    settled = t0
    previous: tuple[str, ...] | None = None
    for sample in history.owner_samples():
        owners = tuple(sorted(sample.get("owners") or ()))
        if sample.mono >= t0 and previous is not None and owners != previous:
            settled = sample.mono
        previous = owners
    before = [t for t in answers if t < t0]
    after = [t for t in answers if t >= t0]
    end = next((t for t in after if t >= settled), None)
    if not before or end is None:
        return None
    times = [before[-1], *(t for t in after if t <= end)]
    return max(b - a for a, b in itertools.pairwise(times))


def _vip_moved(history: History, t0: float, victim: object) -> float | None:
    for start, node in acquisitions(history):
        if start >= t0 and node != victim:
            return start - t0
    return None


def run_metrics(history: History, scenario: str) -> Metrics:
    """The metrics of one run of a bench scenario (names as in EXPECTED_ACQUISITIONS)."""
    if scenario not in EXPECTED_ACQUISITIONS:
        raise ValueError(f"unknown bench scenario {scenario!r} (known: {', '.join(EXPECTED_ACQUISITIONS)})")
    since, until = window(history)
    dual, _ = dual_owner(history, since, until)
    acq = acquisitions(history, since, until)
    m: Metrics = {
        "takeover_s": None,
        "outage_s": outage(history, Outage()).value,
        "dual_owner_s": dual,
        "false_failovers": max(0, len(acq) - EXPECTED_ACQUISITIONS[scenario]),
        "acquisitions": len(acq),
        "failed_probes": sum(1 for p in history.probes() if not p.get("ok")),
    }
    faults = history.faults()
    if scenario in ("power-off", "soft-stop") and faults:
        m["takeover_s"] = takeover_latency(history, TakeoverLatency()).value
        m["vip_moved_s"] = _vip_moved(history, faults[0].mono, faults[0].get("node"))
        parts = breakdown(history, Breakdown()).values
        detected, answered = parts.get("detected_s"), parts.get("answered_s")
        if isinstance(detected, float) and isinstance(answered, float):
            m["detect_to_answer_s"] = answered - detected
            m["detected_s"] = detected
    elif scenario == "link-cut" and faults:
        _, split = dual_owner(history, faults[0].mono, until)
        if split is not None:
            m["takeover_s"] = split - faults[0].mono
        heal = history.first("fault.heal")
        if heal is not None:
            m["outage_s"] = _largest_gap_after(history, heal.mono)
            m["heal_gap_s"] = _heal_gap(history, heal.mono)
    elif scenario == "boot-together":
        t0 = _boot_mono(history)
        if t0 is not None:
            m["takeover_s"] = _first_answer_after(history, t0)
    if scenario in ("steady", "stress"):
        m["takeover_s"] = None
    m["late_warnings"] = sum(1 for r in history.select(PEER_WARN, source="node"))
    memory = history.first("bench.memory")
    if memory is not None and isinstance(memory.get("nodes"), dict):
        m.update(memory_metrics(memory.get("nodes")))
    return m


def summarize_values(values: list[float]) -> dict[str, Any]:
    """min / median / p95 / max of a metric over runs (None when there is nothing to summarise)."""
    from lab.analysis.experiment import MetricStats

    if not values:
        return {"n": 0, "min": None, "median": None, "p95": None, "max": None}
    s = MetricStats.of(values)
    return {"n": s.n, "min": s.min, "median": s.median, "p95": s.p95, "max": s.max}


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either is missing or theirs is zero."""
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs
