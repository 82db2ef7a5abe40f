"""Verdicts on the daemons' event stream: bad news, groups that must not move, a link reported down by
name, an event that must not happen."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from hbd.event_names import GROUP_ACQUIRE_START, GROUP_ACTIVE, GROUP_RELEASE_START, GROUP_RELEASED, LINK_DOWN
from lab.checks.result import CheckResult
from lab.checks.timeline import at, no_fault, reference_fault
from lab.history.records import History, Record
from lab.spec.check_params import BadNews, LinkDownNamed, NoEvent, NoFailover

BAD_LEVELS = frozenset({"ERROR", "CRITICAL"})
GROUP_MOVE_EVENTS = (GROUP_ACQUIRE_START, GROUP_ACTIVE, GROUP_RELEASE_START, GROUP_RELEASED)


def bad_news(history: History, params: BadNews) -> CheckResult:
    """ERROR/CRITICAL records fail unless allow-listed with a reason; holes in the history always fail."""

    def allowed(r: Record) -> bool:
        return any(fnmatch.fnmatchcase(r.event, a.event) and a.node in (None, r.node) for a in params.allow)

    bad_records = [r for r in history if r.level in BAD_LEVELS]
    unallowed = [r for r in bad_records if not allowed(r)]
    lines = [
        f"{at(history, r.mono)} {r.node or r.source} {r.level} {r.event}"
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


def no_failover(history: History, params: NoFailover) -> CheckResult:
    """After the fault no group moved: no acquire/release events, and one node kept answering."""
    if params.fault is not None or params.nth is not None or history.faults():
        fault = reference_fault(history, params)
        if fault is None:
            return CheckResult("no_failover", False, detail=no_fault(params))
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
    problems = [f"{at(history, r.mono)} {r.node} {r.event} {r.get('group', '')}".rstrip() for r in moves[:5]]
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


def link_down_named(history: History, params: LinkDownNamed) -> CheckResult:
    """A link.down event names the given link (optionally on a node, within a time of the fault)."""
    within = params.within
    fault = reference_fault(history, params) if (history.faults() or params.fault) else None
    if params.fault and fault is None:
        return CheckResult("link_down_named", False, unit="s", detail=no_fault(params))
    since = fault.mono if fault is not None else None
    aliases = _link_aliases(history, params.link)
    found = [
        r
        for r in history.select(LINK_DOWN, source="node", after=since)
        if _names_link(r.get("link"), aliases) and (params.node is None or r.node == params.node)
    ]
    if not found:
        seen = sorted({str(r.get("link")) for r in history.select(LINK_DOWN, source="node")})
        return CheckResult(
            "link_down_named",
            False,
            unit="s",
            detail=f"no link.down naming {params.link!r} (seen: {', '.join(seen) or 'none'})",
        )
    first = found[0]
    delay = first.mono - fault.mono if fault is not None else None
    ok = within is None or (delay is not None and delay <= within)
    detail = f"{first.node} reported {first.get('link')} down at {at(history, first.mono)}"
    if within is not None and not ok:
        detail += f"; later than {within:.3f}s after the fault"
    return CheckResult("link_down_named", ok, delay, "s", detail, {"link_down_s": delay})


def no_event(history: History, params: NoEvent) -> CheckResult:
    """A node event that must not happen in this scenario (e.g. `peer.dead` after a graceful stop: the
    takeover must follow the goodbye, not death detection)."""
    event, node = params.event, params.node
    found = [r for r in history.select((event,), source="node") if node is None or r.node == node]
    where = f" on {node}" if node else ""
    if not found:
        return CheckResult("no_event", True, 0, "events", f"no {event}{where}")
    first = found[0]
    detail = f"{len(found)} x {event}{where}, first at {at(history, first.mono)}: {first.get('cause', '')}"
    return CheckResult("no_event", False, len(found), "events", detail.rstrip(": "))
