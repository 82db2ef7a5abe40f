"""The node state machine: `handle(event, now) -> actions`, `next_deadline()`, `snapshot()`.

Pure (no I/O, no clock): every decision is reproducible from the event sequence, which is what the
property tests and golden traces rely on.

Node states::

        Booted                 peer heard / initdead over
      ----------> INIT ---------------------------------> RUNNING
                   |                                         |
                   | SIGTERM                        SIGTERM  |
                   v                                         v
               SHUTTING_DOWN <-------------------------------+
                   |
                   | every group released, goodbye sent
                   v
                STOPPED

Group roles (one per resource group)::

      STOPPED --start--> STARTING --ok--> ACTIVE --stop--> STOPPING --ok--> STOPPED
         ^                  |               | ^                |  |
         |                  +--failed--> FAILED <--monitor: ---+  +--failed--> STOP_FAILED
         |                                  |   restarts exhausted            ^    |
         +--cleared by `hbctl takeover` ----+     | ^                          |    | retried by `hbctl
            or `hbctl cleanup`                    v |  monitor failed          |    | cleanup` or SIGTERM:
                                            RESTARTING ----stop failed---------+    v back to STOPPING
                                 (start failed: FAILED)

    A STOP_FAILED group is still held (it may still run here): it keeps the node from exiting, its status
    announces it in `hold` and `sfail`, and the peer starts it only after fencing this node. A worker the
    supervisor restarts boots with the groups it could not stop already STOP_FAILED (STOPPED -> STOP_FAILED).
"""

from __future__ import annotations

import enum
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
    CleanupCommanded,
    ConfigChanged,
    Event,
    FenceFinished,
    GroupAnnounced,
    GroupRestarted,
    GroupStarted,
    GroupStopped,
    HeartbeatReceived,
    MonitorFailed,
    MonitorOk,
    PingReplied,
    ShutdownRequested,
    StandbyCommanded,
    TakeoverAsked,
    TakeoverCommanded,
    TimerFired,
)
from hbd.core.monitor import MonitorSpec, MonitorState, Next
from hbd.core.peer import Liveness, PeerView
from hbd.core.policy import Decision, GroupFacts, Intent, decide
from hbd.core.status import NodeState, PeerStatus, encode_status
from hbd.event_names import (
    CONFIG_MISMATCH,
    FENCE_FAILED,
    FENCE_OK,
    FENCE_OPERATOR_OVERRIDE,
    FENCE_START,
    FENCE_WAIT_OPERATOR,
    GROUP_ACQUIRE_START,
    GROUP_ACTIVE,
    GROUP_CLEANUP,
    GROUP_FAILED,
    GROUP_MIGRATE,
    GROUP_RELEASE_START,
    GROUP_RELEASED,
    GROUP_RESTART_DONE,
    GROUP_RESTART_START,
    GROUP_STOP_FAILED,
    LINK_DOWN,
    LINK_UP,
    MONITOR_FAILED,
    NODE_STANDBY,
    NODE_STATE,
    NODE_STOPPED,
    NODE_TAKEOVER,
    PACKET_REJECTED,
    PEER_DEAD,
    PEER_GONE,
    PEER_STOP_FAILED,
    PEER_UP,
    PEER_WARN,
    PING_DOWN,
    PING_STANDBY,
    PING_STANDBY_OVER,
    PING_UP,
    SPLITBRAIN_DETECTED,
    SPLITBRAIN_HEALED,
    TAKEOVER_BREAKDOWN,
)


