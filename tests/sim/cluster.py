"""A discrete-event simulation of two hbd cores over in-memory links (no sockets, no asyncio).

Used by the property and scenario tests of the core: deterministic, thousands of interleavings per second.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from hbd.core.actions import (
    Action,
    AnnounceGroup,
    Emit,
    Exit,
    FencePeer,
    RestartGroup,
    RunMonitor,
    SendMessage,
    SendStatus,
    StartGroup,
    StopGroup,
)
from hbd.core.events import (
    Booted,
    Event,
    FenceFinished,
    GroupRestarted,
    GroupStarted,
    GroupStopped,
    HeartbeatReceived,
    MonitorFailed,
    MonitorOk,
    PeerStatus,
    PingReplied,
    TakeoverAsked,
    TimerFired,
)
from hbd.core.machine import HELD_ROLES, GroupSpec, NodeMachine, Timing
from hbd.core.monitor import MonitorSpec
from hbd.core.status import decode_status

TIMING = Timing(keepalive_s=0.05, deadtime_s=0.3, warntime_s=0.15, initdead_s=2.0)
LINKS = ("bcast:eth1", "ucast:eth0")


@dataclass
class SimNode:
    name: str
    machine: NodeMachine | None = None
    timer_token: int = 0
    epoch: int = 0  # bumps at every power-off so stale scheduled events are ignored
    events: list[Emit] = field(default_factory=list)
    actions: list[tuple[float, Action]] = field(default_factory=list)  # group operations, in order


class Cluster:
    def __init__(
        self,
        groups: list[GroupSpec] | None = None,
        *,
        latency_s: float = 0.001,
        op_s: float = 0.02,
        auto_failback: bool = True,
        fail_start: set[tuple[str, str]] | None = None,
        ping_targets: tuple[str, ...] = (),
        monitors: tuple[MonitorSpec, ...] = (),
        fencing: bool = False,
    ) -> None:
        self.groups = groups or [GroupSpec("IPaddr::10.0.0.100/24", "bob")]
        self.latency_s = latency_s
        self.op_s = op_s
        self.auto_failback = auto_failback
        self.fail_start = fail_start or set()
        self.fail_stop: set[tuple[str, str]] = set()  # (node, group) whose stops fail until removed
        # With fencing, a FencePeer powers the peer off after op_s and reports ok (fence_works) or not.
        self.fencing = fencing
        self.fence_works = True
        self.fenced: list[tuple[float, str]] = []
        self.ping_targets = ping_targets
        self.monitors = monitors
        # (node, resource) whose status fails until the next start or restart of its group there; hung: its
        # status never answers and is killed at its timeout
        self.broken: set[tuple[str, str]] = set()
        self.hung: set[tuple[str, str]] = set()
        self.reaches_ping = {"bob": True, "bobek": True}
        self.now = 0.0
        self.nodes = {"bob": SimNode("bob"), "bobek": SimNode("bobek")}
        self.links_up = {link: True for link in LINKS}
        self.deaf: set[str] = set()  # nodes that hear nothing while their own packets still go out
        self.all_down_since: float | None = None
        self.last_all_down: float = -1e9
        self._queue: list[tuple[float, int, str, int, Any]] = []
        self._counter = itertools.count()
        self.dual_starts: list[tuple[float, str]] = []
        self._dual: set[str] = set()
        self.generation = itertools.count(1)

    # -------------------------------------------------------------- control
    def peer_of(self, name: str) -> str:
        return "bobek" if name == "bob" else "bob"

    def power_on(self, name: str) -> None:
        node = self.nodes[name]
        node.machine = NodeMachine(
            name,
            self.peer_of(name),
            self.groups,
            TIMING,
            auto_failback=self.auto_failback,
            ping_targets=self.ping_targets,
            generation=(generation := next(self.generation)),
            monitors=self.monitors,
            fencing=self.fencing,
        )
        node.generation = generation  # type: ignore[attr-defined]
        self._deliver(name, Booted())

    def power_off(self, name: str) -> None:
        node = self.nodes[name]
        node.machine = None
        node.epoch += 1
        self._check_dual()

    def set_links(self, up: bool, links: tuple[str, ...] = LINKS) -> None:
        for link in links:
            self.links_up[link] = up
        if not any(self.links_up.values()):
            if self.all_down_since is None:
                self.all_down_since = self.now
        elif self.all_down_since is not None:
            self.last_all_down = self.now
            self.all_down_since = None

    def send_event(self, name: str, event: Event) -> None:
        if self.nodes[name].machine is not None:
            self._deliver(name, event)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_until(self, t: float) -> None:
        same_instant = 0
        while self._queue and self._queue[0][0] <= t:
            when, _, name, epoch, payload = heapq.heappop(self._queue)
            same_instant = same_instant + 1 if when == self.now else 0
            # A deadline that handling does not move is a busy loop in the real daemon: fail, don't hang.
            assert same_instant < 10_000, f"{name}: timer loop at t={when}"
            self.now = when
            node = self.nodes[name]
            if node.machine is None or epoch != node.epoch:
                continue
            if isinstance(payload, tuple) and payload[0] == "timer":
                if payload[1] != node.timer_token:
                    continue
                self._deliver(name, TimerFired())
            elif isinstance(payload, tuple) and payload[0] == "fence":
                if self.fence_works:
                    self.fenced.append((self.now, payload[1]))
                    self.power_off(payload[1])
                self._deliver(name, FenceFinished(payload[1], self.fence_works, "sim fence"))
            else:
                self._deliver(name, payload)
        self.now = t

    # -------------------------------------------------------------- observation
    def holders(self, key: str) -> list[str]:
        out = []
        for name, node in self.nodes.items():
            group = node.machine.groups.get(key) if node.machine is not None else None  # a reload may drop it
            if group is not None and group.role in HELD_ROLES:
                out.append(name)
        return out

    def active(self, key: str) -> list[str]:
        return [
            name
            for name, node in self.nodes.items()
            if node.machine is not None
            and (group := node.machine.groups.get(key)) is not None
            and group.role.name == "ACTIVE"
        ]

    def emitted(self, name: str, event: str) -> list[Emit]:
        return [e for e in self.nodes[name].events if e.event == event]

    # -------------------------------------------------------------- internals
    def _schedule(self, at: float, name: str, payload: Any) -> None:
        node = self.nodes[name]
        heapq.heappush(self._queue, (at, next(self._counter), name, node.epoch, payload))

    def _deliver(self, name: str, event: Event) -> None:
        node = self.nodes[name]
        assert node.machine is not None
        actions = node.machine.handle(event, self.now)
        for action in actions:
            self._do(name, action)
        self._check_dual()
        if node.machine is not None:
            deadline = node.machine.next_deadline()
            node.timer_token += 1
            if deadline is not None:
                assert deadline >= self.now - 1e-9, f"{name}: deadline {deadline} before now {self.now}"
                self._schedule(max(deadline, self.now), name, ("timer", node.timer_token))

    def _do(self, name: str, action: Action) -> None:
        node = self.nodes[name]
        peer = self.peer_of(name)
        match action:
            case Emit():
                node.events.append(action)
            case SendStatus(fields=fields):
                status = decode_status(dict(fields), getattr(node, "generation", 0))
                self._broadcast(peer, name, status)
                if self.reaches_ping[name]:  # heartbeat pings its ping nodes with every status message
                    for target in self.ping_targets:
                        self._schedule(self.now + self.latency_s, name, PingReplied(target))
            case SendMessage(fields=fields):
                f = dict(fields)
                if f.get("t") == "hb_takeover" and any(self.links_up.values()):
                    self._schedule(
                        self.now + self.latency_s, peer, TakeoverAsked(name, f.get("rsc_hold", "all"))
                    )
            case StartGroup() | StopGroup() | AnnounceGroup() | RestartGroup() | RunMonitor():
                node.actions.append((self.now, action))
                self._group_op(name, action)
            case Exit():
                node.machine = None
                node.epoch += 1
            case FencePeer(peer=target):
                self._schedule(self.now + self.op_s, name, ("fence", target))

    def _group_op(self, name: str, action: Action) -> None:
        match action:
            case StartGroup(group=key):
                self.broken -= {(name, m.resource) for m in self.monitors if m.group == key}
                self.hung -= {(name, m.resource) for m in self.monitors if m.group == key}
                ok = (name, key) not in self.fail_start
                self._schedule(
                    self.now + self.op_s, name, GroupStarted(key, ok, "" if ok else "scripted failure")
                )
            case StopGroup(group=key):
                ok = (name, key) not in self.fail_stop
                stopped = GroupStopped(key, ok, "" if ok else "scripted stop failure", "" if ok else "svc")
                self._schedule(self.now + self.op_s, name, stopped)
            case RestartGroup(group=key, resource=resource):
                self.broken.discard((name, resource))
                self.hung.discard((name, resource))
                ok = (name, key) not in self.fail_start
                restarted = GroupRestarted(
                    key, ok, "" if ok else "scripted failure", resource, "" if ok else "start"
                )
                self._schedule(self.now + 2 * self.op_s, name, restarted)
            case RunMonitor(group=key, resource=resource, timeout_s=timeout_s, run=run):
                if (name, resource) in self.hung:
                    failed = MonitorFailed(key, resource, run, -9, "killed", timed_out=True)
                    self._schedule(self.now + timeout_s, name, failed)
                elif (name, resource) in self.broken:
                    stopped = MonitorFailed(key, resource, run, 3, "stopped")
                    self._schedule(self.now + self.op_s, name, stopped)
                else:
                    self._schedule(self.now + self.op_s, name, MonitorOk(key, resource, run))

    def _broadcast(self, to: str, src: str, status: PeerStatus) -> None:
        if to in self.deaf:
            return
        first = True
        for link, up in self.links_up.items():
            if not up:
                continue
            self._schedule(
                self.now + self.latency_s, to, HeartbeatReceived(src, link, status if first else None)
            )
            first = False

    def _check_dual(self) -> None:
        for spec in self.groups:
            both = len(self.holders(spec.key)) > 1
            if both and spec.key not in self._dual:
                self._dual.add(spec.key)
                self.dual_starts.append((self.now, spec.key))
            elif not both:
                self._dual.discard(spec.key)
