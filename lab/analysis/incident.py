"""`hblab incident EVENTS.jsonl...`: a draft scenario that replays a field incident (issue 13, "from a field
incident's logs to a scenario").

The production nodes' events.jsonl (docs/CONTRACTS.md) are merged by `wall` (each machine has its own
monotonic clock; wall clocks are assumed in step, as NTP keeps them) and read back into what must have
happened, each at its offset from the first `group.active` (the cluster's steady state):
- a medium going silent (`link.down`) and coming back (`link.up`) -> a `link_cut` (a `serial_cut`) and its
  heal; the cut is placed `nothing heard for X s` before the report when the cause says so. A medium that
  went silent because its peer died or left is not a cut of its own;
- a peer declared dead without a goodbye (`peer.dead`, no `peer.gone`/`node.stopped` before) -> a
  `freeze` when that peer's own log shows a `daemon.stall` covering it (of that length), a `power_off` when
  its log ends or restarts (`daemon.start`: the heal), a TODO when its log was not given or it ran on
  (a partition?);
- a goodbye (`peer.gone`, `node.stopped`) -> a `soft_stop`, healed at the node's next `daemon.start`;
- `fence.ok` -> fencing on (`daemon: {fencing: on}`, a rendered topology's) and a `fences` check.
The `expect:` part asserts what production saw: each group's owner changes (`failback` with the count,
the path in a comment) and the split-brain window (`single_owner`: 0, or the window production had).
Anything it cannot infer is a commented TODO in the file, never guessed silently.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hbd.event_names as ev

_SILENCE_RE = re.compile(r"nothing heard for ([0-9.]+) s")
SETTLE_S = 1.0  # how long the replay watches after its last action


class IncidentError(Exception):
    """An events file that cannot be read: FILE:LINE and why."""


@dataclass(frozen=True)
class Event:
    wall: float
    node: str
    event: str
    fields: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


@dataclass
class Action:
    wall: float
    kind: str  # "inject" | "heal"
    fault: str
    args: dict[str, Any]
    comment: str = ""


@dataclass
class Draft:
    nodes: list[str]
    actions: list[Action] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    fencing: bool = False


def read_events(paths: list[Path]) -> list[Event]:
    out: list[Event] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as e:
            raise IncidentError(f"{path}: cannot read: {e.strerror or e}") from e
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise IncidentError(f"{path}:{number}: not JSON: {e.msg}") from e
            if not isinstance(obj, dict) or not all(k in obj for k in ("wall", "node", "event")):
                raise IncidentError(f"{path}:{number}: not an hbd event (needs wall, node, event)")
            out.append(Event(float(obj["wall"]), str(obj["node"]), str(obj["event"]), obj))
    return sorted(out, key=lambda e: e.wall)


def _medium(link: str) -> tuple[str, str | None]:
    """A medium's lab identity: ("serial", None) for any serial device (each end names its own pty),
    else (kind, interface) from `bcast:eth1`, `ucast:eth0:10.0.0.2`, `mcast:eth1:225.0.0.1`."""
    kind, _, rest = link.partition(":")
    if kind == "serial":
        return "serial", None
    return kind, rest.split(":", 1)[0] or None


def _back_after(events: list[Event], node: str, t: float) -> float | None:
    """When `node`'s own log shows it running again after `t` (its next daemon.start)."""
    return next(
        (e.wall for e in events if e.node == node and e.wall > t and e.event == ev.DAEMON_START), None
    )


def _covers(stall: Event, t: float) -> bool:
    """A daemon.stall that explains a peer.dead at `t`: the stalled stretch reaches it (1 s of slack for
    the report to be written once the daemon runs again)."""
    late = float(stall.get("late_s") or 0.0)
    return stall.wall - late <= t <= stall.wall + 1.0


