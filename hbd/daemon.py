"""The one asyncio adapter: turns I/O into core events and core actions into I/O.

It owns a single timer, re-armed from `NodeMachine.next_deadline()` after every event (the aioquic
pattern). Nothing on the heartbeat path waits for resource scripts, fencing or the disk: those run as tasks
and report back as events.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hbd.config.model import AutoFailback, Config, ResourceGroup
from hbd.control import SCOPES, ControlServer
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
from hbd.core.machine import GroupSpec, NodeMachine, Timing
from hbd.core.monitor import monitor_specs
from hbd.core.status import MESSAGE_TYPE as STATUS
from hbd.core.status import NodeState, StatusError, decode_status
from hbd.event_names import (
    CONFIG_RELOAD_FAILED,
    CONFIG_RELOADED,
    DAEMON_BUG,
    DAEMON_METRICS_FAILED,
    DAEMON_REALTIME,
    DAEMON_RECONCILE,
    DAEMON_STALL,
    DAEMON_START,
    DAEMON_STATE_WRITE,
    DAEMON_STOP,
    GARP_SENT,
    PACKET_REJECTED,
    PEER_GENERATION_RESET,
)
from hbd.events_log import EventLog
from hbd.fencing.agent import agent_dirs
from hbd.fencing.fencer import Fencer
from hbd.notify import Notifier
from hbd.realtime import go_realtime, leave_realtime
from hbd.resources.group import GroupRunner
from hbd.resources.runner import ScriptRunner
from hbd.statefile import ensure_private_dir, write_private
from hbd.supervisor import Supervision
from hbd.transport.base import Transport, TransportError, build_transports
from hbd.transport.ping import Pinger
from hbd.wire.codec import decode as decode_packet
from hbd.wire.codec import encode, encode_rendered, render_fields
from hbd.wire.error import WireError
from hbd.wire.message import Message
from hbd.wire.replay import ECHO_FIELD, REQUESTS, Floor, ReplayGuard, Verdict, echoes, plausible_generation

# Imported where used: hbd.metrics (prometheus_client) only when hbd_metrics is set, reload's modules at the
# first reload.
if TYPE_CHECKING:
    from hbd.config.diff import ConfigDiff
    from hbd.metrics import Metrics, MetricsServer
    from hbd.reload import ReloadPlan

REJECT_LOG_EVERY_S = 10.0
# The peer's newest seq is saved at most this often (and at once when its generation changes, and at a clean
# stop): after a crash, copies from the last second before it may be accepted once more (docs/security.md).
FLOOR_SAVE_EVERY_S = 1.0


@dataclass(frozen=True)
class StatePaths:
    """Where the daemon keeps its runtime files (heartbeat: /run/heartbeat and /var/lib/heartbeat)."""

    run_dir: Path
    lib_dir: Path

    @classmethod
    def from_arg(cls, state_dir: str | None) -> StatePaths:
        if state_dir:
            return cls(Path(state_dir), Path(state_dir))
        return cls(Path("/run/hbd"), Path("/var/lib/hbd"))

    @property
    def socket(self) -> Path:
        return self.run_dir / "control.sock"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "hbd.pid"

    @property
    def events(self) -> Path:
        return self.lib_dir / "events.jsonl"

    @property
    def generation(self) -> Path:
        return self.lib_dir / "generation"

    @property
    def peer_generations(self) -> Path:
        """The newest generation heard from each peer: after our own restart, older ones are replays."""
        return self.lib_dir / "peer-generations.json"

    @property
    def running_marker(self) -> Path:
        """Present while the daemon runs: found at start, it means the last run did not end cleanly."""
        return self.lib_dir / "running"


def next_generation(path: Path) -> int:
    """Heartbeat's hb_generation: raised and fsynced at every start, so (generation, seq) never repeats."""
    try:
        previous = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        previous = int(time.time())
    generation = previous + 1
    write_private(path, f"{generation:15d}\n", fsync=True)
    return generation


