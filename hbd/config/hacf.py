"""`ha.cf` in heartbeat's syntax (heartbeat.md §3), plus hbd's own `hbd_*` directives.

Rules kept from heartbeat 3.0.6 (`config.c:parse_config()`):

* `#` starts a comment anywhere on a line.
* The first word is the directive (case matters, as in heartbeat). For option directives the
  rest is split on blanks and commas and each token is applied on its own (`node a b`);
  media and `stonith_host` get the whole line, split on blanks.
* Order matters: `udpport` and `baud` apply to the media lines *after* them.
* Times: `N` or `N.M` seconds, or a suffix `ms`/`msec`/`us`/`usec` inside the token
  (`500ms`, `1.5`), rounded to whole milliseconds (glue's `cl_get_msec()`).
* Booleans: true/on/yes/y/1 and false/off/no/n/0, any case.

Every directive is a row of `DIRECTIVES` (name, parser, help). A parser gets the line's
tokens and records values or problems in a `ParseState`; `parse_hacf()` then fills heartbeat's
derived defaults and runs the start-up checks. Problems are collected, never raised here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hbd.config import media
from hbd.config.directive import (
    DEFAULT_BAUD,
    DEFAULT_UDPPORT,
    Derived,
    Directive,
    ParseState,
    ignored,
    resolve,
    setting,
    unsupported,
    where_of,
)
from hbd.config.errors import Diagnostics
from hbd.config.model import HOST_MAP_PARAM, AutoFailback, ClusterConfig, StonithHost, parse_host_map
from hbd.config.monitor import parse_monitor
from hbd.config.syntax import (
    FALSE_WORDS,
    BadValue,
    parse_bool,
    parse_int,
    parse_ipv4,
    parse_node_name,
    parse_time_ms,
)

DEFAULT_KEEPALIVE_MS = 1000
DEFAULT_DEADTIME_MS = 30000
MAX_NODES = 2  # this version of hbd; heartbeat allowed 100
SYSLOG_FACILITIES = frozenset(
    ["auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp"]
    + [f"local{i}" for i in range(8)]
    + ["none"]
)
_PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# A fence agent is a file name, never a path: hbd looks it up only in fixed directories (hbd.fencing).
_AGENT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def _time_positive(token: str) -> int:
    ms = parse_time_ms(token)
    if ms <= 0:
        raise BadValue(f"time {token!r} must be more than 0")
    return ms


def _auto_failback(token: str) -> AutoFailback:
    try:
        return AutoFailback(token.lower())
    except ValueError:
        raise BadValue(f"bad value {token!r}", "on, off or legacy") from None


def _facility(token: str) -> str:
    if token.lower() not in SYSLOG_FACILITIES:
        raise BadValue(f"unknown syslog facility {token!r}", "daemon, local0..local7, ... or none")
    return token.lower()


def _absolute_path(token: str) -> str:
    if not token.startswith("/"):
        raise BadValue(f"path {token!r} is not absolute", "start it with /")
    return token


def _listen_address(token: str) -> tuple[str, int]:
    """`ADDR:PORT` with an IPv4 address (0.0.0.0: every interface; port 0: any free one, for tests)."""
    host, sep, port = token.rpartition(":")
    if not sep or not host:
        raise BadValue(f"{token!r} is not ADDR:PORT", "hbd_metrics 127.0.0.1:9694")
    return parse_ipv4(host, "metrics address"), parse_int(port, 0, 65535, "port")


def _initdead_ms(settings: Mapping[str, Any]) -> int:
    """Heartbeat's `init_config()`: initdead follows deadtime when ha.cf does not set it."""
    deadtime: int = settings["deadtime_ms"]
    if deadtime > 10000:
        return deadtime
    if deadtime < 6000:
        return 12000
    return 2 * deadtime