def _infer(events: list[Event]) -> Draft:
    logged = {e.node for e in events}
    nodes = sorted(logged | {str(e.get("peer")) for e in events if e.get("peer")})
    draft = Draft(nodes)
    absent_until: dict[str, float] = {}  # node -> when it runs again (inf: never in these logs)
    for e in events:
        peer = e.get("peer")
        if e.event in (ev.PEER_GONE, ev.NODE_STOPPED):
            who = str(peer) if e.event == ev.PEER_GONE else e.node
            if absent_until.get(who, -math.inf) >= e.wall:
                continue  # the same goodbye, seen from the other side
            back = _back_after(events, who, e.wall)
            absent_until[who] = back if back is not None else math.inf
            draft.actions.append(Action(e.wall, "inject", "soft_stop", {"node": who}, f"{e.node}: {e.event}"))
            if back is not None:
                draft.actions.append(Action(back, "heal", "soft_stop", {"node": who}, f"{who}: daemon.start"))
        elif e.event == ev.PEER_DEAD and peer:
            who = str(peer)
            silence = float(e.get("silence_s") or 0.0)
            start = e.wall - silence
            if absent_until.get(who, -math.inf) >= start:
                continue  # already explained (a goodbye, or the other side's report of the same death)
            stall = next(
                (s for s in events if s.node == who and s.event == ev.DAEMON_STALL and _covers(s, e.wall)),
                None,
            )
            note = f"{e.node}: peer.dead {who} after {silence:g} s of silence"
            if stall is not None:
                late = float(stall.get("late_s") or 0.0)
                absent_until[who] = stall.wall
                draft.actions.append(
                    Action(
                        stall.wall - late, "inject", "freeze", {"node": who, "ms": round(late * 1000)}, note
                    )
                )
                continue
            back = _back_after(events, who, e.wall)
            ran_on = _ran_on(events, who, e.wall)
            absent_until[who] = back if back is not None else math.inf
            if who not in logged:
                draft.todos.append(
                    f"{note}: no events of {who} were given: a power-off or a freeze? replayed as a power-off"
                )
            elif ran_on:
                draft.todos.append(
                    f"{note}, yet {who} logged on without a stall: a partition (every medium cut)? replayed "
                    "as a power-off, which is not the same: replace it with cut_heartbeat if so"
                )
            draft.actions.append(Action(start, "inject", "power_off", {"node": who}, note))
            if back is not None:
                draft.actions.append(Action(back, "heal", "power_off", {"node": who}, f"{who}: daemon.start"))
        elif e.event == ev.FENCE_OK:
            draft.fencing = True
    _links(events, draft, absent_until)
    draft.actions.sort(key=lambda a: a.wall)
    return draft


def _explained(events: list[Event], e: Event) -> bool:
    """A link.down the peer's death or goodbye explains: the observer's next word about that peer is that
    it died or left, with no link.up of the medium in between."""
    peer = e.get("peer")
    for x in events:
        if x.wall <= e.wall or x.node != e.node or x.get("peer") != peer:
            continue
        if x.event == ev.LINK_UP and x.get("link") == e.get("link"):
            return False
        if x.event in (ev.PEER_DEAD, ev.PEER_GONE):
            return True
        if x.event == ev.PEER_UP:
            return False
    return False


def _was_absent(draft: Draft, node: str, t: float, absent_until: dict[str, float]) -> bool:
    starts = [a.wall for a in draft.actions if a.kind == "inject" and a.args.get("node") == node]
    return any(start <= t < absent_until.get(node, -math.inf) for start in starts)


