"""How long the service was gone: fault -> survivor's first answer, the longest unanswered gap, and the
takeover broken into its phases (detected, acquire, resources started, ARP sent, answered)."""

from __future__ import annotations

import itertools

from hbd.event_names import (
    GARP_SENT,
    GROUP_ACQUIRE_START,
    GROUP_ACTIVE,
    PEER_DEAD,
    PEER_GONE,
    TAKEOVER_BREAKDOWN,
)
from lab.checks.result import CheckResult, Number
from lab.checks.timeline import at, first_answer, no_fault, reference_fault, survivor_test
from lab.history.records import History, Record
from lab.spec.check_params import Breakdown, Outage, TakeoverLatency

DETECTION_EVENTS = (PEER_DEAD, PEER_GONE)


def takeover_latency(history: History, params: TakeoverLatency) -> CheckResult:
    """Fault -> first probe answered by the survivor."""
    limit = params.max
    fault = reference_fault(history, params)
    if fault is None:
        return CheckResult("takeover_latency", False, unit="s", detail=no_fault(params))
    accept, who = survivor_test(history, fault, params.by)
    answer = first_answer(history, fault.mono, accept, params.protocol)
    if answer is None:
        return CheckResult(
            "takeover_latency",
            False,
            unit="s",
            detail=f"no {_probe(params.protocol)} answered by {who} after {fault.get('fault')} "
            f"at {at(history, fault.mono)}",
        )
    latency = answer.mono - fault.mono
    ok = limit is None or latency <= limit
    bound = "" if limit is None else (f" <= max {limit:.3f}s" if ok else f" > max {limit:.3f}s")
    return CheckResult(
        "takeover_latency",
        ok,
        latency,
        "s",
        f"{fault.get('fault')} at {at(history, fault.mono)}; first answer from {answer.get('answer')} "
        f"after {latency:.3f}s{bound}",
        {"latency_s": latency},
    )


def outage(history: History, params: Outage) -> CheckResult:
    """The largest gap between successful probe answers (a run that never recovers counts to its end)."""
    limit = params.max
    probes = history.probes(params.protocol)
    if not probes:
        return CheckResult("outage", False, unit="s", detail=f"no {_probe(params.protocol)} records")
    good = [p for p in probes if p.get("ok")]
    failed = len(probes) - len(good)
    if not good:
        span = probes[-1].mono - probes[0].mono
        return CheckResult(
            "outage",
            False,
            span,
            "s",
            f"none of {len(probes)} probes was answered",
            {"outage_s": span, "failed_probes": failed},
        )
    # Candidate gaps: leading failures, between answers, trailing failures (not recovered).
    gaps: list[tuple[float, float, str]] = [(probes[0].mono, good[0].mono, "before the first answer")]
    gaps += [(a.mono, b.mono, "") for a, b in itertools.pairwise(good)]
    gaps.append((good[-1].mono, probes[-1].mono, "never recovered"))
    start, stop, note = max(gaps, key=lambda g: g[1] - g[0])
    longest = stop - start
    recovered = note != "never recovered" or stop == start
    ok = recovered and (limit is None or longest <= limit)
    detail = f"longest gap {longest:.3f}s from {at(history, start)}; {failed} of {len(probes)} probes failed"
    if note and stop > start:
        detail += f" ({note})"
    if limit is not None and longest > limit:
        detail += f"; > max {limit:.3f}s"
    return CheckResult("outage", ok, longest, "s", detail, {"outage_s": longest, "failed_probes": failed})


def _probe(protocol: str | None) -> str:
    return f"{protocol} probe" if protocol else "probe"


def breakdown(history: History, params: Breakdown) -> CheckResult:
    """Fault -> detected (peer.dead/gone) -> group.acquire.start -> group.active -> garp.sent -> answer."""
    limit = params.max
    fault = reference_fault(history, params)
    if fault is None:
        return CheckResult("breakdown", False, unit="s", detail=no_fault(params))
    accept, _ = survivor_test(history, fault, params.by)
    t0 = fault.mono

    def first_on_survivor(events: tuple[str, ...] | str) -> Record | None:
        for r in history.select(events, source="node", after=t0):
            if r.node and accept(r.node):
                return r
        return None

    phases = {
        "detected_s": first_on_survivor(DETECTION_EVENTS),
        "acquire_s": first_on_survivor(GROUP_ACQUIRE_START),
        "active_s": first_on_survivor(GROUP_ACTIVE),
        "garp_s": first_on_survivor(GARP_SENT),
        "answered_s": first_answer(history, t0, accept),
    }
    values: dict[str, Number] = {k: (r.mono - t0 if r is not None else None) for k, r in phases.items()}
    # The daemon's own view of the silence before it declared the peer dead, when it reports one.
    own = first_on_survivor(TAKEOVER_BREAKDOWN)
    if (
        own is not None
        and isinstance(own.get("peer_last_heard"), int | float)
        and isinstance(own.get("declared_dead"), int | float)
    ):
        values["silence_s"] = float(own.get("declared_dead")) - float(own.get("peer_last_heard"))
    labels = {
        "detected_s": "detected",
        "acquire_s": "acquire",
        "active_s": "resources started",
        "garp_s": "ARP sent",
        "answered_s": "client answered",
    }
    parts = [
        f"{labels[k]} +{v * 1000:.1f}ms" if isinstance(v, float) else f"{labels[k]} -"
        for k, v in values.items()
        if k in labels
    ]
    total = values["answered_s"]
    ok = total is not None and (limit is None or total <= limit)
    detail = f"{fault.get('fault')} at {at(history, t0)}: " + ", ".join(parts)
    if total is None:
        detail += "; the survivor never answered"
    elif limit is not None and total > limit:
        detail += f"; > max {limit:.3f}s"
    return CheckResult("breakdown", ok, total, "s", detail, values)