def config_digest(config: Config) -> str:
    """A short hash of haresources as understood: the peers compare it (the files must be identical)."""
    text = "\n".join(f"{g.home} " + " ".join(r.spec for r in g.resources) for g in config.groups)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Daemon:
    def __init__(
        self,
        config: Config,
        paths: StatePaths,
        logger: logging.Logger,
        *,
        supervision: Supervision | None = None,
    ) -> None:
        if len(config.peers) != 1:
            raise ValueError("hbd runs two-node clusters: ha.cf must list exactly two nodes")
        self.config = config
        self.paths = paths
        self.logger = logger
        self.node = config.node
        self.peer = config.peers[0]
        for d in {paths.run_dir, paths.lib_dir}:
            ensure_private_dir(d)  # 0700, owned by root or us, else refuse to start (hbd.statefile)
        self.log = EventLog(paths.events, self.node, logger)
        # `hbd_metrics ADDR:PORT`: counters are fed by the event log itself, the state is read at scrape time.
        self.metrics: Metrics | None = None
        self.metrics_server: MetricsServer | None = None
        if config.cluster.metrics_listen is not None:
            from hbd.metrics import Metrics, MetricsServer  # prometheus_client only when configured

            self.metrics = Metrics(self._metrics_state)
            self.log.observers.append(self.metrics.observe)
            self.metrics_server = MetricsServer(self.metrics, *config.cluster.metrics_listen)
        self.supervision = supervision  # set when hbd.supervisor runs this process (restarts it if it dies)
        self.notifier = Notifier.from_env()
        self.generation = 0
        self.seq = 0
        self.replay = ReplayGuard(
            known_generations=_load_generations(paths.peer_generations, time.time()),
            # A lock-out is lifted during a boot once the peer's current generation is this quiet.
            quiet_s=2 * config.cluster.keepalive_s,
        )
        self._saved_floors = self.replay.floors()
        self._floors_saved_at = time.monotonic()
        self.transports: list[Transport] = []
        self.rejected: dict[str, int] = {}
        self._reject_logged_at: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None  # the deadline self._timer is armed for
        # The last packet that decoded, as bytes: the same status arrives once per medium, and a copy
        # byte for byte equal to one already verified (under the same keys) need not be verified again.
        self._last_packet: tuple[bytes, Any, Message] | None = None
        # The last status sent: its fields, and their rendering up to `src` (hbd.wire.codec.render_fields).
        self._sent_fields: tuple[tuple[tuple[str, str], ...], bytes] | None = None
        self._exit: asyncio.Future[int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.groups = {g.key: g for g in config.groups}
        # Groups a reload replaced or removed, as they were: they are stopped with the resources they run.
        self._leaving: dict[str, ResourceGroup] = {}
        self._reload_lock = asyncio.Lock()
        self.runner = GroupRunner(ScriptRunner.from_config(config), config.node, self._emit_from_resources)
        self.ip_groups = _ip_groups(config)
        self.garp_at: dict[str, float] = {}
        self.fencer = Fencer(
            config.node,
            config.cluster.stonith_hosts,
            self._emit_from_resources,
            agent_dirs(config.config_dir),
        )
        self.machine: NodeMachine | None = None
        self.pinger: Pinger | None = None
        if config.cluster.ping_nodes:
            self.pinger = Pinger(config.cluster.ping_nodes, lambda ip: self.feed(PingReplied(ip)))

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._exit = loop.create_future()
        unclean = self.paths.running_marker.exists()
        write_private(self.paths.running_marker, f"{os.getpid()}\n")
        write_private(self.paths.pidfile, f"{os.getpid()}\n")
        self.generation = next_generation(self.paths.generation)
        cluster = self.config.cluster
        self.log.emit(
            DAEMON_START,
            generation=self.generation,
            pid=os.getpid(),
            unclean_start=unclean,
            peer=self.peer,
            media=[m.name for m in cluster.media],
        )
        if cluster.realtime:
            problem = go_realtime()
            if problem:
                self.log.emit(DAEMON_REALTIME, "WARN", cause=problem)
        self.machine = NodeMachine(
            self.node,
            self.peer,
            [GroupSpec(g.key, g.home) for g in self.config.groups],
            Timing(cluster.keepalive_s, cluster.deadtime_s, cluster.warntime_s, cluster.initdead_s),
            auto_failback=cluster.auto_failback is not AutoFailback.OFF,
            fencing=self.fencer.configured_for(self.peer),
            fence_delay_s=cluster.fence_delay_s,
            unclean_start=unclean,
            config_digest=config_digest(self.config),
            ping_targets=cluster.ping_nodes,
            deadping_s=cluster.deadping_s,
            generation=self.generation,
            monitors=monitor_specs(self.config),
            stall_aware=cluster.stall_aware,
        )
        control = ControlServer(self.paths.socket, self._control)
        try:
            self.transports = build_transports(cluster.media, cluster.udpport)
            for transport in self.transports:
                await transport.open(self._on_packet)
            if self.pinger is not None:
                await self.pinger.open()
            await control.start()
            if self.metrics_server is not None:
                await self._serve_metrics(self.metrics_server)
            stuck: tuple[tuple[str, str], ...] = ()
            if self.supervision is not None and self.supervision.restarts:
                stuck = await self._release_leftovers()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.feed, ShutdownRequested())
            loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload("SIGHUP")))
            for group in self.config.groups:
                self._spawn(self.runner.probe_idle(group))  # queued ahead of any start of that group
            # Everything loaded so far lives as long as the daemon: out of the collector's sight, a full
            # collection costs microseconds instead of the ~30 ms that would delay a 10 ms heartbeat.
            gc.collect()
            gc.freeze()
            self.feed(Booted(stop_failed=stuck))  # what could not be stopped stays held, never announced free
            if self.supervision is not None and self.supervision.stop_pending:
                self.feed(ShutdownRequested())  # restarted to finish a stop its predecessor died in
            self.notifier.ready()
            self.notifier.start_watchdog(loop)  # pings from this loop: a stuck loop stops them
            code = await self._exit
        finally:
            self.notifier.stopping()
            if cluster.realtime:
                leave_realtime()
            if self._timer is not None:
                self._timer.cancel()
            await control.close()
            if self.metrics_server is not None:
                await self.metrics_server.close()
            for transport in self.transports:
                with contextlib.suppress(Exception):
                    await transport.close()
            if self.pinger is not None:
                await self.pinger.close()
            for task in list(self._tasks):
                task.cancel()
            if self.replay.floors() != self._saved_floors:
                self._save_generations()
            self.log.emit(DAEMON_STOP, generation=self.generation, rejected=self.rejected)
            self.log.close()
            with contextlib.suppress(FileNotFoundError):
                self.paths.pidfile.unlink()
        self.paths.running_marker.unlink(missing_ok=True)
        return code

    async def _release_leftovers(self) -> tuple[tuple[str, str], ...]:
        """The previous worker died holding groups, and the peer may have taken them over since: release
        what is still running here before booting, so that the core decides afresh from a clean slate (the
        home node gets its groups back by the usual rules) instead of two nodes holding the VIP.

        Returns (group, detail) for each group whose stop failed: the core boots holding those (a stuck
        stop must not turn into restart after restart, each announcing the group free)."""
        stuck: list[tuple[str, str]] = []
        for group in self.config.groups:
            if await self.runner.probe_idle(group):
                continue
            cause = "the previous worker died holding it: released before booting again"
            result = await self.runner.stop(group, cause)
            level = "WARN" if result.ok else "CRITICAL"
            detail = result.detail or ""
            self.log.emit(
                DAEMON_RECONCILE, level, group=group.key, released=result.ok, detail=detail, cause=cause
            )
            if not result.ok:
                stuck.append((group.key, detail))
        return tuple(stuck)

    # ------------------------------------------------------------------ core plumbing

    def feed(self, event: Event) -> None:
        assert self.machine is not None
        now = time.monotonic()
        self._notice_stall(now)
        actions = self.machine.handle(event, now)
        announcing = any(isinstance(a, AnnounceGroup) for a in actions)
        for action in actions:
            if announcing and isinstance(action, SendStatus):
                # This status tells the loser of a split brain that we heard it, and it then drops the
                # address: the gratuitous ARP (the first step of the announce task queued just before)
                # must reach the clients first.
                asyncio.get_running_loop().call_soon(self._send, action.fields)
                continue
            self._do(action)
        self._arm_timer()

    def _arm_timer(self) -> None:
        assert self.machine is not None
        deadline = self.machine.next_deadline()
        if self._timer is not None and deadline == self._timer_at:
            return  # most events leave the next deadline where it was: no new handle for the loop's heap
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            # loop.time() is time.monotonic(): the core's `now` and the timer share one clock.
            self._timer = asyncio.get_running_loop().call_at(deadline, self._timer_fired, deadline)

    def _timer_fired(self, deadline: float) -> None:
        self._timer = None  # it ran: the next _arm_timer must arm anew, even for the same deadline
        if self.metrics is not None:
            self.metrics.timer_late(time.monotonic() - deadline)  # event-loop lateness
        self.feed(TimerFired())

    def _notice_stall(self, now: float) -> None:
        """A status of ours overdue by more than a keepalive when anything at all is handled means this
        process did not run: the peer saw silence because of this node (CPU starvation, a stalled disk, a
        frozen VM), not because of the network. Checked on every event, as after a freeze the queued
        packets are handled before the late timer."""
        assert self.machine is not None
        due = self.machine.next_send_at
        if due is None or self.machine.state is NodeState.STOPPED:
            return
        late = now - due
        if late > self.machine.timing.keepalive_s:
            self.log.emit(DAEMON_STALL, "WARN", late_s=round(late, 4), cause="this node did not run")

    def _do(self, action: Action) -> None:
        match action:
            case SendStatus(fields=fields) | SendMessage(fields=fields):
                self._send(fields)
            case Emit(event=event, level=level, fields=fields):
                self.log.emit(event, level, **fields)
            case StartGroup(group=key, cause=cause):
                self._spawn(self._start_group(key, cause))
            case StopGroup(group=key, cause=cause):
                self._spawn(self._stop_group(key, cause))
            case AnnounceGroup(group=key, cause=cause):
                self._spawn(self._announce_group(key, cause))
            case RestartGroup(group=key, resource=resource, cause=cause):
                self._spawn(self._restart_group(key, resource, cause))
            case RunMonitor(group=key, resource=resource, timeout_s=timeout_s, run=run):
                self._spawn(self._run_monitor(key, resource, timeout_s, run))
            case FencePeer(peer=peer, cause=cause):
                self._spawn(self._fence(peer, cause))
            case Exit(code=code):
                if self._exit is not None and not self._exit.done():
                    self._exit.set_result(code)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.log.emit(DAEMON_BUG, "CRITICAL", cause=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ sending and receiving

    def _send(self, fields: tuple[tuple[str, str], ...]) -> None:
        self.seq += 1
        cached = self._sent_fields
        if cached is not None and cached[0] == fields:
            # The status did not change since the last one: only seq and ts did (src and hg never do).
            tail = f"seq={self.seq:x}\nhg={self.generation:x}\nts={int(time.time()):x}\n".encode()
            self._send_payload(encode_rendered(cached[1] + tail, self.config.auth), STATUS)
            return
        body = dict(fields)
        t = body.pop("t")
        peer_generation = self.replay.generation_of(self.peer)
        if t in REQUESTS and peer_generation is not None:
            # The peer's own generation, echoed: proves to it that this request is no older than its boot.
            body.setdefault(ECHO_FIELD, str(peer_generation))
        message = Message.of(
            [
                ("t", t),
                *body.items(),
                ("src", self.node),
                ("seq", format(self.seq, "x")),
                ("hg", format(self.generation, "x")),
                ("ts", format(int(time.time()), "x")),
            ]
        )
        payload = encode(message, self.config.auth)
        if t == STATUS:  # checked and rendered once: kept without the per-packet seq, hg and ts
            self._sent_fields = (fields, render_fields(Message.of(message.fields[:-3])))
        self._send_payload(payload, t)

    def _send_payload(self, payload: bytes, t: str) -> None:
        for transport in self.transports:
            transport.send(payload)
        if t == STATUS and self.pinger is not None:
            self.pinger.ping_all()

    def _on_packet(self, payload: bytes, link: str) -> None:
        auth = self.config.auth
        last = self._last_packet
        if last is not None and last[1] is auth and last[0] == payload:
            message = last[2]  # the copy of this packet from another medium: verified already
        else:
            try:
                message = decode_packet(payload, auth)
            except WireError as exc:
                self._reject(exc.reason, link, exc.detail)
                return
            self._last_packet = (bytes(payload), auth, message)
        src, seq, generation = message.src, message.seq, message.generation
        if src is None or seq is None or generation is None:
            self._reject("malformed", link, "missing src, seq or hg")
            return
        src = src.lower()
        if src == self.node:
            return  # our own broadcast or a ucast line pointing at ourselves: harmless, as in heartbeat
        if src != self.peer:
            self._reject("foreign_node", link, f"src {src!r} is not in this cluster")
            return
        if not plausible_generation(generation, time.time()):
            self._reject("implausible_generation", link, f"generation {generation} is far ahead of our clock")
            return
        fresh = echoes(message.get(ECHO_FIELD), self.generation)
        if message.msg_type in REQUESTS and not fresh:
            # Signed, but made before our boot (or by a peer that does not see us yet): a capture replayed
            # after our restart must not make us stand by. Refused before it can move the replay window.
            self._reject("stale_request", link, f"{message.msg_type} does not echo our generation")
            return
        check = self.replay.check(src, generation, seq, link, echoes=fresh, now=time.monotonic())
        if check.verdict is Verdict.REPLAY:
            self._reject("replay", link, check.reason)
            return
        if check.recovered:
            self.log.emit(PEER_GENERATION_RESET, "CRITICAL", peer=src, link=link, cause=check.recovered)
        if not check.deliver:
            if check.link_fresh:
                self._heard_copy(src, link)
            return
        saved = self._saved_floors.get(src)
        if saved is None or saved.generation != generation or check.recovered or (
            time.monotonic() - self._floors_saved_at >= FLOOR_SAVE_EVERY_S and saved.seq != seq
        ):
            self._save_generations()
        t = message.msg_type
        if t == STATUS:
            try:
                status = decode_status(dict(message.fields), generation)
            except StatusError as exc:
                self._reject("malformed", link, str(exc))
                return
            self.feed(HeartbeatReceived(src, link, status))
        elif t == "hb_takeover":
            self.feed(HeartbeatReceived(src, link, None))
            scope = message.get("rsc_hold") or "all"
            if scope in SCOPES:
                self.feed(TakeoverAsked(src, scope))
            else:
                self._reject("malformed", link, f"hb_takeover with rsc_hold={scope!r}")
        else:
            self.feed(HeartbeatReceived(src, link, None))

    def _heard_copy(self, src: str, link: str) -> None:
        """A copy of a delivered packet on another link: the core only notes the link (heard_copy) when
        nothing is due before the armed timer; otherwise (and on a new or down link) it gets the event."""
        assert self.machine is not None
        now = time.monotonic()
        due = self._timer_at
        if self._timer is None or due is None or now >= due or not self.machine.heard_copy(link, now):
            self.feed(HeartbeatReceived(src, link, None))
        # Else the timer stays: the link's deadline only moved later, and the next status (armed) is nearly
        # always due first; when the link's deadline was the first, the timer fires early once, finds
        # nothing due and is re-armed (next_deadline() per copy cost more than that).

    def _save_generations(self) -> None:
        """At most once a second (or when the peer restarted): a small atomic write is fine on the receive
        path."""
        self._saved_floors = self.replay.floors()
        self._floors_saved_at = time.monotonic()
        floors = {src: {"generation": f.generation, "seq": f.seq} for src, f in self._saved_floors.items()}
        try:
            write_private(self.paths.peer_generations, json.dumps(floors))
        except OSError as exc:
            self.log.emit(DAEMON_STATE_WRITE, "WARN", cause=f"cannot save peer generations: {exc}")

    def _reject(self, reason: str, link: str, detail: str) -> None:
        """Count every rejected packet; log the first of each reason, then at most every few seconds."""
        count = self.rejected.get(reason, 0) + 1
        self.rejected[reason] = count
        now = time.monotonic()
        last = self._reject_logged_at.get(reason)
        if last is None or now - last >= REJECT_LOG_EVERY_S:
            self._reject_logged_at[reason] = now
            self.log.emit(PACKET_REJECTED, "WARN", reason=reason, link=link, count=count, cause=detail)

    # ------------------------------------------------------------------ resources and fencing

    def _emit_from_resources(self, event: str, level: str = "INFO", **fields: Any) -> None:
        if event == GARP_SENT and fields.get("ip") in self.ip_groups:
            self.garp_at[self.ip_groups[fields["ip"]]] = float(fields.get("first_mono") or time.monotonic())
        self.log.emit(event, level, **fields)

    async def _start_group(self, key: str, cause: str) -> None:
        self.garp_at.pop(key, None)
        self._leaving.pop(key, None)  # a start runs the current resources: the old ones are gone
        result = await self.runner.start(self.groups[key], cause)
        self.feed(GroupStarted(key, result.ok, result.detail, result.failed_resource or ""))
        announced_at = self.garp_at.get(key)
        if result.ok and announced_at is not None:
            self.feed(GroupAnnounced(key, announced_at))

    async def _stop_group(self, key: str, cause: str) -> None:
        group = self._leaving.pop(key, None) or self.groups[key]  # a reload's replaced group: its old self
        result = await self.runner.stop(group, cause)
        self.feed(GroupStopped(key, result.ok, result.detail, result.failed_resource or ""))

    async def _restart_group(self, key: str, resource: str, cause: str) -> None:
        self.garp_at.pop(key, None)
        result = await self.runner.restart(self.groups[key], resource, cause)
        failed = result.failed_resource or ""
        self.feed(GroupRestarted(key, result.ok, result.detail, failed, result.failed_op or ""))

    async def _run_monitor(self, key: str, resource: str, timeout_s: float, run: int) -> None:
        """One check of a monitored resource, as a task: the event loop (and the heartbeats) never wait."""
        group = self.groups.get(key)
        if group is None:  # a reload removed the group while the check was due
            return
        result = await self.runner.monitor(group, resource, timeout_s, "monitor (ha.cf hbd_monitor)")
        outcome = "ok" if result.running else ("timeout" if result.timed_out else "failed")
        self.record_monitor_result(key, resource, outcome)
        if result.running:
            self.feed(MonitorOk(key, resource, run, result.detail))
        else:
            self.feed(MonitorFailed(key, resource, run, result.rc, result.detail, result.timed_out))

    async def _announce_group(self, key: str, cause: str) -> None:
        await self.runner.announce(self.groups[key], cause)

    async def _fence(self, peer: str, cause: str) -> None:
        result = await self.fencer.fence(peer, cause)
        self.feed(FenceFinished(peer, result.ok, result.detail, result.agent))

    # ------------------------------------------------------------------ metrics

    def _metrics_state(self) -> Any:
        from hbd.metrics import state_of

        if self.machine is None:
            return None
        return state_of(
            self.machine,
            time.monotonic(),
            {t.name: t.stats for t in self.transports},
            self.rejected,
            self.supervision.restarts if self.supervision is not None else None,
            self.generation,
        )

    async def _serve_metrics(self, server: MetricsServer) -> None:
        """A metrics endpoint that cannot listen is not worth failing over for: say so and run on."""
        try:
            await server.start()
        except OSError as exc:
            self.metrics_server = None
            listen = f"{server.host}:{server.port}"
            self.log.emit(DAEMON_METRICS_FAILED, "WARN", listen=listen, cause=f"cannot listen: {exc}")

    def record_monitor_result(self, group: str, resource: str, result: str) -> None:
        """The hook for resource monitors: one call per finished status check (ok, failed, timeout...)."""
        if self.metrics is not None:
            self.metrics.monitor_result(group, resource, result)

    # ------------------------------------------------------------------ reload

    async def reload(self, trigger: str) -> dict[str, Any]:
        """SIGHUP / `hbctl reload`: re-read the three files and apply the difference without a restart.
        Invalid files (or a change of the cluster's members) change nothing: the answer and a
        `config.reload_failed` event say why, each problem at its FILE:LINE."""
        from hbd.reload import ReloadRefused, plan_reload  # loaded at the first reload, not at every start

        async with self._reload_lock:  # two reloads at once would diff against a half-applied config
            plan = plan_reload(self.config)
            if isinstance(plan, ReloadRefused):
                cause = "the new configuration is refused: the running one is kept"
                self.log.emit(
                    CONFIG_RELOAD_FAILED, "ERROR", problems=list(plan.problems), trigger=trigger, cause=cause
                )
                return {"ok": False, "error": f"{cause}:\n" + "\n".join(plan.problems)}
            problems = await self._apply_reload(plan)
            diff = plan.diff
            self.log.emit(
                CONFIG_RELOADED,
                "WARN" if problems else "INFO",
                changed=diff.summary(),
                next_start=list(diff.next_start),
                problems=problems,
                trigger=trigger,
                cause=diff.describe(),
            )
            warnings = list(plan.warnings)
            return {"ok": True, "changed": diff.summary(), "problems": problems, "warnings": warnings}

    async def _apply_reload(self, plan: ReloadPlan) -> list[str]:
        """Swap in the new configuration piece by piece; what could not be applied comes back as text."""
        from hbd.config.diff import FENCING_FIELDS, RESOURCE_FIELDS
        from hbd.reload import config_changed

        assert self.machine is not None
        new, diff = plan.config, plan.diff
        problems: list[str] = []
        for key in (*diff.groups_replaced, *diff.groups_removed):
            self._leaving.setdefault(key, self.groups[key])
        self.config = new  # from here on packets are signed and verified with the new keys
        self.groups = {g.key: g for g in new.groups}
        self.ip_groups = _ip_groups(new)
        cluster = new.cluster
        if any(f in diff.cluster for f in RESOURCE_FIELDS):
            self.runner.runner = ScriptRunner.from_config(new)
        if any(f in diff.cluster for f in FENCING_FIELDS):
            self.fencer = Fencer(
                new.node, cluster.stonith_hosts, self._emit_from_resources, agent_dirs(new.config_dir)
            )
        if diff.media_changed:
            problems += await self._reopen_media(new, diff)
        if "ping_nodes" in diff.cluster:
            problems += await self._reopen_pinger(cluster.ping_nodes)
        for group in new.groups:
            if group.key in diff.groups_added:
                self._spawn(self.runner.probe_idle(group))  # queued ahead of any start, as at boot
        fencing = self.fencer.configured_for(self.peer)
        digest = config_digest(new)
        self.feed(config_changed(new, fencing=fencing, digest=digest, replaced=diff.groups_replaced))
        return problems

    async def _reopen_media(self, new: Config, diff: ConfigDiff) -> list[str]:
        """Close the transports of media gone or changed, open those of new or changed ones."""
        problems = []
        kept = []
        for transport in self.transports:
            if transport.name in diff.media_removed:
                with contextlib.suppress(Exception):
                    await transport.close()
            else:
                kept.append(transport)
        added = [m for m in new.cluster.media if m.name in diff.media_added]
        for transport in build_transports(added, new.cluster.udpport):
            try:
                await transport.open(self._on_packet)
                kept.append(transport)
            except (OSError, TransportError) as exc:
                problems.append(f"{transport.name}: cannot open: {exc}")
        self.transports = kept
        return problems

    async def _reopen_pinger(self, targets: tuple[str, ...]) -> list[str]:
        if self.pinger is not None:
            await self.pinger.close()
            self.pinger = None
        if not targets:
            return []
        pinger = Pinger(targets, lambda ip: self.feed(PingReplied(ip)))
        try:
            await pinger.open()
        except OSError as exc:
            return [f"ping nodes: cannot open: {exc}"]
        self.pinger = pinger
        return []

    # ------------------------------------------------------------------ control socket

    def _control(self, request: dict[str, Any]) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        assert self.machine is not None
        cmd = request.get("cmd")
        scope = request.get("scope", "all")
        if cmd == "status":
            snap = self.machine.snapshot(time.monotonic())
            snap["generation"] = self.generation
            snap["rejected_packets"] = dict(self.rejected)
            snap["media"] = {t.name: t.stats for t in self.transports}
            snap["supervisor"] = self.supervision.as_dict() if self.supervision is not None else None
            if self.pinger is not None:
                snap["ping_nodes"] = self.pinger.stats
            return {"ok": True, "status": snap}
        if cmd == "reload":
            return self.reload("hbctl reload")
        if cmd == "cleanup":
            group = request.get("group")
            if group not in self.machine.groups:
                known = ", ".join(self.machine.groups) or "none"
                return {"ok": False, "error": f"no resource group {group!r} (groups: {known})"}
            self.feed(CleanupCommanded(str(group)))
            return {"ok": True}
        if cmd in ("standby", "takeover"):
            if scope not in SCOPES:
                return {"ok": False, "error": f"scope must be one of {', '.join(SCOPES)}"}
            if cmd == "standby":
                self.feed(StandbyCommanded(scope))
            else:
                self.feed(TakeoverCommanded(scope, bool(request.get("force", False))))
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}


def _load_generations(path: Path, wall_now: float) -> dict[str, Floor]:
    """The saved floors: `{peer: {"generation": G, "seq": S}}` (or an older hbd's `{peer: G}`). A generation
    no peer could have (far ahead of our clock: forged, or saved by an hbd without that check) is dropped
    rather than locking the peer out."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    floors = {}
    for src, value in data.items():
        gen, seq = (value.get("generation"), value.get("seq", 0)) if isinstance(value, dict) else (value, 0)
        if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (gen, seq)):
            if plausible_generation(gen, wall_now):
                floors[str(src)] = Floor(gen, seq)
    return floors


def _ip_groups(config: Config) -> dict[str, str]:
    """Which group each service address belongs to (to time its gratuitous ARP)."""
    out = {}
    for group in config.groups:
        for resource in group.resources:
            if resource.name in ("IPaddr", "IPaddr2") and resource.args:
                out[resource.args[0].split("/")[0]] = group.key
    return out