def _links(events: list[Event], draft: Draft, absent_until: dict[str, float]) -> None:
    open_cuts: dict[tuple[str, str | None], Action] = {}
    for e in events:
        if e.event not in (ev.LINK_DOWN, ev.LINK_UP) or not e.get("link"):
            continue
        medium = _medium(str(e.get("link")))
        if e.event == ev.LINK_DOWN:
            if medium in open_cuts or _explained(events, e):
                continue
            peer = str(e.get("peer"))
            if _was_absent(draft, peer, e.wall, absent_until):
                continue  # the peer was down: its media with it
            match = _SILENCE_RE.search(str(e.get("cause", "")))
            start = e.wall - float(match.group(1)) if match else e.wall
            note = f"{e.node}: link.down {e.get('link')} (peer {peer})"
            if not match:
                draft.todos.append(
                    f"{note}: the cause does not say how long it had been silent: cut at the report"
                )
            if medium[0] == "serial":
                args: dict[str, Any] = {}
                fault = "serial_cut"
            else:
                args = {"node": e.node, "iface": medium[1]}
                fault = "link_cut"
                draft.todos.append(
                    f"{note}: the events do not say which end of the cable failed: cut at {e.node}'s "
                    f"{medium[1]}; use `link: SEGMENT` of your topology to name the cable instead"
                )
            cut = Action(start, "inject", fault, args, note)
            open_cuts[medium] = cut
            draft.actions.append(cut)
        else:
            cut = open_cuts.pop(medium, None)
            if cut is not None:
                draft.actions.append(Action(e.wall, "heal", cut.fault, dict(cut.args), f"{e.node}: link.up"))


def owner_paths(events: list[Event]) -> dict[str, list[str]]:
    """group -> the nodes that held it in turn (from group.active), as failback counts them."""
    out: dict[str, list[str]] = {}
    for e in events:
        if e.event == ev.GROUP_ACTIVE and e.get("group"):
            path = out.setdefault(str(e.get("group")), [])
            if not path or path[-1] != e.node:
                path.append(e.node)
    return out


def _ran_on(events: list[Event], node: str, t: float) -> bool:
    """Whether `node` wrote anything after `t` other than a restart (it was alive, not off)."""
    for x in events:
        if x.node == node and x.wall > t:
            return x.event != ev.DAEMON_START
    return False


def split_brain_s(events: list[Event]) -> float:
    """How long two nodes held a service address at once (ip.added / ip.removed, by wall clock). A node
    declared dead that wrote nothing more (powered off) holds nothing from then on: its address died with
    it; a restarted node holds nothing until it adds an address again."""
    holding: dict[str, set[str]] = {}  # ip -> nodes holding it
    total = 0.0
    last: float | None = None
    for e in events:
        if e.event not in (ev.IP_ADDED, ev.IP_REMOVED, ev.DAEMON_START, ev.PEER_DEAD):
            continue
        if last is not None and any(len(n) > 1 for n in holding.values()):
            total += e.wall - last
        last = e.wall
        gone = e.node if e.event == ev.DAEMON_START else None
        if e.event == ev.PEER_DEAD and not _ran_on(events, str(e.get("peer")), e.wall):
            gone = str(e.get("peer"))
        if gone is not None:
            for held in holding.values():
                held.discard(gone)
        elif e.event in (ev.IP_ADDED, ev.IP_REMOVED):
            held = holding.setdefault(str(e.get("ip")), set())
            if e.event == ev.IP_ADDED:
                held.add(e.node)
            else:
                held.discard(e.node)
    return total


def _ms(seconds: float) -> str:
    return f"{max(0, round(seconds * 1000))}ms"