def _parse_node(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if not tokens:
        state.diag.error(line, "node needs at least one name")
    for token in tokens:
        try:
            node = parse_node_name(token)
        except BadValue as bad:
            state.diag.error(line, bad.message, bad.hint)
            continue
        if node in state.node_lines:
            state.diag.warn(line, f"node {node} listed again", f"first on line {state.node_lines[node]}")
            continue
        state.node_lines[node] = line
        state.nodes.append(node)
        if len(state.nodes) == MAX_NODES + 1:
            state.diag.error(
                line, f"node {node}: more than {MAX_NODES} nodes", "hbd supports two-node clusters"
            )


def _parse_ping(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if not tokens:
        state.diag.error(line, "ping needs at least one address", "ping 10.0.0.254")
    for token in tokens:
        try:
            address = parse_ipv4(token, "ping node")
        except BadValue as bad:
            state.diag.error(line, bad.message, bad.hint)
            continue
        if address in state.ping_nodes:
            state.diag.error(line, f"ping node {address} listed twice")
            continue
        state.ping_nodes.append(address)


def _parse_stonith_host(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    """`stonith_host <host|*> <agent> [params...]`.

    Parameter mapping (hbd.fencing reads `params`):
    * a token `name=value` (name: letters, digits, `_`, `-`) becomes `(name, value)`;
    * any other token is one of heartbeat's positional plugin parameters and is named by its
      position among the positional tokens: `p1`, `p2`, ... So heartbeat's
      `stonith_host * baytech 10.0.0.3 mylogin secret` gives
      `(("p1", "10.0.0.3"), ("p2", "mylogin"), ("p3", "secret"))`.
    The host is lower-cased like node names; `*` means every node.
    """
    if len(tokens) < 2:
        state.diag.error(
            line, "stonith_host needs a host and an agent", "stonith_host HOST|* AGENT [PARAMS...]"
        )
        return
    host = tokens[0] if tokens[0] == "*" else tokens[0].lower()
    agent = tokens[1]
    if not _AGENT_RE.fullmatch(agent):
        state.diag.error(
            line,
            f"stonith_host: bad agent name {agent!r}",
            "a fence agent's file name such as fence_ipmilan, no '/': it is looked up in "
            "<config-dir>/fence.d, /usr/sbin, /sbin, /usr/local/sbin",
        )
        return
    params: list[tuple[str, str]] = []
    positional = 0
    for token in tokens[2:]:
        key, sep, value = token.partition("=")
        if sep and _PARAM_NAME_RE.fullmatch(key):
            if any(k == key for k, _ in params):
                state.diag.error(line, f"stonith_host: parameter {key} given twice")
                return
            if key == HOST_MAP_PARAM:
                try:
                    parse_host_map(value)
                except ValueError as exc:
                    state.diag.error(line, f"stonith_host: {exc}", "pcmk_host_map=bob:plug1;bobek:plug2")
                    return
            params.append((key, value))
        else:
            positional += 1
            params.append((f"p{positional}", token))
    if {"plug", HOST_MAP_PARAM} <= {k for k, _ in params}:
        state.diag.error(line, f"stonith_host: plug and {HOST_MAP_PARAM} both given", "keep one of them")
        return
    state.stonith_hosts.append(StonithHost(host, agent, tuple(params), where=where_of(state, line)))


def _parse_resource_path(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if not tokens:
        state.diag.error(line, f"{name} needs at least one directory")
    for token in tokens:
        try:
            state.resource_dirs.append(_absolute_path(token))
        except BadValue as bad:
            state.diag.error(line, f"{name}: {bad.message}", bad.hint)


def _parse_nice_failback(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if len(tokens) != 1:
        state.diag.error(line, "nice_failback takes one value", "better: auto_failback on|off")
        return
    try:
        value = parse_bool(tokens[0])
    except BadValue as bad:
        state.diag.error(line, f"nice_failback: {bad.message}", bad.hint)
        return
    state.nice_failback = (value, line)


DIRECTIVES: dict[str, Directive] = {
    d.name: d
    for d in (
        Directive("node", _parse_node, "cluster member names (uname -n), lower-cased; may repeat"),
        setting(
            "keepalive", "keepalive_ms", _time_positive, "interval between heartbeats", DEFAULT_KEEPALIVE_MS
        ),
        setting(
            "deadtime",
            "deadtime_ms",
            _time_positive,
            "silence after which a peer is dead",
            DEFAULT_DEADTIME_MS,
        ),
        setting(
            "warntime",
            "warntime_ms",
            _time_positive,
            "late-heartbeat warning",
            Derived(lambda v: v["deadtime_ms"] // 2, "deadtime/2"),
        ),
        setting(
            "initdead",
            "initdead_ms",
            _time_positive,
            "deadtime until the peer is first heard",
            Derived(_initdead_ms, "deadtime if over 10, 12 if under 6, else 2 x deadtime"),
        ),
        setting(
            "deadping",
            "deadping_ms",
            _time_positive,
            "deadtime of ping nodes",
            Derived(lambda v: v["deadtime_ms"], "deadtime"),
        ),
        Directive(
            "udpport",
            media.parse_udpport,
            "UDP port of later bcast/ucast lines",
            key="udpport",
            default=DEFAULT_UDPPORT,
        ),
        Directive("baud", media.parse_baud, "speed of later serial lines", key="baud", default=DEFAULT_BAUD),
        Directive(
            "bcast", media.parse_bcast, "bcast IFACE [IFACE...]: broadcast heartbeats", whole_line=True
        ),
        Directive("udp", media.parse_bcast, "old name of bcast", whole_line=True),
        Directive("mcast", media.parse_mcast, "mcast IFACE GROUP PORT TTL(0-4) LOOP(0|1)", whole_line=True),
        Directive("ucast", media.parse_ucast, "ucast IFACE PEER-IP: unicast heartbeats", whole_line=True),
        Directive(
            "serial", media.parse_serial, "serial DEVICE [DEVICE...]: serial heartbeat link", whole_line=True
        ),
        # Unset, `_finish` reads an obsolete nice_failback first, and warns when neither is set.
        setting("auto_failback", "auto_failback", _auto_failback, "on | off | legacy", AutoFailback.LEGACY),
        Directive("nice_failback", _parse_nice_failback, "obsolete: read as auto_failback off|legacy"),
        setting("logfile", "logfile", _absolute_path, "log file"),
        setting("debugfile", "debugfile", _absolute_path, "debug log file"),
        setting("logfacility", "logfacility", _facility, "syslog facility or none"),
        Directive("ping", _parse_ping, "ping IP [IP...]: ping nodes", whole_line=True),
        setting("realtime", "realtime", parse_bool, "lock memory, realtime priority", True),
        Directive(
            "stonith_host", _parse_stonith_host, "stonith_host HOST|* AGENT [PARAMS...]", whole_line=True
        ),
        # hbd's own directives
        setting(
            "hbd_metrics",
            "metrics_listen",
            _listen_address,
            "ADDR:PORT: serve Prometheus metrics at http://ADDR:PORT/metrics",
        ),
        setting(
            "hbd_builtin_ipaddr",
            "builtin_ipaddr",
            parse_bool,
            "manage IPaddr/IPaddr2 in-process (on) or run the scripts (off)",
            True,
        ),
        setting(
            "hbd_stall_aware",
            "stall_aware",
            parse_bool,
            "this node's own stalls (it did not run) do not count as the peer's silence",
            True,
        ),
        Directive("hbd_resource_path", _parse_resource_path, "directories searched for resource scripts"),
        setting(
            "hbd_resource_timeout",
            "resource_timeout_ms",
            _time_positive,
            "time limit of one resource action",
            60000,
        ),
        setting(
            "hbd_fence_delay",
            "fence_delay_ms",
            parse_time_ms,
            "the node holding no groups waits this long before fencing",
            0,
        ),
        setting(
            "hbd_garp_count",
            "garp_count",
            lambda t: parse_int(t, 0, 1000, "count"),
            "gratuitous ARPs sent on takeover",
            5,
        ),
        setting(
            "hbd_garp_interval",
            "garp_interval_ms",
            _time_positive,
            "time between gratuitous ARPs",
            200,
        ),
        Directive(
            "hbd_monitor",
            parse_monitor,
            "RESOURCE INTERVAL [timeout=T] [restarts=N] [window=W]: run its status every INTERVAL; "
            "restart the group on failure, hand it over past N restarts within W (3 within 300)",
            whole_line=True,
        ),
        # heartbeat directives hbd reads and ignores
        Directive("watchdog", ignored("hbd has no watchdog support yet"), "ignored", whole_line=True),
        Directive(
            "respawn", ignored("hbd does not run helper programs (ipfail)"), "ignored", whole_line=True
        ),
        Directive("apiauth", ignored("hbd has no heartbeat client API"), "ignored", whole_line=True),
        Directive("debug", ignored("use hbd --debug"), "ignored"),
        Directive("use_logd", ignored("hbd logs by itself"), "ignored"),
        Directive("conn_logd_time", ignored("hbd logs by itself"), "ignored"),
        Directive("msgfmt", ignored("hbd sends the classic format and reads both"), "ignored"),
        Directive("hopfudge", ignored("hbd does not forward messages"), "ignored"),
        Directive("rtprio", ignored("hbd picks its own priority"), "ignored"),
        Directive("uuidfrom", ignored("hbd identifies nodes by name"), "ignored"),
        Directive("hbgenmethod", ignored("hbd keeps its generation in its state directory"), "ignored"),
        Directive("max_rexmit_delay", ignored("hbd does not retransmit heartbeats"), "ignored"),
        Directive("coredumps", ignored("housekeeping"), "ignored"),
        Directive("coreroot", ignored("housekeeping"), "ignored"),
        Directive("log_badpack", ignored("hbd counts bad packets in its events"), "ignored"),
        Directive("syslogmsgfmt", ignored("housekeeping"), "ignored"),
        Directive("memreserve", ignored("housekeeping"), "ignored"),
        # heartbeat features hbd refuses rather than silently dropping
        Directive("crm", unsupported("hbd runs haresources (v1) clusters only", FALSE_WORDS), "refused"),
        Directive(
            "pacemaker", unsupported("hbd runs haresources (v1) clusters only", FALSE_WORDS), "refused"
        ),
        Directive("autojoin", unsupported("list every member with node", frozenset(["none"])), "refused"),
        Directive("compression", unsupported("hbd messages are small"), "refused"),
        Directive("compression_threshold", unsupported("hbd messages are small"), "refused"),
        Directive("traditional_compression", unsupported("hbd messages are small"), "refused"),
        Directive("stonith", unsupported("use stonith_host HOST AGENT name=value ..."), "refused", True),
        Directive("failfast", unsupported("hbd does not run helper programs"), "refused", True),
        Directive("ping_group", unsupported("use ping"), "refused", True),
        Directive("hbaping", unsupported("use ping"), "refused", True),
        Directive("mcast6", unsupported("IPv6 media are not supported yet: use mcast"), "refused", True),
        Directive("ucast6", unsupported("IPv6 media are not supported yet: use ucast"), "refused", True),
        Directive("ping6", unsupported("IPv6 ping nodes are not supported yet: use ping"), "refused", True),
        Directive("tipc", unsupported("use bcast, mcast, ucast or serial"), "refused", True),
        Directive("rds", unsupported("use bcast, mcast, ucast or serial"), "refused", True),
        Directive("quorum_server", unsupported("no quorum server in hbd"), "refused", True),
        Directive("env", unsupported("set the environment of hbd's service instead"), "refused", True),
        Directive("use_apphbd", unsupported("no apphbd in hbd"), "refused"),
    )
}


# ---------------------------------------------------------------- the file


def strip_comment(raw: str) -> str:
    """Drop a `#` comment (anywhere on the line) and surrounding blanks."""
    return raw.split("#", 1)[0].strip()


def parse_hacf(text: str, diag: Diagnostics, local_node: str | None = None) -> ClusterConfig:
    """Parse ha.cf text. Problems go to `diag`; the value is best-effort when `diag` has errors.

    With `local_node`, also check that this node is listed (heartbeat refuses to start otherwise).
    """
    state = ParseState(diag)
    for number, raw in enumerate(text.splitlines(), start=1):
        content = strip_comment(raw)
        if not content:
            continue
        name, *remainder = content.split(None, 1)
        rest = remainder[0] if remainder else ""
        directive = DIRECTIVES.get(name)
        if directive is None:
            hint = None
            if name.lower() in DIRECTIVES:
                hint = f"directives are lower-case: {name.lower()}"
            diag.error(number, f"unknown directive {name!r}", hint)
            continue
        tokens = rest.split() if directive.whole_line else [t for t in re.split(r"[,\s]+", rest) if t]
        directive.parse(state, tokens, number, name)
    cluster = _finish(state)
    if local_node is not None and state.nodes and local_node.lower() not in state.nodes:
        diag.error(
            min(state.node_lines.values()),
            f"this node, {local_node.lower()}, is not listed ({', '.join(state.nodes)})",
            "node names must match `uname -n` or the nodeinfo file",
        )
    return cluster


def _finish(state: ParseState) -> ClusterConfig:
    """Heartbeat's derived defaults and start-up checks (`init_config()`)."""
    diag, values, lines = state.diag, state.values, state.lines
    settings = resolve(DIRECTIVES, values)
    keepalive, deadtime = settings["keepalive_ms"], settings["deadtime_ms"]
    warntime, initdead, deadping = settings["warntime_ms"], settings["initdead_ms"], settings["deadping_ms"]

    def line_of(*names: str) -> int | None:
        return next((lines[n] for n in names if n in lines), None)

    if deadtime <= 2 * keepalive:
        diag.error(
            line_of("deadtime_ms", "keepalive_ms"),
            f"deadtime {_secs(deadtime)} must be more than 2 x keepalive ({_secs(keepalive)})",
            "raise deadtime or lower keepalive",
        )
    if "warntime_ms" in values and warntime >= deadtime:
        diag.error(
            line_of("warntime_ms"), f"warntime {_secs(warntime)} must be less than deadtime {_secs(deadtime)}"
        )
    if initdead < deadtime:
        diag.error(
            line_of("initdead_ms", "deadtime_ms"),
            f"initdead {_secs(initdead)} must be at least deadtime {_secs(deadtime)}",
            "heartbeat recommends 2 x deadtime or more",
        )
    if "deadping_ms" in values and deadping <= 2 * keepalive:
        diag.error(
            line_of("deadping_ms"),
            f"deadping {_secs(deadping)} must be more than 2 x keepalive ({_secs(keepalive)})",
        )

    if not state.nodes:
        diag.error(None, "no node directive", "list the cluster members: node NAME1 NAME2")
    if not state.media:
        diag.error(None, "no heartbeat medium", "add bcast, mcast, ucast or serial")
    for address in state.ping_nodes:
        if address in state.nodes:
            diag.error(None, f"ping node {address} is also a cluster node", "ping nodes must not be members")
    for stonith in state.stonith_hosts:
        if stonith.host != "*" and state.nodes and stonith.host not in state.nodes:
            diag.error(
                stonith.where.line if stonith.where else None,
                f"stonith_host {stonith.host} is not a configured node",
                "a node name or *",
            )

    auto_failback = values.get("auto_failback")
    if state.nice_failback is not None:
        nice, nice_line = state.nice_failback
        if auto_failback is not None:
            diag.warn(nice_line, "nice_failback ignored: auto_failback is set")
        else:
            auto_failback = AutoFailback.OFF if nice else AutoFailback.LEGACY
            diag.warn(
                nice_line,
                f"nice_failback is obsolete: read as auto_failback {auto_failback.value}",
                f"write auto_failback {auto_failback.value}",
            )
            lines["auto_failback"] = nice_line
    if auto_failback is None:
        auto_failback = DIRECTIVES["auto_failback"].default
        diag.warn(
            None, "auto_failback not set: using heartbeat's default, legacy", "set auto_failback on or off"
        )
    elif auto_failback is AutoFailback.LEGACY and state.nice_failback is None:
        diag.warn(
            lines.get("auto_failback"),
            "auto_failback legacy is deprecated (heartbeat warns too)",
            "set auto_failback on or off",
        )

    settings["auto_failback"] = auto_failback
    # Each setting is the model's field of that name, times in seconds: `keepalive_ms` -> `keepalive_s`.
    fields = {
        (key[: -len("_ms")] + "_s" if key.endswith("_ms") else key): (
            value / 1000 if key.endswith("_ms") else value
        )
        for key, value in settings.items()
    }
    return ClusterConfig(
        nodes=tuple(state.nodes),
        media=tuple(state.media),
        ping_nodes=tuple(state.ping_nodes),
        stonith_hosts=tuple(state.stonith_hosts),
        resource_dirs=tuple(state.resource_dirs),
        monitors=tuple(state.monitors),
        **fields,
    )


def _secs(ms: int) -> str:
    """Milliseconds as a short seconds string for messages: 1500 -> '1.5 s'."""
    return f"{ms / 1000:g} s"
