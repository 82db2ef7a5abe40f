"""`hbd_monitor RESOURCE INTERVAL [timeout=T] [restarts=N] [window=W]`: resource health monitoring.

Heartbeat 1.x never looked at a resource after starting it; this is Pacemaker's monitor operation with its
migration-threshold, in heartbeat's words: every INTERVAL the node holding the group runs the resource's
`status`; a failure restarts the group here, up to `restarts` times within `window`; one failure more hands
the group to the peer. The line is parsed here; `check_monitors` refuses a RESOURCE that no haresources
group has (it needs both files, so the loader calls it), and `monitored` lists what each line covers.
"""

from __future__ import annotations

from collections.abc import Iterable

from hbd.config.directive import ParseState, where_of
from hbd.config.errors import Diagnostics
from hbd.config.haresources import canonical_token
from hbd.config.model import Monitor, Resource, ResourceGroup
from hbd.config.syntax import BadValue, parse_int, parse_time_ms, shown

USAGE = "hbd_monitor RESOURCE INTERVAL [timeout=T] [restarts=N] [window=W]"
DEFAULT_RESTARTS = 3
DEFAULT_WINDOW_MS = 300_000
MAX_RESTARTS = 1000


def _positive_ms(token: str, what: str) -> int:
    ms = parse_time_ms(token)
    if ms <= 0:
        raise BadValue(f"{what} {shown(token)} must be more than 0")
    return ms


def parse_monitor(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if len(tokens) < 2:
        state.diag.error(line, f"{name} needs a resource and an interval", USAGE)
        return
    resource, interval, *options = tokens
    resource = canonical_token(resource)  # a bare address means IPaddr::address, as in haresources
    try:
        interval_ms = _positive_ms(interval, "interval")
        values: dict[str, int] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or key not in ("timeout", "restarts", "window"):
                raise BadValue(f"unknown option {shown(option)}", "timeout=T, restarts=N or window=W")
            if key in values:
                raise BadValue(f"{key} given twice")
            values[key] = (
                parse_int(value, 0, MAX_RESTARTS, "restarts")
                if key == "restarts"
                else _positive_ms(value, key)
            )
    except BadValue as bad:
        state.diag.error(line, f"{name}: {bad.message}", bad.hint or USAGE)
        return
    for earlier in state.monitors:
        if earlier.resource == resource:
            first = earlier.where.line if earlier.where else "?"
            state.diag.error(line, f"{name} {resource} listed twice", f"first on line {first}")
            return
    timeout_ms = values.get("timeout")
    state.monitors.append(
        Monitor(
            resource,
            interval_ms / 1000,
            None if timeout_ms is None else timeout_ms / 1000,
            values.get("restarts", DEFAULT_RESTARTS),
            values.get("window", DEFAULT_WINDOW_MS) / 1000,
            where_of(state, line),
        )
    )


def monitored(monitor: Monitor, groups: Iterable[ResourceGroup]) -> list[tuple[ResourceGroup, Resource]]:
    """Every (group, resource) the line covers: the resource of that spec, or each of that script name."""
    return [(g, r) for g in groups for r in g.resources if monitor.matches(r)]


def check_monitors(monitors: Iterable[Monitor], groups: tuple[ResourceGroup, ...], diag: Diagnostics) -> None:
    """A monitor must name a resource of haresources, and no resource may have two monitors (a script name
    and a spec can both cover it); each problem at the monitor's ha.cf line."""
    covered: dict[str, Monitor] = {}
    for monitor in monitors:
        line = monitor.where.line if monitor.where else None
        found = monitored(monitor, groups)
        for _group, resource in found:
            first = covered.setdefault(resource.spec, monitor)
            if first is not monitor:
                where = f"line {first.where.line}" if first.where else "another line"
                diag.error(line, f"hbd_monitor: {resource.spec} is already monitored", f"by {where}")
        if found:
            continue
        known = sorted(
            {r.spec for g in groups for r in g.resources} | {r.name for g in groups for r in g.resources}
        )
        hint = (
            "haresources has " + ", ".join(known[:8]) + (" ..." if len(known) > 8 else "") if known else None
        )
        diag.error(
            line,
            f"hbd_monitor: no resource group has {shown(monitor.resource)}",
            hint or "haresources defines no resources",
        )
