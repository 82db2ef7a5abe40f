"""Prometheus metrics (`hbd_metrics ADDR:PORT` in ha.cf), in the official client's text format.

Two kinds of numbers, kept apart on purpose:

* counters of decisions (`hbd_events_total`, transitions, failovers, fences, stalls, the takeover breakdown)
  are counted in `observe`, which `EventLog.emit` calls for every record it writes: the counters and
  events.jsonl agree by construction (the lab's `metrics_agree` check verifies it on real runs);
* the present state (peer and link liveness, gap histograms, packet counters of the transports and the wire,
  group roles, supervisor restarts) is read at scrape time from a `State` callable the daemon provides, so
  nothing is duplicated and nothing goes stale.

Scrapes are served by `MetricsServer` on the daemon's own event loop: a scrape runs between two events, never
during one, so a counter and the line of events.jsonl it counts are always seen together (a thread could
scrape in between). One scrape costs well under a millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from hbd.core.machine import NodeMachine
from hbd.core.peer import GAP_EDGES_MS
from hbd.event_names import (
    DAEMON_STALL,
    FENCE_FAILED,
    FENCE_OK,
    FENCE_START,
    GROUP_ACQUIRE_START,
    GROUP_ACTIVE,
    GROUP_FAILED,
    GROUP_MIGRATE,
    GROUP_RELEASE_START,
    GROUP_RELEASED,
    GROUP_RESTART_DONE,
    GROUP_RESTART_START,
    TAKEOVER_BREAKDOWN,
)

# Seconds. Takeovers in the lab take 0.05-2 s; with heartbeat's default deadtime of 30 s, up to a minute.
TAKEOVER_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# How late the daemon ran (a timer firing after its deadline, a status sent late).
LATENESS_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
MAX_CAUSE_LABEL = 60  # causes are a small set of policy phrases; a detail after ':' would explode the labels
GROUP_TRANSITIONS = {
    GROUP_ACQUIRE_START: "acquire",
    GROUP_ACTIVE: "active",
    GROUP_RELEASE_START: "release",
    GROUP_RELEASED: "released",
    GROUP_FAILED: "failed",
    GROUP_RESTART_START: "restart",  # a monitor failure restarts the group in place
    GROUP_RESTART_DONE: "restarted",
    GROUP_MIGRATE: "migrate",  # past the monitor's restarts: handed to the peer
}
# The stages of takeover.breakdown, each a duration field of that record.
TAKEOVER_STAGES = ("detect_s", "start_s", "announce_s")


def cause_label(record: Mapping[str, Any]) -> str:
    """The cause of a record as a bounded label: the phrase before any ':' detail."""
    cause = str(record.get("cause") or "")
    return cause.split(":", 1)[0].strip()[:MAX_CAUSE_LABEL]


def is_failover(record: Mapping[str, Any]) -> bool:
    """A group acquired because of the peer (it died, left, released it, failed it or stands by), as
    opposed to the home node taking its own group. Every such cause of hbd.core.policy starts with 'peer'."""
    return record.get("event") == GROUP_ACQUIRE_START and cause_label(record).startswith("peer")


@dataclass(frozen=True)
class LinkState:
    up: bool
    last_heard_s: float | None  # age of the last packet from the peer on this link
    gap_edges_s: Sequence[float]  # upper bucket edges; the last count is the open bucket above them
    gap_counts: Sequence[int]
    gap_sum_s: float | None = None  # None: the histogram keeps no sum


@dataclass(frozen=True)
class State:
    """What the daemon knows now, in plain values (so this module needs nothing from hbd.core)."""

    node_state: str
    peer: str
    peer_liveness: str  # unknown | alive | dead | gone
    links: Mapping[str, LinkState]
    group_roles: Mapping[str, str]  # group -> role name
    transports: Mapping[str, Mapping[str, int]]  # link -> the transport's counters
    rejected: Mapping[str, int]  # reason -> packets the daemon dropped after decoding started
    supervisor_restarts: int | None  # None: not run by a supervisor
    generation: int = 0


LIVENESS = ("unknown", "alive", "dead", "gone")


class _StateCollector(Collector):
    def __init__(self, state: Callable[[], State | None]) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state()
        if s is None:
            return
        yield from _peer_metrics(s)
        yield from _link_metrics(s)
        yield from _packet_metrics(s)
        roles = GaugeMetricFamily(
            "hbd_group_role", "1 for the role each group has on this node", labels=["group", "role"]
        )
        for group, role in sorted(s.group_roles.items()):
            roles.add_metric([group, role], 1)
        yield roles
        active = GaugeMetricFamily(
            "hbd_group_active", "1 while the group runs on this node", labels=["group"]
        )
        for group, role in sorted(s.group_roles.items()):
            active.add_metric([group], 1 if role == "ACTIVE" else 0)
        yield active
        node = GaugeMetricFamily("hbd_node_state", "1 for this node's state", labels=["state"])
        node.add_metric([s.node_state], 1)
        yield node
        if s.supervisor_restarts is not None:
            yield CounterMetricFamily(
                "hbd_supervisor_restarts",
                "times the supervisor restarted the daemon's worker (daemon.restarted)",
                value=s.supervisor_restarts,
            )
        yield GaugeMetricFamily(
            "hbd_generation", "this daemon's generation (raised at every start)", s.generation
        )


def _peer_metrics(s: State) -> Iterator[Metric]:
    up = GaugeMetricFamily("hbd_peer_up", "1 while the peer is alive", labels=["peer"])
    up.add_metric([s.peer], 1 if s.peer_liveness == "alive" else 0)
    yield up
    liveness = GaugeMetricFamily(
        "hbd_peer_liveness", "1 for the peer's liveness as seen from here", labels=["peer", "liveness"]
    )
    for name in LIVENESS:
        liveness.add_metric([s.peer, name], 1 if s.peer_liveness == name else 0)
    yield liveness


def _link_metrics(s: State) -> Iterator[Metric]:
    up = GaugeMetricFamily("hbd_link_up", "1 while the link carries the peer's heartbeats", labels=["link"])
    age = GaugeMetricFamily(
        "hbd_link_last_heard_seconds", "time since the peer was last heard on the link", labels=["link"]
    )
    gaps = HistogramMetricFamily(
        "hbd_link_gap_seconds", "time between two packets from the peer on the link", labels=["link"]
    )
    for name, link in sorted(s.links.items()):
        up.add_metric([name], 1 if link.up else 0)
        if link.last_heard_s is not None:
            age.add_metric([name], link.last_heard_s)
        cumulative, buckets = 0, []
        for edge, count in zip(link.gap_edges_s, link.gap_counts, strict=False):
            cumulative += count
            buckets.append((f"{edge:g}", cumulative))
        buckets.append(("+Inf", sum(link.gap_counts)))
        gaps.add_metric([name], buckets, link.gap_sum_s)
    yield up
    yield age
    yield gaps


def _packet_metrics(s: State) -> Iterator[Metric]:
    received = CounterMetricFamily(
        "hbd_packets_received", "packets the transport handed to the daemon", labels=["link"]
    )
    sent = CounterMetricFamily("hbd_packets_sent", "packets sent", labels=["link"])
    other = CounterMetricFamily(
        "hbd_transport_events",
        "a transport's other counters (dropped_own, dropped_foreign, send/receive errors, reopened, ...)",
        labels=["link", "counter"],
    )
    for link, stats in sorted(s.transports.items()):
        for counter, value in sorted(stats.items()):
            if counter == "received":
                received.add_metric([link], value)
            elif counter == "sent":
                sent.add_metric([link], value)
            else:
                other.add_metric([link, counter], value)
    rejected = CounterMetricFamily(
        "hbd_packets_rejected",
        "packets refused by the wire checks (bad signature, replay, malformed, ...) by reason",
        labels=["reason"],
    )
    for reason, count in sorted(s.rejected.items()):
        rejected.add_metric([reason], count)
    yield from (received, sent, other, rejected)


class Metrics:
    """The daemon's registry. `observe(record)` is fed every event; `collect_state` reads the rest."""

    def __init__(self, state: Callable[[], State | None] = lambda: None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("hbd_events", "records written to events.jsonl", ["event", "level"], registry=r)
        self.transitions = Counter(
            "hbd_group_transitions",
            "group role changes on this node (acquire, active, release, released, failed) by cause",
            ["group", "transition", "cause"],
            registry=r,
        )
        self.failovers = Counter(
            "hbd_failovers",
            "groups this node acquired because of its peer (dead, gone, released, failed, standby)",
            ["group", "cause"],
            registry=r,
        )
        self.takeover = Histogram(
            "hbd_takeover_stage_seconds",
            "takeover.breakdown: detect (last heard -> dead), start (-> resources started), "
            "announce (-> gratuitous ARP), total",
            ["stage"],
            buckets=TAKEOVER_BUCKETS_S,
            registry=r,
        )
        self.fence_attempts = Counter("hbd_fence_attempts", "fence.start", ["peer"], registry=r)
        self.fence_results = Counter(
            "hbd_fence_results", "fence.ok / fence.failed", ["peer", "result"], registry=r
        )
        self.stalls = Histogram(
            "hbd_stall_seconds",
            "daemon.stall: how late this node sent its status (it did not run)",
            buckets=LATENESS_BUCKETS_S,
            registry=r,
        )
        self.timer_lateness = Histogram(
            "hbd_timer_lateness_seconds",
            "how late the core's timer fired after its deadline (event-loop lateness)",
            buckets=LATENESS_BUCKETS_S,
            registry=r,
        )
        self.monitor_results = Counter(
            "hbd_monitor_results",
            "resource monitor checks by result (ok, failed, timeout, ...)",
            ["group", "resource", "result"],
            registry=r,
        )
        r.register(_StateCollector(state))

    def observe(self, record: Mapping[str, Any]) -> None:
        """Count one record of events.jsonl (EventLog.emit calls this for each)."""
        event = str(record.get("event"))
        self.events.labels(event, str(record.get("level", "INFO"))).inc()
        if event in GROUP_TRANSITIONS:
            group = str(record.get("group", ""))
            self.transitions.labels(group, GROUP_TRANSITIONS[event], cause_label(record)).inc()
            if is_failover(record):
                self.failovers.labels(group, cause_label(record)).inc()
        elif event == TAKEOVER_BREAKDOWN:
            for stage in TAKEOVER_STAGES:
                value = record.get(stage)
                if isinstance(value, int | float):
                    # The ARP burst's first packet can precede the "started" mark by a few hundred µs.
                    self.takeover.labels(stage.removesuffix("_s")).observe(max(0.0, value))
            total = _takeover_total(record)
            if total is not None:
                self.takeover.labels("total").observe(total)
        elif event == FENCE_START:
            self.fence_attempts.labels(str(record.get("peer", ""))).inc()
        elif event in (FENCE_OK, FENCE_FAILED):
            result = "ok" if event == FENCE_OK else "failed"
            self.fence_results.labels(str(record.get("peer", "")), result).inc()
        elif event == DAEMON_STALL:
            late = record.get("late_s")
            if isinstance(late, int | float):
                self.stalls.observe(late)

    def timer_late(self, late_s: float) -> None:
        self.timer_lateness.observe(max(0.0, late_s))

    def monitor_result(self, group: str, resource: str, result: str) -> None:
        """The hook for resource monitors: one call per finished check (`ok`, `failed`, `timeout`...)."""
        self.monitor_results.labels(group, resource, result).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _takeover_total(record: Mapping[str, Any]) -> float | None:
    """From the last moment the peer was heard (or declared gone) to the gratuitous ARP."""
    end = record.get("garp_sent")
    start = record.get("peer_last_heard", record.get("declared_dead", record.get("peer_gone")))
    if isinstance(end, int | float) and isinstance(start, int | float):
        return max(0.0, end - start)
    return None


# ---------------------------------------------------------------- the HTTP endpoint

REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192


class MetricsServer:
    """`GET /metrics` over HTTP/1.0 on the event loop: one small response per connection, then close.

    A slow or silent client holds only its own connection (every read has a timeout), never the loop."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)

    @property
    def bound_port(self) -> int:
        """The port actually bound (port 0 in ha.cf picks a free one: tests)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            status, body, ctype = self._answer(head)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            status, body, ctype = "400 Bad Request", b"bad request\n", "text/plain"
        try:
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, head: bytes) -> tuple[str, bytes, str]:
        if len(head) > MAX_REQUEST_BYTES:
            return "400 Bad Request", b"request too large\n", "text/plain"
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or parts[0] not in (b"GET", b"HEAD"):
            return "405 Method Not Allowed", b"GET /metrics\n", "text/plain"
        if parts[1].split(b"?", 1)[0] != b"/metrics":
            return "404 Not Found", b"try /metrics\n", "text/plain"
        body = self.metrics.render()
        return "200 OK", b"" if parts[0] == b"HEAD" else body, CONTENT_TYPE_LATEST


def state_of(
    machine: NodeMachine,
    now: float,
    transports: Mapping[str, Mapping[str, int]],
    rejected: Mapping[str, int],
    supervisor_restarts: int | None,
    generation: int,
) -> State:
    """The scrape-time view of a running daemon."""
    edges_s = tuple(edge / 1000.0 for edge in GAP_EDGES_MS)
    peer = machine.peer
    links = {
        name: LinkState(
            up=link.up,
            last_heard_s=None if link.last_heard is None else max(0.0, now - link.last_heard),
            gap_edges_s=edges_s,
            gap_counts=tuple(link.gaps.counts),
            gap_sum_s=link.gaps.sum_ms / 1000.0,
        )
        for name, link in peer.links.items()
    }
    return State(
        node_state=machine.state.name,
        peer=peer.name,
        peer_liveness=peer.liveness.value,
        links=links,
        group_roles={key: g.role.name for key, g in machine.groups.items()},
        transports=transports,
        rejected=dict(rejected),
        supervisor_restarts=supervisor_restarts,
        generation=generation,
    )
