"""Config values back to heartbeat-syntax files (the lab writes per-node files with these).

Round trip: for any configuration the parsers accept, parsing the rendered text gives the
same values again (ignoring the `where` line positions). Every value is written explicitly,
defaults included, so the file means the same to hbd whatever its defaults become.
A value the syntax cannot express (a blank or `#` in a token, media ports that no single
`udpport` line can produce) raises ValueError rather than writing a file that means
something else.

`redact=True` replaces key material and fencing secrets by `***` (for `hbd check`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hbd.config.directive import DEFAULT_BAUD, DEFAULT_UDPPORT
from hbd.config.model import AuthConfig, ClusterConfig, Medium, Monitor, ResourceGroup, StonithHost

MASK = "***"
# stonith parameter names whose values are secrets; positional ones are unknown, so masked too
_SECRET_NAME_RE = re.compile(r"pass|secret|key|token|community|^p\d+$", re.IGNORECASE)
_POSITIONAL_RE = re.compile(r"p([0-9]{1,9})")  # ASCII and short: int() never refuses it
_PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def format_time(seconds: float) -> str:
    """Seconds as heartbeat time syntax: whole seconds plain (`30`), else milliseconds (`1500ms`)."""
    ms = round(seconds * 1000)
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms}ms"


def _token(text: str, what: str, *, secret: bool = False) -> str:
    if not text or "#" in text or any(c.isspace() for c in text):
        shown = "" if secret else f" {text!r}"
        raise ValueError(f"{what}{shown} cannot be written to a config file (blank, '#' or empty)")
    return text


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def _medium_line(medium: Medium) -> str:
    if medium.kind == "bcast":
        return f"bcast {_token(medium.iface or '', 'interface')}"
    if medium.kind == "ucast":
        return f"ucast {_token(medium.iface or '', 'interface')} {_token(medium.peer or '', 'peer')}"
    if medium.kind == "mcast":
        return (
            f"mcast {_token(medium.iface or '', 'interface')} {_token(medium.group or '', 'group')} "
            f"{medium.port} {medium.ttl if medium.ttl is not None else 1} {int(medium.loop)}"
        )
    if medium.kind == "serial":
        return f"serial {_token(medium.device or '', 'device')}"
    raise ValueError(f"unknown medium kind {medium.kind!r}")


def _setting_changes(
    media: Sequence[Medium], kinds: tuple[str, ...], value_of: str, default: int, final: int, directive: str
) -> tuple[dict[int, str], str | None]:
    """Where one `udpport` (or `baud`) line must go so each medium gets its value.

    Heartbeat applies the setting to media *below* it, so media before the line keep the
    default. Returns {media index: line to put before it} and a line for after all media.
    """
    values = [(i, getattr(m, value_of)) for i, m in enumerate(media) if m.kind in kinds]
    changed = [i for i, v in values if v != default]
    if not changed:
        return {}, (f"{directive} {final}" if final != default and values else None)
    first = changed[0]
    if any(v != final for i, v in values if i >= first) or any(v != default for i, v in values if i < first):
        raise ValueError(f"media {directive} values cannot come from one {directive} line")
    return {first: f"{directive} {final}"}, None


def _stonith_line(stonith: StonithHost, redact: bool) -> str:
    words = ["stonith_host", _token(stonith.host, "stonith host"), _token(stonith.agent, "stonith agent")]
    positional = 0
    for name, value in stonith.params:
        shown = MASK if redact and _SECRET_NAME_RE.search(name) else value
        match = _POSITIONAL_RE.fullmatch(name)
        if match and int(match.group(1)) == positional + 1:
            key, sep, _ = value.partition("=")
            if sep and _PARAM_NAME_RE.fullmatch(key):
                raise ValueError(f"positional stonith parameter {name} looks like name=value")
            positional += 1
            words.append(_token(shown, f"stonith parameter {name}", secret=True))
        else:
            if not _PARAM_NAME_RE.fullmatch(name):
                raise ValueError(f"bad stonith parameter name {name!r}")
            words.append(f"{name}={shown}" if shown else f"{name}=")
            if shown:
                _token(shown, f"stonith parameter {name}", secret=True)
    return " ".join(words)


def render_hacf(cluster: ClusterConfig, *, redact: bool = False) -> str:
    """ha.cf text for `cluster`, every setting explicit."""
    lines = ["# ha.cf written by hbd", f"node {' '.join(_token(n, 'node') for n in cluster.nodes)}"]
    lines += [
        f"keepalive {format_time(cluster.keepalive_s)}",
        f"deadtime {format_time(cluster.deadtime_s)}",
        f"warntime {format_time(cluster.warntime_s)}",
        f"initdead {format_time(cluster.initdead_s)}",
        f"deadping {format_time(cluster.deadping_s)}",
        f"auto_failback {cluster.auto_failback.value}",
        f"realtime {_onoff(cluster.realtime)}",
    ]
    for name, value in (
        ("logfile", cluster.logfile),
        ("debugfile", cluster.debugfile),
        ("logfacility", cluster.logfacility),
    ):
        if value is not None:
            lines.append(f"{name} {_token(value, name)}")
    if cluster.metrics_listen is not None:
        lines.append("hbd_metrics {}:{}".format(*cluster.metrics_listen))

    media = cluster.media
    port_at, port_after = _setting_changes(
        media, ("bcast", "ucast"), "port", DEFAULT_UDPPORT, cluster.udpport, "udpport"
    )
    baud_at, baud_after = _setting_changes(media, ("serial",), "baud", DEFAULT_BAUD, cluster.baud, "baud")
    if not any(m.kind in ("bcast", "ucast") for m in media) and cluster.udpport != DEFAULT_UDPPORT:
        lines.append(f"udpport {cluster.udpport}")
    if not any(m.kind == "serial" for m in media) and cluster.baud != DEFAULT_BAUD:
        lines.append(f"baud {cluster.baud}")
    for index, medium in enumerate(media):
        lines += [x for x in (port_at.get(index), baud_at.get(index)) if x]
        lines.append(_medium_line(medium))
    lines += [x for x in (port_after, baud_after) if x]

    if cluster.ping_nodes:
        lines.append("ping " + " ".join(_token(p, "ping node") for p in cluster.ping_nodes))
    lines += [_stonith_line(s, redact) for s in cluster.stonith_hosts]

    lines.append(f"hbd_builtin_ipaddr {_onoff(cluster.builtin_ipaddr)}")
    if not cluster.stall_aware:  # written only when not the default: exports and goldens stay as they were
        lines.append("hbd_stall_aware off")
    if cluster.resource_dirs:
        lines.append("hbd_resource_path " + " ".join(_token(d, "directory") for d in cluster.resource_dirs))
    lines += [
        f"hbd_resource_timeout {format_time(cluster.resource_timeout_s)}",
        f"hbd_fence_delay {format_time(cluster.fence_delay_s)}",
        f"hbd_garp_count {cluster.garp_count}",
        f"hbd_garp_interval {format_time(cluster.garp_interval_s)}",
    ]
    lines += [_monitor_line(m) for m in cluster.monitors]
    return "\n".join(lines) + "\n"


def _monitor_line(monitor: Monitor) -> str:
    words = ["hbd_monitor", _token(monitor.resource, "monitored resource"), format_time(monitor.interval_s)]
    if monitor.timeout_s is not None:
        words.append(f"timeout={format_time(monitor.timeout_s)}")
    words += [f"restarts={monitor.restarts}", f"window={format_time(monitor.window_s)}"]
    return " ".join(words)


def render_haresources(groups: Iterable[ResourceGroup]) -> str:
    """haresources text: one line per group, home node first."""
    lines = ["# haresources written by hbd"]
    for group in groups:
        specs = [_token(r.spec, "resource") for r in group.resources]
        lines.append(" ".join([_token(group.home, "node"), *specs]))
    return "\n".join(lines) + "\n"


def render_authkeys(auth: AuthConfig, *, redact: bool = False) -> str:
    """authkeys text (write it with mode 0600). `redact` hides the keys."""
    lines = ["# authkeys written by hbd", f"auth {auth.active}"]
    for key in auth.keys:
        if key.method == "crc":
            lines.append(f"{key.index} crc")
            continue
        text = MASK if redact else key.key.decode("utf-8", "surrogateescape")
        if not text or any(c.isspace() for c in text):  # '#' is fine: only a leading '#' is a comment
            raise ValueError(f"key {key.index} cannot be written to authkeys (empty or has a blank)")
        lines.append(f"{key.index} {key.method} {text}")
    return "\n".join(lines) + "\n"
