"""Who held the service address when: per-node holding intervals derived from a History.

Evidence, latest wins per node:
- `ip.added` / `ip.removed` node events: exact transition times, written by the daemon itself;
- a `power_off` fault: a powered-off node answers nothing, even if its dead namespace still lists the address,
  so samples of it are ignored until it is powered on again (power_on, a boot record, daemon.start);
- `vip.owners` samples (netlink on each node): they catch what no event says (a daemon killed with the
  address still up), but are read node after node, so a sample within `slack_s` of an event of the same node
  is ignored: the event is exact, the sample may straddle the transition.
"""

from __future__ import annotations

from dataclasses import dataclass

from hbd.event_names import DAEMON_START, IP_ADDED, IP_REMOVED
from lab.history.records import History

Interval = tuple[float, float]

DEFAULT_SLACK_S = 0.005


@dataclass(frozen=True)
class Evidence:
    mono: float
    node: str
    holds: bool
    exact: bool  # from an event or a fault (True) or from a sample (False)


def fault_nodes(fields: object) -> list[str]:
    """The nodes a fault record names: `node`, or the list `nodes`."""
    get = getattr(fields, "get", None)
    if get is None:
        return []
    names = get("nodes") or ([get("node")] if get("node") else [])
    return [str(n) for n in names] if isinstance(names, list | tuple) else []


def _power_events(history: History) -> dict[str, list[tuple[float, bool]]]:
    """node -> [(mono, powered)] from power faults and their heals, boot records and daemon.start events."""
    out: dict[str, list[tuple[float, bool]]] = {}
    for r in history:
        powered: bool | None = None
        if r.source == "lab" and r.event == "fault.inject" and r.get("fault") in ("power_off", "power_on"):
            powered = r.get("fault") == "power_on"
        elif r.source == "lab" and r.event == "fault.inject" and r.get("fault") == "boot_together":
            powered = True
        elif r.source == "lab" and r.event == "fault.heal" and r.get("fault") in ("power_off", "soft_stop"):
            powered = True  # healing a power-off or a stop boots the node again
        elif r.source == "lab" and r.event.startswith("boot"):
            powered = True
        elif r.source == "node" and r.event == DAEMON_START and r.node:
            out.setdefault(r.node, []).append((r.mono, True))
            continue
        if powered is not None:
            for node in fault_nodes(r):
                out.setdefault(node, []).append((r.mono, powered))
    return out


def _powered(power: list[tuple[float, bool]], t: float) -> bool:
    state = True  # nodes are on unless the lab powered them off
    for mono, on in power:
        if mono > t:
            break
        state = on
    return state


def ownership_evidence(history: History, ip: str | None = None) -> list[Evidence]:
    out: list[Evidence] = []
    for r in history:
        if r.source == "node" and r.event in (IP_ADDED, IP_REMOVED) and r.node:
            if ip is not None and not _same_ip(r.get("ip"), ip):
                continue
            out.append(Evidence(r.mono, r.node, r.event == IP_ADDED, exact=True))
        elif r.source == "lab" and r.event == "fault.inject" and r.get("fault") == "power_off":
            out.extend(Evidence(r.mono, node, False, exact=True) for node in fault_nodes(r))
    power = _power_events(history)
    sampled_nodes = set(history.nodes)
    for r in history.owner_samples():
        if ip is not None and r.get("vip") is not None and not _same_ip(r.get("vip"), ip):
            continue  # a sample of another group's VIP says nothing about this one
        owners = {str(o) for o in r.get("owners") or () if o}
        sampled_nodes |= owners
        for node in sorted(sampled_nodes):
            # A powered-off namespace may still list the address, but nothing answers for it.
            if node in owners and not _powered(power.get(node, []), r.mono):
                continue
            out.append(Evidence(r.mono, node, node in owners, exact=False))
    return sorted(out, key=lambda e: (e.mono, not e.exact))


def vips(history: History) -> list[str]:
    """Every VIP the history has ownership evidence for (ip.added/ip.removed events, owner samples)."""
    found = {str(r.get("vip")).split("/")[0] for r in history.owner_samples() if r.get("vip")}
    found |= {
        str(r.get("ip")).split("/")[0]
        for r in history.select((IP_ADDED, IP_REMOVED), source="node")
        if r.get("ip")
    }
    return sorted(found)


def holding_intervals(
    history: History, ip: str | None = None, slack_s: float = DEFAULT_SLACK_S
) -> dict[str, list[Interval]]:
    """node -> sorted, disjoint [start, end) intervals during which it held the address."""
    evidence = ownership_evidence(history, ip)
    exact_times: dict[str, list[float]] = {}
    for e in evidence:
        if e.exact:
            exact_times.setdefault(e.node, []).append(e.mono)
    end = history.end if history.end is not None else 0.0
    result: dict[str, list[Interval]] = {}
    since: dict[str, float] = {}
    for e in evidence:
        if not e.exact and any(abs(t - e.mono) <= slack_s for t in exact_times.get(e.node, ())):
            continue
        result.setdefault(e.node, [])
        if e.holds and e.node not in since:
            since[e.node] = e.mono
        elif not e.holds and e.node in since:
            start = since.pop(e.node)
            if e.mono > start:
                result[e.node].append((start, e.mono))
    for node, start in since.items():
        if end > start:
            result[node].append((start, end))
    return result


def multi_owner_windows(intervals: dict[str, list[Interval]]) -> list[Interval]:
    """Maximal windows during which two or more nodes held the address at once."""
    edges: list[tuple[float, int]] = []
    for spans in intervals.values():
        for start, stop in spans:
            edges.append((start, +1))
            edges.append((stop, -1))
    # At equal times close before open: a release and a take at the same instant is not an overlap.
    edges.sort(key=lambda e: (e[0], e[1]))
    windows: list[Interval] = []
    holders = 0
    opened: float | None = None
    for t, delta in edges:
        holders += delta
        if holders >= 2 and opened is None:
            opened = t
        elif holders < 2 and opened is not None:
            if t > opened:
                windows.append((opened, t))
            opened = None
    return windows


def owners_at(intervals: dict[str, list[Interval]], t: float) -> list[str]:
    return sorted(node for node, spans in intervals.items() if any(a <= t < b for a, b in spans))


def total_length(windows: list[Interval]) -> float:
    return sum(b - a for a, b in windows)


def _same_ip(recorded: object, wanted: str) -> bool:
    # Events may carry "10.0.0.100" or "10.0.0.100/24"; compare the address part.
    return isinstance(recorded, str) and recorded.split("/")[0] == wanted.split("/")[0]
