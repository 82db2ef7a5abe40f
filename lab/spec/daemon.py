"""A scenario's `daemon:` keys, one table: what each accepts, and the ha.cf directive it becomes.

`daemon: {keepalive: 50ms, deadtime: 300ms, fencing: on}`. The scenario validator (lab/spec/scenario.py)
checks values by `kind`; lab/render.py writes each key as its `directive` (None: a lab option that becomes
something else, like the fence agent lines for `fencing`); docs/scenarios.md lists the table. hbd's own
parser then reads the rendered ha.cf, so its defaults and limits stay hbd's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hbd.config.directive import DEFAULT_UDPPORT
from lab.spec.duration import DurationError, parse_duration

# hbd's (and heartbeat's) heartbeat UDP port: the lab's nft heartbeat-only drop, mcast lines and peers use it.
HEARTBEAT_UDP_PORT = DEFAULT_UDPPORT

DaemonKind = Literal[
    "duration", "int", "onoff", "auto_failback", "fencing", "nodes", "monitors", "loopback_port"
]


@dataclass(frozen=True)
class DaemonKey:
    name: str
    kind: DaemonKind
    directive: str | None  # the ha.cf directive; None: a lab option
    help: str


DAEMON_KEYS: dict[str, DaemonKey] = {
    k.name: k
    for k in (
        DaemonKey("keepalive", "duration", "keepalive", "time between heartbeats"),
        DaemonKey("deadtime", "duration", "deadtime", "silence after which the peer is dead"),
        DaemonKey("warntime", "duration", "warntime", "silence after which a late heartbeat is logged"),
        DaemonKey("initdead", "duration", "initdead", "deadtime right after boot"),
        DaemonKey("deadping", "duration", "deadping", "silence after which a ping node is dead"),
        DaemonKey("auto_failback", "auto_failback", "auto_failback", "on, off or legacy"),
        DaemonKey("udpport", "int", "udpport", f"UDP port of the heartbeats (default {DEFAULT_UDPPORT})"),
        DaemonKey("builtin_ipaddr", "onoff", "hbd_builtin_ipaddr", "the VIP in-process (on) or by script"),
        DaemonKey("garp_count", "int", "hbd_garp_count", "gratuitous ARPs sent on takeover"),
        DaemonKey("stall_aware", "onoff", "hbd_stall_aware", "own stalls are not the peer's silence"),
        DaemonKey("garp_interval", "duration", "hbd_garp_interval", "time between gratuitous ARPs"),
        DaemonKey("fence_delay", "duration", "hbd_fence_delay", "wait before fencing the peer"),
        DaemonKey("resource_timeout", "duration", "hbd_resource_timeout", "limit for a resource script"),
        DaemonKey(
            "fencing",
            "fencing",
            None,
            "on: fence_lab on the lab's power switch (lab/faults/power_switch.py); fence_docker: Debian's "
            "fence_docker through the Docker API (docker backend only); off",
        ),
        DaemonKey(
            "ping", "nodes", "ping", "ping nodes: lab node names (their first address) or IPv4 addresses"
        ),
        DaemonKey(
            "monitor",
            "monitors",
            "hbd_monitor",
            "resource health checks: `RESOURCE INTERVAL [timeout=T] [restarts=N] [window=W]` (times as "
            "in scenarios: 200ms, 60s) or a list of them; RESOURCE: a haresources resource or script name "
            "(hblab-service, IPaddr)",
        ),
        DaemonKey(
            "metrics",
            "loopback_port",
            "hbd_metrics",
            "a port: each node serves Prometheus metrics on 127.0.0.1:PORT, scraped inside the node during "
            "the run (nodes/<node>/metrics.jsonl; the metrics_agree check)",
        ),
    )
}
DURATION_KEYS = frozenset(k for k, d in DAEMON_KEYS.items() if d.kind == "duration")


def monitor_line(value: object) -> str:
    """A scenario's monitor (`hblab-service 200ms restarts=1 window=60s`) as the rest of an `hbd_monitor`
    line: scenario durations (`60s`, which ha.cf refuses) become milliseconds. ValueError says what is wrong;
    hbd's own parser checks the rest when the lab renders ha.cf."""
    words = value.split() if isinstance(value, str) else []
    if len(words) < 2:
        raise ValueError(f"expected 'RESOURCE INTERVAL [timeout=T] [restarts=N] [window=W]', got {value!r}")
    resource, interval, *options = words

    def ms(text: str) -> str:
        try:
            return f"{round(parse_duration(text) * 1000)}ms"
        except DurationError as exc:
            raise ValueError(str(exc)) from None

    out = [resource, ms(interval)]
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or key not in ("timeout", "restarts", "window"):
            raise ValueError(f"unknown option {option!r} (timeout=T, restarts=N, window=W)")
        out.append(f"{key}={text if key == 'restarts' else ms(text)}")
    return " ".join(out)


@dataclass(frozen=True)
class Fencing:
    """A `daemon.fencing` value: the agent every node runs, and the backends it runs on (None: any)."""

    agent: str | None
    backends: tuple[str, ...] | None = None


FENCING: dict[str, Fencing] = {
    "on": Fencing("fence_lab"),
    "off": Fencing(None),
    "fence_docker": Fencing("fence_docker", ("docker",)),
}
