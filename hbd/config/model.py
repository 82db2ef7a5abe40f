"""The effective configuration of one node, as frozen values.

Parsers (`hacf`, `haresources`, `authkeys`) produce these; everything else only reads them.
Times are float seconds (`*_s`), already defaulted and cross-checked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class AutoFailback(enum.Enum):
    ON = "on"
    OFF = "off"
    LEGACY = "legacy"


@dataclass(frozen=True)
class Where:
    """A place in a config file, for error messages and `hbd check`."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Medium:
    """One heartbeat medium (one `bcast IF`, `mcast ...`, `ucast ...` or `serial DEV` entry).

    `name` is stable and unique: it names the link in events and `hbctl status`
    (`bcast:eth1`, `mcast:eth0:225.0.0.1`, `ucast:eth0:10.0.0.2`, `serial:/dev/ttyS0`).
    """

    kind: str  # "bcast" | "mcast" | "ucast" | "serial"
    name: str
    iface: str | None = None
    port: int | None = None
    group: str | None = None  # mcast group address
    ttl: int | None = None  # mcast ttl 0..4
    loop: bool = False  # mcast loopback
    peer: str | None = None  # ucast peer address
    device: str | None = None  # serial device path
    baud: int | None = None  # serial speed
    where: Where | None = None


@dataclass(frozen=True)
class StonithHost:
    """`stonith_host <host|*> <agent> [name=value ...]`: how to fence a node (used by hbd.fencing)."""

    host: str  # the node this line applies to (heartbeat's fromhost), or "*" for both
    agent: str
    params: tuple[tuple[str, str], ...] = ()
    where: Where | None = None

    def plug_for(self, node: str) -> str | None:
        """The agent's plug for `node`: its entry in `pcmk_host_map` when the line has one (None when
        the map leaves the node out), else the node name itself."""
        text = dict(self.params).get(HOST_MAP_PARAM)
        if text is None:
            return node
        return parse_host_map(text).get(node)


# Pacemaker's name for a fence device's node -> plug map: `pcmk_host_map=bob:vm-12;bobek:vm-13`.
HOST_MAP_PARAM = "pcmk_host_map"


def parse_host_map(text: str) -> dict[str, str]:
    """`node:plug;node:plug` (Pacemaker's pcmk_host_map; `;` separates entries because ha.cf splits a line
    on blanks). Node names are lower-cased like everywhere else. Raises ValueError naming the bad entry."""
    out: dict[str, str] = {}
    for entry in text.split(";"):
        if not entry:
            continue
        node, sep, plug = entry.partition(":")
        if not sep or not node or not plug:
            raise ValueError(f"{HOST_MAP_PARAM} entry {entry!r} is not node:plug")
        if node.lower() in out:
            raise ValueError(f"{HOST_MAP_PARAM} names node {node} twice")
        out[node.lower()] = plug
    if not out:
        raise ValueError(f"{HOST_MAP_PARAM} is empty")
    return out


@dataclass(frozen=True)
class Monitor:
    """`hbd_monitor RESOURCE INTERVAL [timeout=T] [restarts=N] [window=W]`: run RESOURCE's `status` every
    INTERVAL on the node holding its group; on failure restart the group here up to `restarts` times within
    `window_s`, then hand it to the peer. RESOURCE is a resource spec of haresources or a script name (then
    every resource of that name is monitored); the loader refuses one that no group has."""

    resource: str
    interval_s: float
    timeout_s: float | None = None  # None: hbd_resource_timeout
    restarts: int = 3
    window_s: float = 300.0
    where: Where | None = None

    def matches(self, resource: Resource) -> bool:
        return self.resource in (resource.spec, resource.name)


@dataclass(frozen=True)
class ClusterConfig:
    """ha.cf."""

    nodes: tuple[str, ...]
    media: tuple[Medium, ...]
    keepalive_s: float = 1.0
    deadtime_s: float = 30.0
    warntime_s: float = 15.0
    initdead_s: float = 30.0
    deadping_s: float = 30.0
    udpport: int = 694
    baud: int = 19200
    auto_failback: AutoFailback = AutoFailback.LEGACY
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None
    ping_nodes: tuple[str, ...] = ()
    realtime: bool = True
    stonith_hosts: tuple[StonithHost, ...] = ()
    # hbd's own directives (documented in README):
    # `hbd_metrics ADDR:PORT`: serve Prometheus metrics at http://ADDR:PORT/metrics (None: off)
    metrics_listen: tuple[str, int] | None = None
    builtin_ipaddr: bool = True  # `hbd_builtin_ipaddr off` runs resource.d/IPaddr scripts instead
    stall_aware: bool = True  # `hbd_stall_aware off`: a stall of this node counts as the peer's silence
    # `hbd_resource_path DIR [DIR...]`; empty: <config-dir>/resource.d, /etc/init.d
    resource_dirs: tuple[str, ...] = ()
    resource_timeout_s: float = 60.0  # `hbd_resource_timeout`
    # `hbd_fence_delay`: the node not holding groups waits this long before fencing
    fence_delay_s: float = 0.0
    garp_count: int = 5  # `hbd_garp_count`: gratuitous ARPs sent on takeover
    garp_interval_s: float = 0.2  # `hbd_garp_interval`
    monitors: tuple[Monitor, ...] = ()  # `hbd_monitor` lines, in file order


@dataclass(frozen=True)
class Resource:
    """One token of a haresources line: `name::arg1::arg2` (a bare IP is `IPaddr::ip`)."""

    name: str
    args: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return "::".join((self.name, *self.args))


@dataclass(frozen=True)
class IpSpec:
    """The argument of `IPaddr::`/`IPaddr2::` (heartbeat.md §5.1), parsed by
    `hbd.config.haresources.parse_ip_spec`: `ip[/prefix[/iface[:label][/broadcast]]]`."""

    ip: str
    prefix: int | None = None  # None: the resource finds it from the interface's route (findif)
    iface: str | None = None
    label: str | None = None  # IPaddr2 only: the kernel label is f"{iface}:{label}"
    broadcast: str | None = None


@dataclass(frozen=True)
class ResourceGroup:
    """One logical haresources line. The first resource names the group (its key)."""

    home: str
    resources: tuple[Resource, ...]
    where: Where | None = None

    @property
    def key(self) -> str:
        return self.resources[0].spec


@dataclass(frozen=True)
class AuthKey:
    index: int
    method: str  # "crc" | "md5" | "sha1" | "sha256"
    key: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class AuthConfig:
    """authkeys: the index used to sign, and every key a receiver accepts (rotation)."""

    active: int
    keys: tuple[AuthKey, ...]

    def key(self, index: int) -> AuthKey | None:
        for k in self.keys:
            if k.index == index:
                return k
        return None

    @property
    def signing_key(self) -> AuthKey:
        key = self.key(self.active)
        assert key is not None, "authkeys parser guarantees the active index exists"
        return key


@dataclass(frozen=True)
class Config:
    """Everything a node needs, validated as a whole."""

    config_dir: str
    node: str  # the local node name (lower-cased, listed in `nodes`)
    cluster: ClusterConfig
    groups: tuple[ResourceGroup, ...]
    auth: AuthConfig

    @property
    def peers(self) -> tuple[str, ...]:
        return tuple(n for n in self.cluster.nodes if n != self.node)
