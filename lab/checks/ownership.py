"""Who owned what: never two owners of the VIP at once (or a split brain that healed), and how often a
resource group changed owner."""

from __future__ import annotations

from dataclasses import replace

from hbd.event_names import GROUP_ACTIVE
from lab.checks.result import CheckResult, Number
from lab.checks.timeline import at
from lab.history.ownership import holding_intervals, multi_owner_windows, owners_at, total_length, vips
from lab.history.records import History
from lab.spec.check_params import Failback, SingleOwner


def single_owner(history: History, params: SingleOwner) -> CheckResult:
    """Time two nodes held the VIP at once: 0, or (expect_split_brain) a window that healed. With several
    VIPs (an active/active pair) and no `ip`, each VIP is judged on its own: bob holding one group's address
    while bobek holds the other's is two owners of two addresses, not of one."""
    if params.ip is None and len(addresses := vips(history)) > 1:
        each = [single_owner(history, replace(params, ip=vip)) for vip in addresses]
        dual = sum(r.value or 0.0 for r in each)
        detail = "; ".join(f"{vip}: {r.detail}" for vip, r in zip(addresses, each, strict=True))
        count = sum(int(r.values.get("windows") or 0) for r in each)
        combined: dict[str, Number] = {"dual_owner_s": dual, "windows": count}
        return CheckResult("single_owner", all(r.ok for r in each), dual, "s", detail, combined)
    limit = params.max
    intervals = holding_intervals(
        history, ip=params.ip or None, **({"slack_s": params.slack} if params.slack is not None else {})
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
        f"{at(history, a)}..{at(history, b)} ({b - a:.3f}s: {'+'.join(owners_at(intervals, a))})"
        for a, b in windows[:5]
    ) + (" ..." if len(windows) > 5 else "")
    values: dict[str, Number] = {"dual_owner_s": dual, "windows": len(windows)}
    if not params.expect_split_brain:
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
    for r in history.select(GROUP_ACTIVE, source="node"):
        key = str(r.get("group", "?"))
        if group is None or key == group:
            out.setdefault(key, []).append((r.mono, r.node or "?"))
    return out


def failback(history: History, params: Failback) -> CheckResult:
    """How many times a group changed owner (from group.active events)."""
    want = params.count
    owners = group_owners(history, params.group)
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
