"""Verdicts: pure checkers over a recorded History (Jepsen's checkers, Pacemaker CTS's BadNews).

Each checker takes the history and the parameters of one `expect:` item and returns a CheckResult. Times are
seconds on the shared monotonic clock; `detail` gives them relative to the first fault (or the history start)
so a reader can find them on the timeline. A checker that cannot see what it needs fails: a latency "measured"
from missing records is worse than none.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.history.ownership import (
    fault_nodes,
    holding_intervals,
    multi_owner_windows,
    owners_at,
    total_length,
)
from lab.history.records import History, Record
from lab.spec.duration import DurationError, parse_duration

Number = float | int | None


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    value: float | None = None  # the headline number (seconds, a count ...)
    unit: str = ""
    detail: str = ""
    values: dict[str, Number] = field(default_factory=dict)  # every number worth aggregating
    check: str = ""  # the checker behind `name` (they differ when an expect item sets `name:`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check or self.name,
            "ok": self.ok,
            "value": self.value,
            "unit": self.unit,
            "detail": self.detail,
            "values": dict(self.values),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=str(obj.get("name", "?")),
            ok=bool(obj.get("ok", False)),
            value=obj.get("value"),
            unit=str(obj.get("unit", "")),
            detail=str(obj.get("detail", "")),
            values=dict(obj.get("values") or {}),
            check=str(obj.get("check", "")),
        )


class CheckParamError(ValueError):
    """A parameter of an expect item is missing or malformed."""


Params = Mapping[str, Any]
Checker = Callable[[History, Params], CheckResult]

BAD_LEVELS = frozenset({"ERROR", "CRITICAL"})
DETECTION_EVENTS = ("peer.dead", "peer.gone")
NODE_FAULTS = frozenset({"soft_stop", "power_off", "freeze"})
GROUP_MOVE_EVENTS = ("group.acquire.start", "group.active", "group.release.start", "group.released")

# Parameter kinds per check, for scenario validation (lab/spec/scenario.py) and for the docs. Kinds: duration,
# int, bool, str, allow (a list of {event, reason, node?}).
COMMON_PARAMS: dict[str, str] = {"check": "str", "name": "str"}
CHECK_PARAMS: dict[str, dict[str, str]] = {
    "takeover_latency": {"max": "duration", "fault": "str", "nth": "int", "by": "str"},
    "outage": {"max": "duration"},
    "single_owner": {"expect_split_brain": "bool", "max": "duration", "ip": "str", "slack": "duration"},
    "failback": {"count": "int", "group": "str"},
    "bad_news": {"allow": "allow"},
    "no_failover": {"fault": "str", "nth": "int"},
    "link_down_named": {"link": "str", "node": "str", "within": "duration", "fault": "str", "nth": "int"},
    "breakdown": {"fault": "str", "nth": "int", "by": "str", "max": "duration"},
    "no_event": {"event": "str", "node": "str"},
}
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {"link_down_named": ("link",), "no_event": ("event",)}


# ---------------------------------------------------------------- helpers


def _duration(params: Params, key: str) -> float | None:
    if params.get(key) is None:
        return None
    try:
        return parse_duration(params[key])
    except DurationError as exc:
        raise CheckParamError(f"{key}: {exc}") from None


def _int(params: Params, key: str, default: int | None = None) -> int | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckParamError(f"{key}: expected an integer, got {value!r}")
    return value


def _origin(history: History) -> float:
    faults = history.faults()
    if faults:
        return faults[0].mono
    return history.start if history.start is not None else 0.0


def _at(history: History, t: float) -> str:
    """A time relative to the first fault (or the start): 't+0.312s'."""
    return f"t{t - _origin(history):+.3f}s"


def _reference_fault(history: History, params: Params) -> Record | None:
    """The fault a latency is measured from: the nth (1-based) `fault.inject` of the named fault."""
    nth = _int(params, "nth", 1) or 1
    if nth < 1:
        raise CheckParamError(f"nth: must be >= 1, got {nth}")
    name = params.get("fault")
    faults = history.faults(str(name) if name is not None else None)
    return faults[nth - 1] if len(faults) >= nth else None


def _no_fault(name: str, params: Params) -> str:
    wanted = f"fault {params['fault']!r}" if params.get("fault") else "any fault"
    nth = params.get("nth", 1)
    return f"no fault.inject record for {wanted}" + (f" (#{nth})" if nth != 1 else "")


def _survivor_test(history: History, fault: Record, params: Params) -> tuple[Callable[[str], bool], str]:
    """Which answering nodes count as 'the survivor', and a description of the rule."""
    if params.get("by"):
        by = str(params["by"])
        return (lambda node: node == by), by
    # Only faults that take a node out have a victim; a link fault's `node` is just the cable's end.
    victims = set(fault_nodes(fault)) if fault.get("fault") in NODE_FAULTS else set()
    if not victims:
        # A fault without a victim (a link cut): the survivor is whoever did not answer just before it.
        before = [p for p in history.probes() if p.mono < fault.mono and p.get("ok") and p.get("answer")]
        victims = {str(before[-1].get("answer"))} if before else set()
    if not victims:
        return (lambda node: True), "any node"
    return (lambda node: node not in victims), f"any node but {', '.join(sorted(victims))}"


def _first_answer(history: History, after: float, accept: Callable[[str], bool]) -> Record | None:
    for p in history.probes():
        if p.mono >= after and p.get("ok") and p.get("answer") and accept(str(p.get("answer"))):
            return p
    return None


# ---------------------------------------------------------------- checkers


def takeover_latency(history: History, params: Params) -> CheckResult:
    """Fault -> first probe answered by the survivor."""
    limit = _duration(params, "max")
    fault = _reference_fault(history, params)
    if fault is None:
        return CheckResult("takeover_latency", False, unit="s", detail=_no_fault("takeover_latency", params))
    accept, who = _survivor_test(history, fault, params)
    answer = _first_answer(history, fault.mono, accept)
    if answer is None:
        return CheckResult(
            "takeover_latency",
            False,
            unit="s",
            detail=f"no probe answered by {who} after {fault.get('fault')} at {_at(history, fault.mono)}",
        )
    latency = answer.mono - fault.mono
    ok = limit is None or latency <= limit
    bound = "" if limit is None else (f" <= max {limit:.3f}s" if ok else f" > max {limit:.3f}s")
    return CheckResult(
        "takeover_latency",
        ok,
        latency,
        "s",
        f"{fault.get('fault')} at {_at(history, fault.mono)}; first answer from {answer.get('answer')} "
        f"after {latency:.3f}s{bound}",
        {"latency_s": latency},
    )


def outage(history: History, params: Params) -> CheckResult:
    """The largest gap between successful probe answers (a run that never recovers counts to its end)."""
    limit = _duration(params, "max")
    probes = history.probes()
    if not probes:
        return CheckResult("outage", False, unit="s", detail="no probe records")
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
    detail = f"longest gap {longest:.3f}s from {_at(history, start)}; {failed} of {len(probes)} probes failed"
    if note and stop > start:
        detail += f" ({note})"
    if limit is not None and longest > limit:
        detail += f"; > max {limit:.3f}s"
    return CheckResult("outage", ok, longest, "s", detail, {"outage_s": longest, "failed_probes": failed})


def single_owner(history: History, params: Params) -> CheckResult:
    """Time two nodes held the VIP at once: 0, or (expect_split_brain) a window that healed."""
    expect_split = bool(params.get("expect_split_brain", False))
    limit = _duration(params, "max")
    slack = _duration(params, "slack")
    ip = params.get("ip")
    intervals = holding_intervals(
        history, ip=str(ip) if ip else None, **({"slack_s": slack} if slack is not None else {})
    )
    if not any(intervals.values()) and not history.owner_samples():
        return CheckResult(
            "single_owner",
            False,
            unit="s",
            detail="no VIP ownership evidence (no ip.added events, no vip.owners samples)",
        )
    windows = multi_owner_windows(intervals)
    dual = total_length(windows)
    end = history.end if history.end is not None else 0.0
    final_owners = owners_at(intervals, end - 1e-9)
    shown = ", ".join(
        f"{_at(history, a)}..{_at(history, b)} ({b - a:.3f}s: {'+'.join(owners_at(intervals, a))})"
        for a, b in windows[:5]
    ) + (" ..." if len(windows) > 5 else "")
    values: dict[str, Number] = {"dual_owner_s": dual, "windows": len(windows)}
    if not expect_split:
        ok = dual == 0
        detail = "never two owners" if ok else f"two owners for {dual:.3f}s: {shown}"
        return CheckResult("single_owner", ok, dual, "s", detail, values)
    healed = len(final_owners) == 1
    values["healed"] = int(healed)
    if not windows:
        return CheckResult(
            "single_owner",
            False,
            0.0,
            "s",
            "split brain expected but never observed (did the cut take effect?)",
            values,
        )
    problems = []
    if not healed:
        problems.append(f"not healed: owners at the end are {final_owners or 'nobody'}")
    if limit is not None and dual > limit:
        problems.append(f"> max {limit:.3f}s")
    detail = f"split brain for {dual:.3f}s: {shown}; " + (
        "; ".join(problems) if problems else f"healed, {final_owners[0]} holds the VIP"
    )
    return CheckResult("single_owner", not problems, dual, "s", detail, values)


def group_owners(history: History, group: str | None = None) -> dict[str, list[tuple[float, str]]]:
    """group -> [(mono, node)] for every group.active, in time order."""
    out: dict[str, list[tuple[float, str]]] = {}
    for r in history.select("group.active", source="node"):
        key = str(r.get("group", "?"))
        if group is None or key == group:
            out.setdefault(key, []).append((r.mono, r.node or "?"))
    return out


def failback(history: History, params: Params) -> CheckResult:
    """How many times a group changed owner (from group.active events)."""
    want = _int(params, "count")
    group = params.get("group")
    owners = group_owners(history, str(group) if group is not None else None)
    transitions = 0
    paths = []
    for key, seq in owners.items():
        path = [seq[0][1]]
        for _, node in seq[1:]:
            if node != path[-1]:
                path.append(node)
        transitions += len(path) - 1
        paths.append(f"{key}: {' -> '.join(path)}")
    if not owners:
        return CheckResult(
            "failback", False, 0, "transitions", "no group.active event at all", {"transitions": 0}
        )
    ok = want is None or transitions == want
    detail = "; ".join(paths) + ("" if want is None else f" ({transitions} transitions, expected {want})")
    return CheckResult("failback", ok, transitions, "transitions", detail, {"transitions": transitions})


def _allow_entries(params: Params) -> list[Mapping[str, Any]]:
    allow = params.get("allow") or []
    if not isinstance(allow, list):
        raise CheckParamError("allow: expected a list of {event, reason}")
    for i, entry in enumerate(allow):
        if not isinstance(entry, Mapping) or not entry.get("event") or not entry.get("reason"):
            raise CheckParamError(f"allow[{i}]: each entry needs an event and a reason")
    return allow


def bad_news(history: History, params: Params) -> CheckResult:
    """ERROR/CRITICAL records fail unless allow-listed with a reason; holes in the history always fail."""
    allow = _allow_entries(params)

    def allowed(r: Record) -> bool:
        return any(
            fnmatch.fnmatchcase(r.event, str(a["event"])) and (a.get("node") in (None, r.node)) for a in allow
        )

    bad_records = [r for r in history if r.level in BAD_LEVELS]
    unallowed = [r for r in bad_records if not allowed(r)]
    lines = [
        f"{_at(history, r.mono)} {r.node or r.source} {r.level} {r.event}"
        + (f" ({r.get('cause') or r.get('detail')})" if r.get("cause") or r.get("detail") else "")
        for r in unallowed[:5]
    ]
    lines += [f"history: {p}" for p in history.problems[:5]]
    count = len(unallowed) + len(history.problems)
    ok = count == 0
    detail = "no bad news" if ok else "; ".join(lines) + (" ..." if count > len(lines) else "")
    if bad_records and len(unallowed) < len(bad_records):
        detail += f" ({len(bad_records) - len(unallowed)} allow-listed)"
    return CheckResult(
        "bad_news", ok, count, "records", detail, {"bad": count, "allowed": len(bad_records) - len(unallowed)}
    )


def no_failover(history: History, params: Params) -> CheckResult:
    """After the fault no group moved: no acquire/release events, and one node kept answering."""
    if params.get("fault") is not None or params.get("nth") is not None or history.faults():
        fault = _reference_fault(history, params)
        if fault is None:
            return CheckResult("no_failover", False, detail=_no_fault("no_failover", params))
        since = fault.mono
    else:
        since = history.start if history.start is not None else 0.0
    moves = history.select(GROUP_MOVE_EVENTS, source="node", after=since)
    answered = sorted(
        {
            str(p.get("answer"))
            for p in history.probes()
            if p.mono >= since and p.get("ok") and p.get("answer")
        }
    )
    problems = [f"{_at(history, r.mono)} {r.node} {r.event} {r.get('group', '')}".rstrip() for r in moves[:5]]
    if len(answered) > 1:
        problems.append(f"answers came from {', '.join(answered)}")
    ok = not moves and len(answered) <= 1
    detail = (
        f"nothing moved; {answered[0] if answered else 'nobody'} kept answering"
        if ok
        else "; ".join(problems)
    )
    return CheckResult("no_failover", ok, len(moves), "events", detail, {"group_events": len(moves)})


def _link_aliases(history: History, link: str) -> set[str]:
    # The lab names links by topology (crossover); hbd names media by interface (bcast:eth1). The runner
    # may record the interfaces of a cut link in the fault record; those count as the same link.
    names = {link}
    for r in history.faults():
        if r.get("link") == link:
            for key in ("iface", "ifaces", "medium", "media"):
                value = r.get(key)
                if isinstance(value, str):
                    names.add(value)
                elif isinstance(value, list | tuple):
                    names.update(str(v) for v in value)
                elif isinstance(value, Mapping):
                    names.update(str(v) for v in value.values())
    return names


def _names_link(recorded: object, aliases: set[str]) -> bool:
    if not isinstance(recorded, str):
        return False
    return recorded in aliases or any(part in aliases for part in recorded.split(":"))


def link_down_named(history: History, params: Params) -> CheckResult:
    """A link.down event names the given link (optionally on a node, within a time of the fault)."""
    link = params.get("link")
    if not link:
        raise CheckParamError("link: required")
    within = _duration(params, "within")
    node = params.get("node")
    fault = _reference_fault(history, params) if (history.faults() or params.get("fault")) else None
    if params.get("fault") and fault is None:
        return CheckResult("link_down_named", False, unit="s", detail=_no_fault("link_down_named", params))
    since = fault.mono if fault is not None else None
    aliases = _link_aliases(history, str(link))
    found = [
        r
        for r in history.select("link.down", source="node", after=since)
        if _names_link(r.get("link"), aliases) and (node is None or r.node == node)
    ]
    if not found:
        seen = sorted({str(r.get("link")) for r in history.select("link.down", source="node")})
        return CheckResult(
            "link_down_named",
            False,
            unit="s",
            detail=f"no link.down naming {link!r} (seen: {', '.join(seen) or 'none'})",
        )
    first = found[0]
    delay = first.mono - fault.mono if fault is not None else None
    ok = within is None or (delay is not None and delay <= within)
    detail = f"{first.node} reported {first.get('link')} down at {_at(history, first.mono)}"
    if within is not None and not ok:
        detail += f"; later than {within:.3f}s after the fault"
    return CheckResult("link_down_named", ok, delay, "s", detail, {"link_down_s": delay})


def breakdown(history: History, params: Params) -> CheckResult:
    """Fault -> detected (peer.dead/gone) -> group.acquire.start -> group.active -> garp.sent -> answer."""
    limit = _duration(params, "max")
    fault = _reference_fault(history, params)
    if fault is None:
        return CheckResult("breakdown", False, unit="s", detail=_no_fault("breakdown", params))
    accept, _ = _survivor_test(history, fault, params)
    t0 = fault.mono

    def first_on_survivor(events: tuple[str, ...] | str) -> Record | None:
        for r in history.select(events, source="node", after=t0):
            if r.node and accept(r.node):
                return r
        return None

    phases = {
        "detected_s": first_on_survivor(DETECTION_EVENTS),
        "acquire_s": first_on_survivor("group.acquire.start"),
        "active_s": first_on_survivor("group.active"),
        "garp_s": first_on_survivor("garp.sent"),
        "answered_s": _first_answer(history, t0, accept),
    }
    values: dict[str, Number] = {k: (r.mono - t0 if r is not None else None) for k, r in phases.items()}
    # The daemon's own view of the silence before it declared the peer dead, when it reports one.
    own = first_on_survivor("takeover.breakdown")
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
    detail = f"{fault.get('fault')} at {_at(history, t0)}: " + ", ".join(parts)
    if total is None:
        detail += "; the survivor never answered"
    elif limit is not None and total > limit:
        detail += f"; > max {limit:.3f}s"
    return CheckResult("breakdown", ok, total, "s", detail, values)


def no_event(history: History, params: Params) -> CheckResult:
    """A node event that must not happen in this scenario (e.g. `peer.dead` after a graceful stop: the
    takeover must follow the goodbye, not death detection)."""
    event = str(params["event"])
    node = params.get("node")
    found = [r for r in history.select((event,), source="node") if node is None or r.node == node]
    where = f" on {node}" if node else ""
    if not found:
        return CheckResult("no_event", True, 0, "events", f"no {event}{where}")
    first = found[0]
    detail = f"{len(found)} x {event}{where}, first at {_at(history, first.mono)}: {first.get('cause', '')}"
    return CheckResult("no_event", False, len(found), "events", detail.rstrip(": "))


CHECKS: dict[str, Checker] = {
    "takeover_latency": takeover_latency,
    "outage": outage,
    "single_owner": single_owner,
    "failback": failback,
    "bad_news": bad_news,
    "no_failover": no_failover,
    "link_down_named": link_down_named,
    "breakdown": breakdown,
    "no_event": no_event,
}


# Issue 4's safety checks (fencing, shared disk) live in their own module; registered here so scenarios,
# reports and experiments see one registry. Imported late: checks_safety builds on CheckResult above.
from lab.checks.safety import SAFETY_CHECK_PARAMS, SAFETY_CHECKS  # noqa: E402

CHECKS.update(SAFETY_CHECKS)
CHECK_PARAMS.update(SAFETY_CHECK_PARAMS)


def run_checks(history: History, expect: list[dict[str, Any]]) -> list[CheckResult]:
    """Run every expect item; never raises: a bad item or a crashing checker becomes a failed result."""
    results: list[CheckResult] = []
    for index, item in enumerate(expect):
        if not isinstance(item, Mapping):
            results.append(CheckResult(f"expect[{index}]", False, detail=f"not a mapping: {item!r}"))
            continue
        check = str(item.get("check", ""))
        name = str(item.get("name") or check or f"expect[{index}]")
        checker = CHECKS.get(check)
        if checker is None:
            known = ", ".join(CHECKS)
            results.append(
                CheckResult(name, False, detail=f"unknown check {check!r} (known: {known})", check=check)
            )
            continue
        params = {k: v for k, v in item.items() if k not in COMMON_PARAMS}
        try:
            result = checker(history, params)
        except CheckParamError as exc:
            result = CheckResult(check, False, detail=f"bad parameter {exc}")
        except Exception as exc:  # a checker bug must not hide the other verdicts
            result = CheckResult(check, False, detail=f"checker crashed: {type(exc).__name__}: {exc}")
        results.append(
            CheckResult(name, result.ok, result.value, result.unit, result.detail, result.values, check=check)
        )
    return results


def all_ok(results: list[CheckResult]) -> bool:
    return all(r.ok for r in results)