class Role(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    FAILED = "failed"
    STOP_FAILED = "stop_failed"
    RESTARTING = "restarting"  # a monitor failure: the group is being restarted here


class FenceState(enum.Enum):
    NOT_NEEDED = "not_needed"
    WAITING = "waiting"  # tie-break delay or retry backoff running
    FENCING = "fencing"  # agent running
    FENCED = "fenced"
    OPERATOR = "operator"  # we were fenced ourselves: wait for peer contact or `hbctl takeover --force`


NODE_TRANSITIONS: frozenset[tuple[NodeState, NodeState]] = frozenset(
    {
        (NodeState.INIT, NodeState.RUNNING),
        (NodeState.INIT, NodeState.SHUTTING_DOWN),
        (NodeState.RUNNING, NodeState.SHUTTING_DOWN),
        (NodeState.SHUTTING_DOWN, NodeState.STOPPED),
    }
)

ROLE_TRANSITIONS: frozenset[tuple[Role, Role]] = frozenset(
    {
        (Role.STOPPED, Role.STARTING),
        (Role.STARTING, Role.ACTIVE),
        (Role.STARTING, Role.FAILED),
        (Role.ACTIVE, Role.STOPPING),
        (Role.STOPPING, Role.STOPPED),
        (Role.STOPPING, Role.STOP_FAILED),
        (Role.FAILED, Role.STOPPED),
        (Role.ACTIVE, Role.RESTARTING),
        (Role.RESTARTING, Role.ACTIVE),
        (Role.RESTARTING, Role.FAILED),  # the start half failed: the daemon stopped the whole group
        (Role.RESTARTING, Role.STOP_FAILED),
        (Role.STOPPING, Role.FAILED),  # handed over by a monitor: stopped here, marked failed for the peer
        (Role.STOP_FAILED, Role.STOPPING),  # the stop retried: `hbctl cleanup` or SIGTERM
        (Role.STOPPED, Role.STOP_FAILED),  # at boot: left running by a dead worker, and its stop failed
    }
)

HELD_ROLES = frozenset({Role.STARTING, Role.ACTIVE, Role.STOPPING, Role.STOP_FAILED, Role.RESTARTING})
FENCE_BACKOFF_MAX_S = 30.0


class IllegalTransition(Exception):
    pass


@dataclass(frozen=True)
class GroupSpec:
    key: str
    home: str


@dataclass(frozen=True)
class Timing:
    keepalive_s: float
    deadtime_s: float
    warntime_s: float
    initdead_s: float


@dataclass
class GroupState:
    spec: GroupSpec
    role: Role = Role.STOPPED
    cause: str = ""  # why the last transition happened
    since: float = 0.0
    standby: bool = False
    # Self-measurement of a takeover: mono times of its stages.
    takeover: dict[str, float] = field(default_factory=dict)
    # Set by a reload: `replace` (its resources changed) stops it if held, then it is decided afresh;
    # `retire` (gone from haresources) stops it if held, then forgets it.
    replace: bool = False
    retire: bool = False
    fail_when_stopped: bool = False  # a monitor hands it over: once stopped it is FAILED here, not STOPPED
    handed_over: bool = False  # FAILED by that hand-over (not a failed start): void once the peer is gone
    # What the last decision for this group was made from (see NodeMachine._reconcile): the same inputs
    # decide the same, so it is not decided again.
    decided_on: tuple[object, ...] | None = None


class NodeMachine:
    def __init__(
        self,
        node: str,
        peer: str,
        groups: list[GroupSpec],
        timing: Timing,
        *,
        auto_failback: bool,
        fencing: bool = False,
        fence_delay_s: float = 0.0,
        unclean_start: bool = False,
        config_digest: str = "",
        ping_targets: tuple[str, ...] = (),
        deadping_s: float | None = None,
        generation: int = 0,
        monitors: tuple[MonitorSpec, ...] = (),
        stall_aware: bool = True,
    ) -> None:
        self.node = node
        self.stall_aware = stall_aware  # `hbd_stall_aware`: our own stalls do not count as the peer's silence
        self.timing = timing
        self.auto_failback = auto_failback
        self.fencing = fencing
        self.fence_delay_s = fence_delay_s
        self.unclean_start = unclean_start
        self.config_digest = config_digest
        self.state = NodeState.INIT
        self.state_cause = "booting"
        self.peer = PeerView(peer, deadtime_s=timing.deadtime_s, warntime_s=timing.warntime_s)
        self.groups = {g.key: GroupState(g) for g in groups}
        self.started_at: float | None = None
        self.next_send_at: float | None = None
        self.last_sent: tuple[tuple[str, str], ...] | None = None
        self.fence_state = FenceState.NOT_NEEDED
        self.fence_at: float | None = None
        self.fence_attempts = 0
        self.fence_cause = ""  # why the next FencePeer: the peer stopped answering, or it cannot stop a group
        self.fence_for_stop_failure = False
        self.fenced_generation: int | None = None  # the peer incarnation a fence ended while it was alive
        self.peer_stop_failed: frozenset[str] = frozenset()  # groups the peer announces it could not stop
        self.peer_forced_down = False
        self.dead_since: float | None = None
        self.split_brain_since: float | None = None
        self.peer_up_at: float | None = None  # when the peer last became alive
        self.digest_warned_for: int | None = None
        self.ping_targets = ping_targets
        self.deadping_s = deadping_s if deadping_s is not None else timing.deadtime_s
        self.ping_last: dict[str, float] = {}
        self.ping_up: set[str] = set()
        self.ping_standby = False
        self.ping_measured = False
        self.generation = generation
        self.monitors = {(m.group, m.resource): MonitorState(m) for m in monitors}
        self.monitor_runs = 0  # ids of RunMonitor actions: a result carrying an older one is stale
        self.reconciled_on: tuple[object, ...] | None = None  # the node-wide inputs of the last reconcile

    # ------------------------------------------------------------------ public API

    def handle(self, event: Event, now: float) -> list[Action]:
        out: list[Action] = []
        if not isinstance(event, Booted) and self.started_at is None:
            raise IllegalTransition(f"{type(event).__name__} before Booted")
        if self.state is NodeState.STOPPED:
            return out
        if self.stall_aware and not isinstance(event, Booted):
            self._excuse_own_stall(now)  # before any deadline is judged, the queued heartbeat's included
        match event:
            case Booted():
                self._booted(now, out)
                self._held_at_boot(event.stop_failed, now, out)
            case HeartbeatReceived():
                self._timers(now, out)
                self._heartbeat(event, now, out)
            case TimerFired():
                self._timers(now, out)
            case GroupStarted():
                self._group_started(event, now, out)
            case GroupStopped():
                self._group_stopped(event, now, out)
            case GroupAnnounced():
                self._group_announced(event, now, out)
            case PingReplied():
                self._timers(now, out)
                self._ping_replied(event.target, now, out)
            case FenceFinished():
                self._fence_finished(event, now, out)
            case StandbyCommanded():
                self._standby(event.scope, now, out, cause="hbctl standby")
            case TakeoverCommanded():
                self._takeover_commanded(event, now, out)
            case TakeoverAsked():
                self._standby(_mirror_scope(event.scope), now, out, cause=f"{event.peer} asked to take over")
            case MonitorOk() | MonitorFailed():
                self._timers(now, out)
                self._monitor_result(event, now, out)
            case GroupRestarted():
                self._group_restarted(event, now, out)
            case CleanupCommanded():
                self._cleanup(event.group, now, out)
            case ConfigChanged():
                self._timers(now, out)  # deadlines due under the old timings fire under them
                self._config_changed(event, now)
            case ShutdownRequested():
                if self.state is not NodeState.SHUTTING_DOWN:
                    self._set_state(NodeState.SHUTTING_DOWN, "shutdown requested", now, out)
                for g in self.groups.values():  # a stop that failed is tried again, once per SIGTERM
                    if g.role is Role.STOP_FAILED:
                        self._retry_stop(g, "shutdown requested: retrying the stop that failed", now, out)
        self._reconcile(now, out)
        self._maybe_send(now, out)
        self._maybe_exit(out)
        return out

    def heard_copy(self, link: str, now: float) -> bool:
        """A packet from the peer that carries nothing new (a copy of a status already delivered on
        another link), while nothing is due: the caller checked that `now` is before next_deadline().
        Then only the link's liveness and gap histogram change, which is all handle() would do with it;
        this skips the rest of handle() (every medium brings one copy per keepalive). Returns False,
        having recorded nothing, when handle() is needed: the link is new or down, or this node is not
        running."""
        view = self.peer.links.get(link)
        if view is None or not view.up or self.state is not NodeState.RUNNING:
            return False
        self.peer.heard(link, now)
        return True

    def next_deadline(self) -> float | None:
        times = [self.next_send_at]
        if self.state is not NodeState.STOPPED and self.started_at is not None:
            times.append(self.peer.death_deadline(self.started_at, self.timing.initdead_s))
            times.append(self.peer.link_deadline())
            if self.fence_state is FenceState.WAITING:
                times.append(self.fence_at)
            times.extend(self.ping_last[t] + self.deadping_s for t in self.ping_up)
            if self.ping_targets and not self.ping_measured:
                times.append(self.started_at + self.deadping_s)
            times.append(self._split_release_deadline())
            times.extend(m.due for m in self.monitors.values() if m.due is not None)
        return min((t for t in times if t is not None), default=None)

    def snapshot(self, now: float) -> dict[str, Any]:
        peer = self.peer
        return {
            "node": self.node,
            "state": self.state.name,
            "cause": self.state_cause,
            "peer": {
                "name": peer.name,
                "liveness": peer.liveness.value,
                "announced": peer.status.state.value if peer.status else None,
                "holds": sorted(peer.holds),
                "last_heard_s": None if peer.last_status_at is None else round(now - peer.last_status_at, 3),
                "fence": self.fence_state.value,
                "links": {
                    name: {
                        "up": link.up,
                        "last_heard_s": None if link.last_heard is None else round(now - link.last_heard, 3),
                        "gaps": link.gaps.as_dict(),
                    }
                    for name, link in sorted(peer.links.items())
                },
                "suggested_deadtime_s": self.suggested_deadtime_s(),
            },
            "groups": {
                key: {
                    "home": g.spec.home,
                    "role": g.role.name,
                    "held_by": self._holder(g),
                    "standby": g.standby,
                    "cause": g.cause,
                    "since_s": round(now - g.since, 3),
                    "last_takeover": dict(g.takeover),
                }
                for key, g in self.groups.items()
            },
            "monitors": [m.snapshot(now) for m in self.monitors.values()],
        }

    def suggested_deadtime_s(self) -> float | None:
        """Twice the largest gap seen on the best link, never under 3 keepalives: a deadtime from data."""
        worst = [link.gaps.max_ms for link in self.peer.links.values() if link.gaps.total >= 20]
        if not worst:
            return None
        return round(max(3 * self.timing.keepalive_s, 2 * min(worst) / 1000.0), 3)

    # ------------------------------------------------------------------ handlers

    def _booted(self, now: float, out: list[Action]) -> None:
        if self.started_at is not None:
            raise IllegalTransition("Booted twice")
        self.started_at = now
        self.next_send_at = now
        if self.fencing and self.unclean_start:
            self.fence_state = FenceState.OPERATOR

    def _excuse_own_stall(self, now: float) -> None:
        """Our status was due at `next_send_at` and we are handling something only now: if that is more
        than a keepalive late (the daemon logs it as `daemon.stall`), this process did not run from then
        until now, and the peer's silence over that time says nothing about the peer: its heartbeats may
        be waiting in our socket buffer (handled right after this), or the whole machine froze and the
        peer with it. So the stall does not count towards its deadtime; a peer that is really dead is
        declared so after the deadtime it had left when we stopped running. A stall under a keepalive
        is normal scheduling jitter and counts as silence, as before."""
        if self.next_send_at is None:
            return
        late = now - self.next_send_at
        if late > self.timing.keepalive_s:
            self.peer.excuse(late)

    def _timers(self, now: float, out: list[Action]) -> None:
        peer = self.peer
        for link in peer.links_gone_silent(now):
            out.append(
                Emit(
                    LINK_DOWN,
                    "WARN",
                    {
                        "peer": peer.name,
                        "link": link.name,
                        "cause": f"nothing heard for {peer.deadtime_s:g} s",
                    },
                )
            )
        deadline = peer.death_deadline(self._started(), self.timing.initdead_s)
        if deadline is not None and now >= deadline:
            if peer.liveness is Liveness.UNKNOWN:
                cause = f"not heard within initdead {self.timing.initdead_s:g} s"
                silence = now - self._started()
            else:
                silence = now - (peer.last_status_at or now)
                links = ", ".join(peer.links) or "no link"
                cause = f"{silence:.3f} s silence on {links}"
            self._peer_dead(now, cause, silence, out)
        if self.fence_state is FenceState.WAITING and self.fence_at is not None and now >= self.fence_at:
            self._fence_now(now, out)
        for target in sorted(self.ping_up):
            if now >= self.ping_last[target] + self.deadping_s:  # the same sum as next_deadline()
                self.ping_up.discard(target)
                cause = f"no echo for {self.deadping_s:g} s"
                out.append(Emit(PING_DOWN, "WARN", {"target": target, "cause": cause}))
        if self.ping_targets and now >= self._started() + self.deadping_s:
            self.ping_measured = True
        self._update_ping_standby(now, out)
        self._monitors_due(now, out)

    # ------------------------------------------------------------------ reload

    def _config_changed(self, ev: ConfigChanged, now: float) -> None:
        """Take the new timings and groups without touching a group that did not change."""
        self.timing = Timing(ev.keepalive_s, ev.deadtime_s, ev.warntime_s, ev.initdead_s)
        self.peer.deadtime_s = ev.deadtime_s
        self.peer.warntime_s = ev.warntime_s
        if self.next_send_at is not None:
            self.next_send_at = min(self.next_send_at, now + ev.keepalive_s)  # a shorter keepalive now
        self.auto_failback = ev.auto_failback
        if self.fencing and not ev.fencing and self.fence_state is FenceState.WAITING:
            self.fence_state = FenceState.NOT_NEEDED
            self.fence_at = None
        self.fencing = ev.fencing
        self.fence_delay_s = ev.fence_delay_s
        self.config_digest = ev.config_digest
        self.digest_warned_for = None  # the peer may now agree, or differ anew: say so again
        self.ping_targets = ev.ping_targets
        self.deadping_s = ev.deadping_s if ev.deadping_s is not None else ev.deadtime_s
        for target in set(self.ping_last) - set(ev.ping_targets):
            self.ping_last.pop(target, None)
            self.ping_up.discard(target)
        homes = dict(ev.groups)
        for key, g in self.groups.items():
            if key not in homes:
                g.retire = True
            else:
                g.spec = GroupSpec(key, homes[key])
                g.replace = g.replace or key in ev.replaced
        existing = dict(self.groups)
        self.groups = {}
        for key, home in ev.groups:  # haresources order, then the groups on their way out
            kept = existing.pop(key, None)
            self.groups[key] = kept if kept is not None else GroupState(GroupSpec(key, home), since=now)
        self.groups.update(existing)
        self._set_monitors(ev.monitors, now)


    def _ping_replied(self, target: str, now: float, out: list[Action]) -> None:
        if target not in self.ping_targets:
            return
        self.ping_last[target] = now
        self.ping_measured = True
        if target not in self.ping_up:
            self.ping_up.add(target)
            out.append(Emit(PING_UP, "INFO", {"target": target}))
        self._update_ping_standby(now, out)

    def _ping_count(self) -> int | None:
        """Ping nodes reached; None until it means something (a reply came, or a whole deadping passed)."""
        return len(self.ping_up) if self.ping_measured else None

    def _update_ping_standby(self, now: float, out: list[Action]) -> None:
        mine = self._ping_count()
        status = self.peer.status if self.peer.liveness is Liveness.ALIVE else None
        theirs = status.ping_nodes if status is not None else None
        worse = mine is not None and theirs is not None and mine < theirs
        if worse != self.ping_standby:
            self.ping_standby = worse
            cause = (
                f"reaching {mine} ping node(s), the peer reaches {theirs}: standing by"
                if worse
                else "ping nodes reachable again"
            )
            out.append(Emit(PING_STANDBY if worse else PING_STANDBY_OVER, "WARN", {"cause": cause}))

    def _peer_dead(self, now: float, cause: str, silence: float, out: list[Action]) -> None:
        peer = self.peer
        was_unknown = peer.liveness is Liveness.UNKNOWN
        peer.liveness = Liveness.DEAD
        self.dead_since = now
        out.append(
            Emit(
                PEER_DEAD,
                "WARN",
                {
                    "peer": peer.name,
                    "silence_s": round(silence, 4),
                    "links": sorted(peer.links),
                    "cause": cause,
                },
            )
        )
        for g in self.groups.values():
            g.standby = False  # a standby is a hand-over to a live peer; with the peer dead it is void
            g.takeover = {"declared_dead": now}
            if peer.last_status_at is not None:
                g.takeover["peer_last_heard"] = peer.last_status_at
        if self.state is NodeState.INIT:
            self._set_state(NodeState.RUNNING, cause, now, out)
        if self.fencing:
            if self.fence_state is FenceState.OPERATOR and was_unknown:
                out.append(
                    Emit(
                        FENCE_WAIT_OPERATOR,
                        "CRITICAL",
                        {
                            "peer": peer.name,
                            "cause": "this node restarted uncleanly (fenced?) and cannot hear its peer: "
                            "not fencing it; waiting for contact or `hbctl takeover --force`",
                        },
                    )
                )
            elif self.fence_state is FenceState.FENCED:
                pass  # fenced while still heard (it could not stop a group): silent since, as it should be
            elif self.fence_state is not FenceState.OPERATOR:
                self.fence_cause, self.fence_for_stop_failure = "", False
                delay = 0.0 if self._holds_any() else self.fence_delay_s
                self._schedule_fence(now + delay, out)

    def _heartbeat(self, ev: HeartbeatReceived, now: float, out: list[Action]) -> None:
        peer = self.peer
        if ev.peer != peer.name:
            out.append(
                Emit(PACKET_REJECTED, "WARN", {"reason": "unknown_node", "link": ev.link, "src": ev.peer})
            )
            return
        came_up, _gap = peer.heard(ev.link, now)
        if came_up:
            out.append(Emit(LINK_UP, "INFO", {"peer": peer.name, "link": ev.link}))
        if ev.status is None:
            return
        gap = peer.status_arrived(ev.status, now)
        if gap is not None and gap > self.timing.warntime_s:
            out.append(
                Emit(
                    PEER_WARN,
                    "WARN",
                    {"peer": peer.name, "gap_s": round(gap, 4), "link": ev.link, "cause": "late heartbeat"},
                )
            )
        self._check_digest(ev.status, out)
        self._update_ping_standby(now, out)
        if ev.status.state is NodeState.STOPPED:
            if peer.liveness is not Liveness.GONE:
                peer.liveness = Liveness.GONE
                out.append(Emit(PEER_GONE, "INFO", {"peer": peer.name, "cause": "peer shut down cleanly"}))
                for g in self.groups.values():
                    g.takeover = {"peer_gone": now}
            if self.state is NodeState.INIT:
                # A goodbye as the first packet: the peer is gone for sure, and no initdead deadline will
                # ever fire for a GONE peer, so waiting in INIT would mean waiting forever.
                self._set_state(NodeState.RUNNING, f"{peer.name} said goodbye on {ev.link}", now, out)
            return
        if peer.liveness is not Liveness.ALIVE:
            previous = peer.liveness
            peer.liveness = Liveness.ALIVE
            self.peer_up_at = now
            out.append(Emit(PEER_UP, "INFO", {"peer": peer.name, "link": ev.link, "was": previous.value}))
            if self.fence_state in (FenceState.WAITING, FenceState.OPERATOR, FenceState.FENCED):
                self.fence_state = FenceState.NOT_NEEDED
                self.fence_at = None
            self.peer_forced_down = False
            both = sorted(k for k, g in self.groups.items() if g.role in HELD_ROLES and k in ev.status.holds)
            if both:
                self.split_brain_since = self.dead_since or now
                out.append(
                    Emit(
                        SPLITBRAIN_DETECTED,
                        "ERROR",
                        {"peer": peer.name, "groups": both, "cause": "both nodes hold these groups"},
                    )
                )
        if self.state is NodeState.INIT:
            self._set_state(NodeState.RUNNING, f"heard {peer.name} on {ev.link}", now, out)
        self._watch_peer_stop_failures(ev.status, now, out)

    def _check_digest(self, status: PeerStatus, out: list[Action]) -> None:
        if not self.config_digest or not status.config_digest or status.config_digest == self.config_digest:
            return
        if self.digest_warned_for != status.generation:
            self.digest_warned_for = status.generation
            out.append(
                Emit(
                    CONFIG_MISMATCH,
                    "ERROR",
                    {
                        "peer": self.peer.name,
                        "cause": "haresources differ between the nodes (digest "
                        f"{self.config_digest} here, {status.config_digest} there)",
                    },
                )
            )

    def _group_started(self, ev: GroupStarted, now: float, out: list[Action]) -> None:
        g = self._group(ev.group)
        if ev.ok:
            duration = now - g.since  # since the start began (STARTING)
            self._set_role(g, Role.ACTIVE, g.cause, now)
            g.takeover["resources_started"] = now
            fields = {"group": g.spec.key, "duration_s": round(duration, 4), "cause": g.cause}
            out.append(Emit(GROUP_ACTIVE, "INFO", {**fields, **self._stage_times(g, now)}))
        else:
            self._set_role(g, Role.FAILED, f"start failed: {ev.detail}", now)
            out.append(
                Emit(
                    GROUP_FAILED,
                    "ERROR",
                    {"group": g.spec.key, "op": "start", "resource": ev.resource, "detail": ev.detail},
                )
            )

    def _group_stopped(self, ev: GroupStopped, now: float, out: list[Action]) -> None:
        g = self._group(ev.group)
        if ev.ok:
            duration = now - g.since  # since the stop began (STOPPING)
            fields = {"group": g.spec.key, "duration_s": round(duration, 4), "cause": g.cause}
            if g.fail_when_stopped:
                g.fail_when_stopped = False
                self._set_role(g, Role.FAILED, g.cause, now)  # the status's `fail` hands it to the peer
                g.handed_over = True
            else:
                self._set_role(g, Role.STOPPED, g.cause, now)
            out.append(Emit(GROUP_RELEASED, "INFO", fields))
            if self.split_brain_since is not None and not self._both_hold():
                out.append(
                    Emit(
                        SPLITBRAIN_HEALED,
                        "WARN",
                        {
                            "peer": self.peer.name,
                            "groups": [g.spec.key],
                            "window_s": round(now - self.split_brain_since, 4),
                        },
                    )
                )
                self.split_brain_since = None
        else:
            g.fail_when_stopped = False
            self._set_role(g, Role.STOP_FAILED, f"stop failed: {ev.detail}", now)
            out.append(
                Emit(
                    GROUP_FAILED,
                    "CRITICAL",
                    {"group": g.spec.key, "op": "stop", "resource": ev.resource, "detail": ev.detail},
                )
            )
            self._stop_failed(g, ev.resource, ev.detail, out)

    def _group_announced(self, ev: GroupAnnounced, now: float, out: list[Action]) -> None:
        g = self._group(ev.group)
        if "garp_sent" in g.takeover or not g.takeover:
            return
        g.takeover["garp_sent"] = ev.at
        marks = dict(g.takeover)
        out.append(
            Emit(TAKEOVER_BREAKDOWN, "INFO", {"group": g.spec.key, **marks, **self._stage_times(g, now)})
        )

    def _stage_times(self, g: GroupState, now: float) -> dict[str, float]:
        """Durations between the stages of the last takeover, in seconds (self-measurement)."""
        t = g.takeover
        spans: dict[str, float] = {}
        if "peer_last_heard" in t and "declared_dead" in t:
            spans["detect_s"] = round(t["declared_dead"] - t["peer_last_heard"], 4)
        start = t.get("fenced", t.get("declared_dead", t.get("peer_gone")))
        if start is not None and "resources_started" in t:
            spans["start_s"] = round(t["resources_started"] - start, 4)
        if "resources_started" in t and "garp_sent" in t:
            spans["announce_s"] = round(t["garp_sent"] - t["resources_started"], 4)
        return spans

    def _fence_finished(self, ev: FenceFinished, now: float, out: list[Action]) -> None:
        if self.fence_state is not FenceState.FENCING:
            return
        if ev.ok:
            self.fence_state = FenceState.FENCED
            self.fence_attempts = 0
            if self.peer.liveness is Liveness.ALIVE and self.peer.status is not None:
                # Fenced while still heard (it could not stop a group): the fence holds for this
                # incarnation only; a status from a new one (it rebooted) means it runs again.
                self.fenced_generation = self.peer.status.generation
            for g in self.groups.values():
                g.takeover["fenced"] = now
            out.append(Emit(FENCE_OK, "WARN", {"peer": ev.peer, "agent": ev.agent, "detail": ev.detail}))
            return
        backoff = min(FENCE_BACKOFF_MAX_S, 2.0 ** min(self.fence_attempts, 5))
        out.append(
            Emit(
                FENCE_FAILED,
                "CRITICAL",
                {
                    "peer": ev.peer,
                    "agent": ev.agent,
                    "detail": ev.detail,
                    "retry_in_s": backoff,
                    "cause": "unconfirmed fence: not taking over the peer's groups",
                },
            )
        )
        self._schedule_fence(now + backoff, out)

    def _schedule_fence(self, at: float, out: list[Action]) -> None:
        self.fence_state = FenceState.WAITING
        self.fence_at = at

    def _fence_now(self, now: float, out: list[Action]) -> None:
        self.fence_state = FenceState.FENCING
        self.fence_at = None
        self.fence_attempts += 1
        cause = self.fence_cause or f"{self.peer.name} stopped answering"
        fields = {"peer": self.peer.name, "attempt": self.fence_attempts, "cause": cause}
        out.append(Emit(FENCE_START, "WARN", fields))
        out.append(FencePeer(self.peer.name, cause))

    def _standby(self, scope: str, now: float, out: list[Action], cause: str) -> None:
        keys = self._scope(scope)
        for key in keys:
            self.groups[key].standby = True
        out.append(Emit(NODE_STANDBY, "INFO", {"scope": scope, "groups": keys, "cause": cause}))

    def _takeover_commanded(self, ev: TakeoverCommanded, now: float, out: list[Action]) -> None:
        keys = self._scope(ev.scope)
        for key in keys:
            g = self.groups[key]
            g.standby = False
            if g.role is Role.FAILED:
                self._set_role(g, Role.STOPPED, "failure cleared by hbctl takeover", now)
        if ev.force and self.peer.liveness is not Liveness.ALIVE:
            self.peer_forced_down = True
            self.fence_state = FenceState.NOT_NEEDED
            out.append(
                Emit(
                    FENCE_OPERATOR_OVERRIDE,
                    "WARN",
                    {
                        "peer": self.peer.name,
                        "cause": "hbctl takeover --force: the operator vouches it is down",
                    },
                )
            )
        out.append(SendMessage((("t", "hb_takeover"), ("rsc_hold", ev.scope))))
        out.append(Emit(NODE_TAKEOVER, "INFO", {"scope": ev.scope, "groups": keys, "force": ev.force}))

    # ------------------------------------------------------------------ resource monitoring (hbd_monitor)

    def _set_monitors(self, specs: tuple[MonitorSpec, ...], now: float) -> None:
        """A reload's monitors: one still there keeps its failures and last result under its new settings;
        a new one of an active group is armed; one gone is dropped (its check in flight is then stale)."""
        old = self.monitors
        self.monitors = {}
        for spec in specs:
            m = old.get((spec.group, spec.resource))
            if m is None:
                m = MonitorState(spec)
                g = self.groups.get(spec.group)
                if g is not None and g.role is Role.ACTIVE:
                    m.arm(now)
            elif m.spec != spec:
                m.spec = spec
                if m.due is not None:
                    m.due = min(m.due, now + spec.interval_s)
            self.monitors[(spec.group, spec.resource)] = m

    def _monitors_of(self, key: str) -> list[MonitorState]:
        return [m for m in self.monitors.values() if m.spec.group == key]

    def _monitors_due(self, now: float, out: list[Action]) -> None:
        for m in self.monitors.values():
            if m.due is None or now < m.due:
                continue
            g = self.groups.get(m.spec.group)
            if g is None or g.role is not Role.ACTIVE or self.state is not NodeState.RUNNING:
                m.disarm()
                continue
            self.monitor_runs += 1
            m.due, m.run = None, self.monitor_runs
            out.append(RunMonitor(m.spec.group, m.spec.resource, m.spec.timeout_s, m.run))

    def _monitor_result(self, ev: MonitorOk | MonitorFailed, now: float, out: list[Action]) -> None:
        m = self.monitors.get((ev.group, ev.resource))
        if m is None or ev.run == 0 or m.run != ev.run:
            return  # the group stopped (or restarted) since this check began: its result says nothing
        g = self.groups.get(ev.group)
        if isinstance(ev, MonitorOk):
            m.record(True, 0, ev.detail, False, now)
            return
        m.record(False, ev.rc, ev.detail, ev.timed_out, now)
        if g is None or g.role is not Role.ACTIVE or self.state is not NodeState.RUNNING:
            return
        count, spec = m.recent(now), m.spec
        step = m.next_step(now)
        why = f"timed out after {spec.timeout_s:g} s" if ev.timed_out else _status_words(ev.rc)
        blocked = self._peer_cannot_run(g) if step is Next.MIGRATE else None
        if step is Next.RESTART:
            cause = f"{spec.resource} {why}: restart {count} of {spec.restarts} within {spec.window_s:g} s"
        elif blocked is not None:
            cause = f"{spec.resource} {why}: restarts exhausted, but {blocked}: restarting here"
        else:
            cause = f"{spec.resource} {why}: restarts exhausted ({count} failures within {spec.window_s:g} s)"
        out.append(
            Emit(
                MONITOR_FAILED,
                "WARN",
                {
                    "group": g.spec.key,
                    "resource": spec.resource,
                    "rc": ev.rc,
                    "result": m.last,
                    "detail": ev.detail[-300:],
                    "failures": count,
                    "restarts": spec.restarts,
                    "window_s": spec.window_s,
                    "next": "migrate" if step is Next.MIGRATE and blocked is None else "restart",
                    "cause": cause,
                },
            )
        )
        if step is Next.MIGRATE and blocked is None:
            g.fail_when_stopped = True
            self._set_role(g, Role.STOPPING, cause, now)
            out.append(
                Emit(
                    GROUP_MIGRATE,
                    "WARN",
                    {
                        "group": g.spec.key,
                        "resource": spec.resource,
                        "failures": count,
                        "window_s": spec.window_s,
                        "cause": cause,
                    },
                )
            )
            out.append(Emit(GROUP_RELEASE_START, "INFO", {"group": g.spec.key, "cause": cause}))
            out.append(StopGroup(g.spec.key, cause))
            return
        self._set_role(g, Role.RESTARTING, cause, now)
        out.append(
            Emit(
                GROUP_RESTART_START,
                "INFO",
                {"group": g.spec.key, "resource": spec.resource, "attempt": count, "cause": cause},
            )
        )
        out.append(RestartGroup(g.spec.key, spec.resource, cause))

    def _peer_cannot_run(self, g: GroupState) -> str | None:
        """Why the peer cannot take the group over now (None: it can): it must be alive and running, see
        this incarnation of us, and neither have failed the group nor stand by."""
        peer = self.peer
        status = peer.status if peer.liveness is Liveness.ALIVE else None
        if status is None:
            return f"the peer {peer.name} is {peer.liveness.value}"
        if status.state is not NodeState.RUNNING:
            return f"the peer {peer.name} is {status.state.value}"
        if status.heard != self.generation:
            return f"the peer {peer.name} has not heard this node yet"
        if g.spec.key in status.failed:
            return f"the peer {peer.name} failed it too"
        if g.spec.key in status.standby:
            return f"the peer {peer.name} stands by"
        return None

    def _group_restarted(self, ev: GroupRestarted, now: float, out: list[Action]) -> None:
        g = self._group(ev.group)
        fields: dict[str, Any] = {
            "group": g.spec.key,
            "ok": ev.ok,
            "duration_s": round(now - g.since, 4),
            "cause": g.cause,
        }
        if ev.ok:
            self._set_role(g, Role.ACTIVE, g.cause, now)
            out.append(Emit(GROUP_RESTART_DONE, "INFO", fields))
            return
        fields.update(op=ev.op, resource=ev.resource, detail=ev.detail)
        out.append(Emit(GROUP_RESTART_DONE, "ERROR", fields))
        if ev.op == "stop":
            self._set_role(g, Role.STOP_FAILED, f"stop failed during a restart: {ev.detail}", now)
            self._stop_failed(g, ev.resource, ev.detail, out)
            level = "CRITICAL"
        else:
            self._set_role(g, Role.FAILED, f"start failed during a restart: {ev.detail}", now)
            level = "ERROR"
        out.append(
            Emit(
                GROUP_FAILED,
                level,
                {"group": g.spec.key, "op": ev.op, "resource": ev.resource, "detail": ev.detail},
            )
        )

    def _take_back(self, g: GroupState, now: float, out: list[Action]) -> None:
        """A group handed to the peer by a monitor, with the peer gone since: nobody else can run it, so this
        node tries again (a start that fails marks it failed as any failed start does)."""
        peer = self.peer
        cause = f"the peer {peer.name} is {peer.liveness.value}: nobody else can run it, trying here"
        self._set_role(g, Role.STOPPED, cause, now)
        out.append(
            Emit(
                GROUP_CLEANUP,
                "WARN",
                {"group": g.spec.key, "cleared_failures": 0, "was_failed": True, "cause": cause},
            )
        )

    def _cleanup(self, key: str, now: float, out: list[Action]) -> None:
        g = self._group(key)
        if g.role is Role.STOP_FAILED:
            # The operator fixed what made the stop fail: try it again (the group stays held meanwhile).
            self._retry_stop(g, "hbctl cleanup: retrying the stop that failed", now, out)
        cleared = sum(m.clear() for m in self._monitors_of(key))
        was_failed = g.role is Role.FAILED
        if was_failed:
            self._set_role(g, Role.STOPPED, "failure cleared by hbctl cleanup", now)
        out.append(
            Emit(
                GROUP_CLEANUP,
                "INFO",
                {
                    "group": key,
                    "cleared_failures": cleared,
                    "was_failed": was_failed,
                    "cause": "hbctl cleanup",
                },
            )
        )

    # ------------------------------------------------------------------ stop failures (here and on the peer)

    def _held_at_boot(self, stuck: tuple[tuple[str, str], ...], now: float, out: list[Action]) -> None:
        """Groups a dead predecessor left running that could not be stopped before this boot: held."""
        for key, detail in stuck:
            g = self.groups.get(key)
            if g is None or g.role is not Role.STOPPED:
                continue
            cause = f"left running by the previous worker, stop failed: {detail}"
            self._set_role(g, Role.STOP_FAILED, cause, now)
            self._stop_failed(g, "", detail, out)

    def _stop_failed(self, g: GroupState, resource: str, detail: str, out: list[Action]) -> None:
        """The CRITICAL `group.stop_failed`: what this node does now, and what the operator does."""
        if self.state is NodeState.SHUTTING_DOWN:
            here = "shutdown blocked: hbd keeps running and holding the group"
        else:
            here = "this node keeps holding the group"
        cause = (
            f"stop of {resource or g.spec.key} failed ({detail.strip()[-200:] or 'no detail'}): {here}, "
            f"announced as held and stop-failed; {self.peer.name} will not start it unless it can fence "
            "this node"
        )
        remedy = (
            f"stop what still runs by hand or fix the cause, then `hbctl cleanup {g.spec.key}` (retries the "
            "stop; a new SIGTERM also does)"
        )
        fields = {
            "group": g.spec.key,
            "resource": resource,
            "detail": detail[-300:],
            "shutting_down": self.state is NodeState.SHUTTING_DOWN,
            "remedy": remedy,
            "cause": cause,
        }
        out.append(Emit(GROUP_STOP_FAILED, "CRITICAL", fields))

    def _retry_stop(self, g: GroupState, cause: str, now: float, out: list[Action]) -> None:
        self._set_role(g, Role.STOPPING, cause, now)
        out.append(Emit(GROUP_RELEASE_START, "INFO", {"group": g.spec.key, "cause": cause}))
        out.append(StopGroup(g.spec.key, cause))

    def _watch_peer_stop_failures(self, status: PeerStatus, now: float, out: list[Action]) -> None:
        """The peer announces groups it could not stop: they stay its (it may still run them). Without
        fencing nothing starts them here; with fencing we fence it, and take over once that is confirmed."""
        peer = self.peer
        if self.fenced_generation is not None and status.generation != self.fenced_generation:
            # A new incarnation of the peer we fenced: the fence is history, and it is alive again.
            self.fenced_generation = None
            if self.fence_state is FenceState.FENCED:
                self.fence_state = FenceState.NOT_NEEDED
        stuck = frozenset(k for k in status.stop_failed if k in self.groups)
        if stuck != self.peer_stop_failed:
            self.peer_stop_failed = stuck
            if stuck:
                then = (
                    "fencing it, then taking them over"
                    if self.fencing
                    else "not starting them while it holds them (no fencing configured): an operator "
                    f"must fix it on {peer.name}"
                )
                out.append(
                    Emit(
                        PEER_STOP_FAILED,
                        "ERROR",
                        {
                            "peer": peer.name,
                            "groups": sorted(stuck),
                            "cause": f"{peer.name} could not stop {', '.join(sorted(stuck))}: {then}",
                        },
                    )
                )
            elif self.fence_state is FenceState.WAITING and self.fence_for_stop_failure:
                self.fence_state, self.fence_at = FenceState.NOT_NEEDED, None  # it managed after all
        could_run = any(self.groups[k].role is not Role.FAILED for k in stuck)
        if stuck and could_run and self.fencing and self.fence_state is FenceState.NOT_NEEDED:
            if self.state is NodeState.RUNNING and not self.peer_forced_down:
                self.fence_cause = f"{peer.name} could not stop {', '.join(sorted(stuck))}"
                self.fence_for_stop_failure = True
                self._fence_now(now, out)

    # ------------------------------------------------------------------ reconciliation

    def _reconcile(self, now: float, out: list[Action]) -> None:
        # Every event reconciles every group, and each group's start or stop is an event: with 100 groups a
        # takeover was 100 x 100 decisions (~2.4 ms per event). A group is decided again only when something
        # its decision reads has changed: the node-wide inputs below or its own (`decided_on`).
        node_wide = self._node_facts(now)
        peer = self.peer
        inputs: tuple[object, ...] = (
            node_wide,
            self.state,
            peer.liveness,
            peer.status,
            peer.holds,
            self.fencing,
            self.fence_state,
            self.peer_forced_down,
            self.ping_standby,
            self.generation,
            self.auto_failback,
            self.split_brain_since,
        )
        if inputs == self.reconciled_on:
            inputs = self.reconciled_on  # the same object: each group's comparison below is by identity
        self.reconciled_on = inputs
        for g in list(self.groups.values()):
            if g.role not in (Role.STOPPED, Role.ACTIVE, Role.FAILED):
                continue  # an operation is in flight; decide again when it reports
            seen = (
                inputs,
                g.spec,
                g.role,
                g.standby,
                g.handed_over,
                g.replace,
                g.retire,
                "reannounced" in g.takeover,
            )
            if seen == g.decided_on:
                continue
            gone = peer.liveness in (Liveness.DEAD, Liveness.GONE)
            if g.role is Role.FAILED and g.handed_over and gone:
                self._take_back(g, now, out)
            if (g.replace or g.retire) and self._reloaded(g, now, out):
                continue
            decision = decide(self._facts(g, now, node_wide))
            self._apply(g, decision, now, out)
            g.decided_on = seen

    def _reloaded(self, g: GroupState, now: float, out: list[Action]) -> bool:
        """A group a reload replaced or removed: hand it over cleanly. True when nothing more to decide."""
        if g.role is Role.ACTIVE:
            what = "removed from haresources" if g.retire else "its resources changed"
            cause = f"reload: {what}: releasing it"
            self._set_role(g, Role.STOPPING, cause, now)
            out.append(Emit(GROUP_RELEASE_START, "INFO", {"group": g.spec.key, "cause": cause}))
            out.append(StopGroup(g.spec.key, cause))
            return True
        if g.retire:
            del self.groups[g.spec.key]
            return True
        if g.role is Role.FAILED:
            self._set_role(g, Role.STOPPED, "reload: its resources changed: failure cleared", now)
        g.replace = False  # released (or never held): the new resources are decided like any group's
        return False

    def _split_release_deadline(self) -> float | None:
        """When a split brain's loser gives up waiting for the home node to hear it (a one-way cut):
        a deadtime after the home node came back, while it still has not heard this incarnation."""
        peer = self.peer
        if self.split_brain_since is None or peer.liveness is not Liveness.ALIVE or self.peer_up_at is None:
            return None
        if peer.status is None or peer.status.heard == self.generation:
            return None
        losing = any(
            g.role is Role.ACTIVE and g.spec.home != self.node and g.spec.key in peer.holds
            for g in self.groups.values()
        )
        return self.peer_up_at + peer.deadtime_s if losing else None

    def _node_facts(self, now: float) -> tuple[bool, bool]:
        """The facts every group shares (ping reachability, whether the peer is deaf to us), found once per
        reconciliation: each is a pass over all groups, and per group they made a 100-group event O(n^2)."""
        deaf_at = self._split_release_deadline()
        return self._ping_count() != 0, deaf_at is not None and now >= deaf_at

    def _facts(self, g: GroupState, now: float, node_wide: tuple[bool, bool] | None = None) -> GroupFacts:
        peer = self.peer
        status = peer.status if peer.liveness is Liveness.ALIVE else None
        ping_ok, peer_deaf_to_me = node_wide if node_wide is not None else self._node_facts(now)
        return GroupFacts(
            key=g.spec.key,
            home_is_me=g.spec.home == self.node,
            i_hold=g.role in HELD_ROLES,
            i_failed=g.role is Role.FAILED,
            i_standby=g.standby or self.ping_standby,
            shutting_down=self.state is NodeState.SHUTTING_DOWN,
            running=self.state is NodeState.RUNNING,
            peer=peer.liveness,
            peer_may_be_taken_over=(
                not self.fencing or self.fence_state is FenceState.FENCED or self.peer_forced_down
            ),
            peer_state=status.state if status else None,
            peer_holds=status is not None and g.spec.key in status.holds,
            peer_failed=status is not None and g.spec.key in status.failed,
            peer_standby=status is not None and g.spec.key in status.standby,
            failback=self.auto_failback,
            ping_ok=ping_ok,
            peer_knows_me=status is not None and status.heard == self.generation,
            peer_deaf_to_me=peer_deaf_to_me,
            peer_fenced=self.fence_state is FenceState.FENCED and peer.liveness is Liveness.ALIVE,
        )

    def _apply(self, g: GroupState, decision: Decision, now: float, out: list[Action]) -> None:
        if decision.intent is Intent.START:
            if g.role is Role.FAILED:
                return
            self._set_role(g, Role.STARTING, decision.cause, now)
            if not decision.takeover:
                g.takeover = {}  # not taking over from a dead or departed peer: no detection marks to keep
            g.takeover["acquire_start"] = now
            out.append(Emit(GROUP_ACQUIRE_START, "INFO", {"group": g.spec.key, "cause": decision.cause}))
            out.append(StartGroup(g.spec.key, decision.cause))
        elif decision.intent is Intent.STOP and g.role is Role.ACTIVE:
            self._set_role(g, Role.STOPPING, decision.cause, now)
            out.append(Emit(GROUP_RELEASE_START, "INFO", {"group": g.spec.key, "cause": decision.cause}))
            out.append(StopGroup(g.spec.key, decision.cause))
        elif (
            decision.intent is Intent.NONE
            and self.split_brain_since is not None
            and g.role is Role.ACTIVE
            and g.spec.home == self.node
            and g.spec.key in self.peer.holds
            and not g.takeover.get("reannounced")
        ):
            # The winner of a split brain re-announces: clients follow whoever sent the last ARP.
            g.takeover["reannounced"] = now
            out.append(AnnounceGroup(g.spec.key, "split brain: this node keeps the group"))

    def _maybe_send(self, now: float, out: list[Action]) -> None:
        fields = self._status_fields()
        due = self.next_send_at is not None and now >= self.next_send_at
        if fields != self.last_sent or due:
            out.append(SendStatus(fields))
            self.last_sent = fields
            self.next_send_at = now + self.timing.keepalive_s

    def _status_fields(self) -> tuple[tuple[str, str], ...]:
        peer_status = self.peer.status if self.peer.liveness is Liveness.ALIVE else None
        mine = PeerStatus(
            state=self.state,
            holds=frozenset(k for k, g in self.groups.items() if g.role in HELD_ROLES),
            failed=frozenset(k for k, g in self.groups.items() if g.role is Role.FAILED),
            stop_failed=frozenset(k for k, g in self.groups.items() if g.role is Role.STOP_FAILED),
            standby=frozenset(k for k, g in self.groups.items() if g.standby or self.ping_standby),
            ping_nodes=self._ping_count(),
            heard=peer_status.generation if peer_status is not None else None,
            generation=self.generation,
            config_digest=self.config_digest,
            deadtime_ms=int(self.timing.deadtime_s * 1000),
        )
        return encode_status(mine)

    def _maybe_exit(self, out: list[Action]) -> None:
        if self.state is not NodeState.SHUTTING_DOWN:
            return
        # STOP_FAILED holds the node up: a goodbye would tell the peer the group is free while it may
        # still run here (docs/security.md, "Crashes and hangs").
        busy = (Role.STARTING, Role.ACTIVE, Role.STOPPING, Role.RESTARTING, Role.STOP_FAILED)
        if any(g.role in busy for g in self.groups.values()):
            return
        self.state = NodeState.STOPPED
        self.state_cause = "every group released"
        fields = self._status_fields()
        out.append(SendStatus(fields))
        out.append(SendStatus(fields))  # the goodbye is what lets the peer skip deadtime: send it twice
        self.next_send_at = None
        out.append(Emit(NODE_STOPPED, "INFO", {"cause": self.state_cause}))
        out.append(Exit(0))

    # ------------------------------------------------------------------ helpers

    def _set_state(self, new: NodeState, cause: str, now: float, out: list[Action]) -> None:
        if (self.state, new) not in NODE_TRANSITIONS:
            raise IllegalTransition(f"node {self.state.name} -> {new.name}")
        out.append(Emit(NODE_STATE, "INFO", {"from": self.state.name, "to": new.name, "cause": cause}))
        self.state = new
        self.state_cause = cause

    def _set_role(self, g: GroupState, new: Role, cause: str, now: float) -> None:
        if (g.role, new) not in ROLE_TRANSITIONS:
            raise IllegalTransition(f"group {g.spec.key}: {g.role.name} -> {new.name}")
        if g.role is Role.FAILED:
            g.handed_over = False
        if new is Role.ACTIVE or g.role is Role.ACTIVE:
            for m in self._monitors_of(g.spec.key):
                # checks run while the group is ACTIVE here, the first one an interval after it became so
                if new is Role.ACTIVE:
                    m.arm(now)
                else:
                    m.disarm()
        g.role = new
        g.cause = cause
        g.since = now

    def _group(self, key: str) -> GroupState:
        if key not in self.groups:
            raise IllegalTransition(f"unknown group {key!r}")
        return self.groups[key]

    def _holder(self, g: GroupState) -> str | None:
        if g.role in HELD_ROLES:
            return self.node
        if g.spec.key in self.peer.holds:
            return self.peer.name
        return None

    def _holds_any(self) -> bool:
        return any(g.role in HELD_ROLES for g in self.groups.values())

    def _both_hold(self) -> bool:
        return any(g.role in HELD_ROLES and k in self.peer.holds for k, g in self.groups.items())

    def _scope(self, scope: str) -> list[str]:
        """Group keys for heartbeat's standby/takeover scopes, relative to this node."""
        if scope == "all":
            return list(self.groups)
        if scope == "local":
            return [k for k, g in self.groups.items() if g.spec.home == self.node]
        if scope == "foreign":
            return [k for k, g in self.groups.items() if g.spec.home != self.node]
        raise ValueError(f"unknown scope {scope!r} (all, local, foreign)")

    def _started(self) -> float:
        assert self.started_at is not None
        return self.started_at


def _mirror_scope(scope: str) -> str:
    """The peer's `local` groups are our `foreign` ones (heartbeat's hb_takeover mapping)."""
    return {"local": "foreign", "foreign": "local"}.get(scope, scope)


def _status_words(rc: int) -> str:
    """An LSB status code as a reason: 3 is stopped, anything else but 0 a failure of the check itself."""
    return "stopped (status rc 3)" if rc == 3 else f"failed (status rc {rc})"