def draft_scenario(
    paths: list[Path],
    name: str = "incident",
    topology: str | None = None,
    daemon: dict[str, str] | None = None,
) -> str:
    """The scenario YAML (with its comments and TODOs) replaying the incident in `paths`."""
    events = read_events(paths)
    if not events:
        raise IncidentError(f"{', '.join(map(str, paths))}: no events")
    draft = _infer(events)
    paths_seen = owner_paths(events)
    first_active = next((e for e in events if e.event == ev.GROUP_ACTIVE), None)
    lines = [
        "# Drafted by `hblab incident`: check every TODO before trusting a run of it. Times are offsets",
        "# from the first group.active (the cluster settled). From:",
        *(f"#   {p}" for p in paths),
    ]
    if topology is None:
        draft.todos.append(
            "the topology: `hblab import` of the cluster's /etc/ha.d writes one (put its path)"
        )
    if draft.fencing and not daemon:
        draft.todos.append(
            "production fenced (fence.ok): the lab fences with `daemon: {fencing: on}` on a rendered "
            "topology; a topology with `ha_d:` runs the user's own stonith lines, which the lab cannot reach"
        )
    start_events = {e.node: e.wall for e in reversed(events) if e.event == ev.DAEMON_START}
    if first_active is None:
        raise IncidentError(f"{', '.join(map(str, paths))}: no group.active: nothing held a group to replay")
    late_starts = [n for n, t in start_events.items() if t > first_active.wall]
    if late_starts:
        draft.todos.append(
            f"{', '.join(late_starts)} started after the group was first active: booted together here"
        )
    servers = [n for n in draft.nodes if n in start_events or any(n == p[0] for p in paths_seen.values())]
    t0 = first_active.wall
    before = [a for a in draft.actions if a.wall < t0]
    for a in before:
        draft.todos.append(f"{a.fault} ({a.comment}) happened before the cluster settled: moved to the start")
    for todo in draft.todos:
        lines.append(f"# TODO: {todo}")
    lines += [
        f"name: {name}",
        f"description: replay of the incident seen by {', '.join(sorted({e.node for e in events}))}",
    ]
    lines.append(f"topology: {topology or 'TODO-topology'}")
    settings = dict(daemon or {})
    if draft.fencing and daemon:
        settings.setdefault("fencing", "on")
    if settings:
        lines.append("daemon: {" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in settings.items()) + "}")
    lines += [
        "steps:",
        f"  - boot: [{', '.join(servers)}]",
        f"  - wait_for: {{event: group.active, node: {first_active.node}, within: 150s}}",
        "  - probe: {target: vip, every_ms: 20}",
    ]
    now = t0
    for a in draft.actions:
        at = max(a.wall, t0)
        if at - now >= 0.001:
            lines.append(f"  - sleep: {_ms(at - now)}")
            now = at
        body = ", ".join([f"fault: {a.fault}", *(f"{k}: {v}" for k, v in a.args.items())])
        if a.kind == "inject":
            body += ", phase: none"  # at the offset production saw, not at a random timer phase
        lines.append(f"  - {a.kind}: {{{body}}}  # t+{at - t0:.3f}s {a.comment}")
    last_change = max((e.wall for e in events if e.event == ev.GROUP_ACTIVE), default=t0)
    final = {g: p[-1] for g, p in paths_seen.items()}
    if last_change > now and draft.actions:
        final_node = next(e.node for e in reversed(events) if e.event == ev.GROUP_ACTIVE)
        wait = max(10.0, 3 * (last_change - now))
        lines.append(f"  - wait_for: {{event: group.active, node: {final_node}, within: {math.ceil(wait)}s}}")
    lines.append(f"  - sleep: {_ms(SETTLE_S)}")
    lines.append("expect:")
    for group, path in paths_seen.items():
        lines.append(f"  # production: {group}: {' -> '.join(path)} (ended on {final[group]})")
        lines.append(f"  - {{check: failback, group: {json.dumps(group)}, count: {len(path) - 1}}}")
    window = split_brain_s(events)
    if window > 0:
        lines.append(f"  # production had two owners for {window:.3f} s: a fix should make this check fail")
        lines.append(f"  - {{check: single_owner, expect_split_brain: true, max: {_ms(window * 1.5 + 0.1)}}}")
    else:
        lines.append("  - {check: single_owner}  # production never had two owners")
    fences: dict[tuple[str, str], int] = {}
    for e in events:
        if e.event == ev.FENCE_OK:
            key = (e.node, str(e.get("peer")))
            fences[key] = fences.get(key, 0) + 1
    for (by, target), count in fences.items():
        lines.append(f"  - {{check: fences, by: {by}, target: {target}, count: {count}}}")
    return "\n".join(lines) + "\n"
