"""Topologies as data: nodes, LANs, point-to-point links, serial lines and service groups.

A topology file (`lab/topologies/NAME.yaml`) is validated as a whole; every problem is reported
with the file and the YAML path (`lans.lan.members.bob.ip`), all at once, never as a traceback.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lab.paths import TOPOLOGY_DIR

HEARTBEAT_KINDS = ("bcast", "ucast", "mcast", "none")
# pacemaker: Corosync + Pacemaker running what `hbd export pacemaker` makes of hbd's files (lab/pacemaker.py)
DAEMONS = ("hbd", "none", "command", "pacemaker")
ROLES = ("server", "client")
_NODE_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_IFACE_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.]{0,7}$")
_SEGMENT_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_LABEL_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,32}$")
_IMAGE_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_DISK_GROUP_RE = re.compile(r"^[a-z0-9_]+$")
# A file name in resource.d or init.d, then its arguments heartbeat-style: pgpromote::sync
_SCRIPT_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}(::[a-zA-Z0-9_.,/=-]+)*$")


@dataclass(frozen=True)
class TopologyProblem:
    file: str
    path: str
    message: str
    line: int | None = None  # 1-based, where the parser knows it (the shared_disk entries)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path or '<top>'}: {self.message}"


class TopologyError(Exception):
    """Every problem found in one topology file."""

    def __init__(self, problems: list[TopologyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Endpoint:
    """One node's interface on a segment."""

    node: str
    iface: str
    ip: ipaddress.IPv4Interface


@dataclass(frozen=True)
class Segment:
    """A LAN (bridge, any number of members) or a point-to-point link (a crossover cable: two ends).

    Both are a bridge in the lab's switch namespace, so 'pulling the cable' works the same way on both.
    """

    name: str
    kind: str  # "lan" | "link"
    endpoints: tuple[Endpoint, ...]
    heartbeat: str  # how hbd uses it: bcast | ucast | mcast | none

    def endpoint(self, node: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.node == node), None)


@dataclass(frozen=True)
class SerialLine:
    """A null-modem cable between two nodes: a relayed pty pair, `device` is the name each node sees."""

    name: str
    ends: tuple[tuple[str, str], ...]  # (node, device name such as ttyS0)
    heartbeat: bool = True

    def device_of(self, node: str) -> str | None:
        return next((d for n, d in self.ends if n == node), None)


@dataclass(frozen=True)
class Service:
    """A TCP port a group serves on its VIP (what the prober contacts) and the resource that serves it:
    the lab's hblab-service responder (answers with the node name), or with `script:` a real service's
    LSB init script (lab/node/service/NAME, or the node's own /etc/init.d/NAME), started by hbd; `script:
    NAME::ARG...` passes arguments as haresources does."""

    port: int
    label: str
    script: str | None = None

    @property
    def resource(self) -> str:
        return self.script if self.script is not None else f"hblab-service::{self.port}::{self.label}"

    @property
    def script_name(self) -> str | None:
        """The script's file name, without its arguments."""
        return self.script.split("::", 1)[0] if self.script is not None else None


@dataclass(frozen=True)
class Group:
    """A resource group: services, then the service IP (see lab/render.py for why the IP comes last)."""

    name: str
    home: str
    vip: ipaddress.IPv4Interface
    lan: str
    services: tuple[Service, ...]

    @property
    def port(self) -> int:
        """The port the prober contacts on the VIP: the group's first service."""
        return self.services[0].port


@dataclass(frozen=True)
class SharedDisk:
    """One group's shared disk: a directory every server sees (a shared array's, or DRBD's, analogue),
    claimed by the group's hblab-claim resource ahead of its services and, with `writer`, written by the
    lab's hblab-writer (lab/history/shared_disk.py). A topology with one disk keeps the original layout
    (`<run dir>/shared-disk/`, mounted at `<state dir>/disk`); with several, each group's disk is
    `<run dir>/shared-disk/<group>/`, mounted at `<state dir>/disk-<group>`, so one node can hold both."""

    group: str
    writer: bool = True


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str = "server"  # "server" | "client"
    daemon: str = "hbd"  # "hbd" | "none" | "command"
    command: tuple[str, ...] = ()  # for daemon: command (lab tests use `sleep`)
    config_dir: Path | None = None  # take ha.d files from here instead of rendering them
    quorum_only: bool = False  # daemon: pacemaker: a member that gives quorum and never runs a group


@dataclass(frozen=True)
class Topology:
    name: str
    source: Path
    nodes: tuple[NodeSpec, ...]
    segments: tuple[Segment, ...]
    serial_lines: tuple[SerialLine, ...] = ()
    groups: tuple[Group, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # `shared_disk: {group: NAME, writer: BOOL}`, or a list of those (one disk per group): see SharedDisk.
    # `writer: false`: only the claim, no hblab-writer (the disk holds a real service's data).
    shared_disks: tuple[SharedDisk, ...] = ()
    # `image: VARIANT`: the nodes run from that image variant (lab/images/variants.yaml: real services such
    # as apache2 or postgresql): a topology only the docker backend can build.
    image: str | None = None

    @property
    def shared_disk_group(self) -> str | None:
        """The group of the first shared disk (a one-disk topology's only one), or None without a disk."""
        return self.shared_disks[0].group if self.shared_disks else None

    @property
    def shared_disk_writer(self) -> bool:
        """Whether the lab's writer runs on a disk (at most one disk has it: see _Parser.shared_disks)."""
        return any(d.writer for d in self.shared_disks)

    def shared_disk_of(self, group: str) -> SharedDisk | None:
        return next((d for d in self.shared_disks if d.group == group), None)

    def disk_dir(self, base: Path, group: str) -> Path:
        """The directory of `group`'s disk under the run's shared-disk directory `base`."""
        return base if len(self.shared_disks) == 1 else base / group

    def disk_mount(self, group: str) -> str:
        """The mount point's name in a node's state dir (hblab-claim makes it; the services read it)."""
        return "disk" if len(self.shared_disks) == 1 else f"disk-{group}"

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"topology {self.name} has no node {name!r} (nodes: {', '.join(self.node_names)})")

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    @property
    def servers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "server")

    @property
    def client(self) -> NodeSpec | None:
        return next((n for n in self.nodes if n.role == "client"), None)

    def segment(self, name: str) -> Segment:
        for s in self.segments:
            if s.name == name:
                return s
        raise KeyError(f"topology {self.name} has no LAN or link {name!r}")

    def endpoints_of(self, node: str) -> Iterator[tuple[Segment, Endpoint]]:
        for s in self.segments:
            e = s.endpoint(node)
            if e is not None:
                yield s, e

    def heartbeat_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.heartbeat != "none")

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"topology {self.name} has no group {name!r}")

    def vip_iface(self, group: Group, node: str) -> str:
        """The interface that carries the group's VIP on `node` (the LAN interface, where GARP must go)."""
        e = self.segment(group.lan).endpoint(node)
        if e is None:
            raise KeyError(f"node {node} is not on LAN {group.lan}")
        return e.iface


def topology_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return TOPOLOGY_DIR / f"{name_or_path}.yaml"


def available_topologies() -> list[str]:
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml"))


def load_topology(name_or_path: str | Path) -> Topology:
    """Read and validate a topology by name (`two-node`) or path. Raises TopologyError with every problem."""
    path = topology_path(name_or_path)
    if not path.exists():
        known = ", ".join(available_topologies())
        raise TopologyError([TopologyProblem(str(path), "", f"no such topology file (known: {known})")])
    try:
        text = path.read_text()
    except OSError as e:
        raise TopologyError([TopologyProblem(str(path), "", f"cannot read: {e.strerror}")]) from e
    return parse_topology(text, path)


def parse_topology(text: str, path: Path) -> Topology:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise TopologyError([TopologyProblem(str(path), where, f"not valid YAML: {problem}")]) from e
    return _Parser(path, _shared_disk_lines(text)).parse(data)


def _shared_disk_lines(text: str) -> dict[str, int]:
    """`shared_disk` and each of its list entries -> the line it starts on (for their error messages)."""
    root = yaml.compose(text)
    out: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "shared_disk":
            out["shared_disk"] = key.start_mark.line + 1
            if isinstance(value, yaml.SequenceNode):
                for i, item in enumerate(value.value):
                    out[f"shared_disk.{i}"] = item.start_mark.line + 1
    return out


class _Parser:
    """Walks the YAML tree, collecting problems instead of stopping at the first one."""

    def __init__(self, path: Path, lines: dict[str, int] | None = None) -> None:
        self.path = path
        self.lines = lines or {}  # YAML path -> its 1-based line, where parse_topology looked it up
        self.problems: list[TopologyProblem] = []
        self.addresses: dict[ipaddress.IPv4Address, str] = {}

    def err(self, where: str, message: str, line: int | None = None) -> None:
        self.problems.append(TopologyProblem(str(self.path), where, message, line))

    def mapping(self, value: Any, where: str, required: bool = True) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.err(where, f"expected a mapping, got {_kind(value)}")
            return {}
        return value

    def unknown_keys(self, value: dict[str, Any], allowed: set[str], where: str) -> None:
        for k in value:
            if k not in allowed:
                self.err(_join(where, str(k)), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def parse(self, data: Any) -> Topology:
        top = self.mapping(data, "")
        self.unknown_keys(
            top,
            {"name", "description", "nodes", "lans", "links", "serial", "groups", "shared_disk", "image"}
            | {"ha_d"},
            "",
        )
        name = top.get("name", self.path.stem)
        if not isinstance(name, str) or not name:
            self.err("name", "expected a non-empty string")
            name = self.path.stem
        nodes = self.with_ha_d(self.nodes(top.get("nodes")), top.get("ha_d"))
        node_names = {n.name for n in nodes}
        segments: list[Segment] = []
        used_ifaces: dict[tuple[str, str], str] = {}
        for key, kind in (("lans", "lan"), ("links", "link")):
            for seg_name, seg in self.mapping(top.get(key), key, required=False).items():
                s = self.segment(kind, str(seg_name), seg, _join(key, str(seg_name)), node_names, used_ifaces)
                if s is not None:
                    segments.append(s)
        if not segments:
            self.err("lans", "a topology needs at least one LAN or link")
        seg_names = [s.name for s in segments]
        for dup in {n for n in seg_names if seg_names.count(n) > 1}:
            self.err("links", f"segment name {dup!r} is used by both a LAN and a link")
        serial = [
            line
            for sname, sdata in self.mapping(top.get("serial"), "serial", required=False).items()
            if (line := self.serial_line(str(sname), sdata, _join("serial", str(sname)), node_names))
        ]
        by_name = {s.name: s for s in segments}
        groups = [
            g
            for gname, gdata in self.mapping(top.get("groups"), "groups", required=False).items()
            if (g := self.group(str(gname), gdata, _join("groups", str(gname)), nodes, by_name))
        ]
        ports = [(g.vip.ip, s.port) for g in groups for s in g.services]
        if len(ports) != len(set(ports)):
            self.err("groups", "two services share one VIP and port")
        if sum(1 for n in nodes if n.role == "client") > 1:
            self.err("nodes", "at most one node may have role: client (it runs the prober)")
        description = top.get("description", "")
        if not isinstance(description, str):
            self.err("description", "expected a string")
            description = ""
        disks = self.shared_disks(top.get("shared_disk"), {g.name for g in groups})
        image = top.get("image")
        if image is not None and not (isinstance(image, str) and _IMAGE_RE.match(image)):
            self.err("image", f"expected an image variant name of lab/images/variants.yaml, got {image!r}")
            image = None
        if self.problems:
            raise TopologyError(self.problems)
        return Topology(
            name=name,
            source=self.path,
            nodes=tuple(nodes),
            segments=tuple(segments),
            serial_lines=tuple(serial),
            groups=tuple(groups),
            description=description,
            shared_disks=disks,
            image=image,
        )

    def with_ha_d(self, nodes: list[NodeSpec], value: Any) -> list[NodeSpec]:
        """`ha_d: DIR` (relative to the topology file): a user's own heartbeat directory (ha.cf, haresources,
        authkeys, optional resource.d/) that every hbd server runs from unchanged, unless the node names a
        config_dir of its own. The lab renders none of those files then: the scenario's `daemon:` timings
        do not apply, the user's do."""
        if value is None:
            return nodes
        if not isinstance(value, str):
            self.err("ha_d", "expected a path string")
            return nodes
        cdir = (self.path.parent / value).resolve()
        if not cdir.is_dir():
            self.err("ha_d", f"{cdir} is not a directory")
            return nodes
        missing = [name for name in ("ha.cf", "haresources", "authkeys") if not (cdir / name).is_file()]
        if missing:
            self.err("ha_d", f"{cdir} has no {', '.join(missing)}")
        takes = [n.role == "server" and n.daemon == "hbd" and n.config_dir is None for n in nodes]
        return [replace(n, config_dir=cdir) if take else n for n, take in zip(nodes, takes, strict=True)]

    def shared_disks(self, value: Any, group_names: set[str]) -> tuple[SharedDisk, ...]:
        """`shared_disk:` one mapping (one disk, as before) or a list of them (one disk per group)."""
        if value is None:
            return ()
        if not isinstance(value, list):
            disk = self.shared_disk(value, "shared_disk", group_names)
            return (disk,) if disk is not None else ()
        line = self.lines.get("shared_disk")
        if not value:
            self.err("shared_disk", "expected one or more {group: NAME} entries, got an empty list", line)
        disks: list[SharedDisk] = []
        for i, item in enumerate(value):
            disk = self.shared_disk(item, f"shared_disk.{i}", group_names)
            if disk is None:
                continue
            line = self.lines.get(f"shared_disk.{i}")
            if any(d.group == disk.group for d in disks):
                self.err(f"shared_disk.{i}.group", f"group {disk.group!r} already has a disk", line)
            elif len(value) > 1 and not _DISK_GROUP_RE.match(disk.group):
                # Its name goes into shell variable names (hblab-disk.conf, hblab-service.conf).
                message = "a group with one of several disks is named with [a-z0-9_] only"
                self.err(f"shared_disk.{i}.group", message, line)
            elif len(value) > 1 and disk.writer:
                # One writer journal per node (disk-acks.jsonl) and one data.log per run: lab/history.
                message = "the lab's writer runs only on a topology's one disk (writer: false here)"
                self.err(f"shared_disk.{i}.writer", message, line)
            else:
                disks.append(disk)
        return tuple(disks)

    def shared_disk(self, value: Any, where: str, group_names: set[str]) -> SharedDisk | None:
        line = self.lines.get(where)
        if not isinstance(value, dict):
            self.err(where, f"expected a mapping, got {_kind(value)}", line)
            return None
        for k in value:
            if k not in ("group", "writer"):
                self.err(_join(where, str(k)), "unknown key (allowed: group, writer)", line)
        writer = value.get("writer", True)
        if not isinstance(writer, bool):
            self.err(_join(where, "writer"), f"expected true or false, got {writer!r}", line)
            writer = True
        group = value.get("group")
        if group not in group_names:
            known = ", ".join(sorted(group_names)) or "none"
            self.err(
                _join(where, "group"), f"expected the name of a group (groups: {known}), got {group!r}", line
            )
            return None
        return SharedDisk(str(group), writer)

    def nodes(self, value: Any) -> list[NodeSpec]:
        out: list[NodeSpec] = []
        nodes = self.mapping(value, "nodes")
        if not nodes and not any(p.path == "nodes" for p in self.problems):
            self.err("nodes", "a topology needs at least one node")
        for raw_name, spec in nodes.items():
            name = str(raw_name)
            where = _join("nodes", name)
            if not _NODE_RE.match(name):
                self.err(where, "node names are 1-8 lower-case letters or digits, starting with a letter")
            spec = self.mapping(spec, where, required=False)
            self.unknown_keys(spec, {"role", "daemon", "command", "config_dir", "quorum_only"}, where)
            role = spec.get("role", "server")
            if role not in ROLES:
                self.err(_join(where, "role"), f"expected one of {', '.join(ROLES)}, got {role!r}")
                role = "server"
            daemon = spec.get("daemon", "hbd" if role == "server" else "none")
            if daemon not in DAEMONS:
                self.err(_join(where, "daemon"), f"expected one of {', '.join(DAEMONS)}, got {daemon!r}")
                daemon = "none"
            if role == "client" and daemon != "none":
                self.err(_join(where, "daemon"), "a client node runs no daemon (it runs the prober)")
            command = spec.get("command", [])
            if daemon == "command":
                if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
                    self.err(
                        _join(where, "command"), "daemon: command needs command: a non-empty list of strings"
                    )
                    command = []
            elif "command" in spec:
                self.err(_join(where, "command"), "command is only used with daemon: command")
            config_dir = spec.get("config_dir")
            cdir: Path | None = None
            if config_dir is not None:
                if not isinstance(config_dir, str):
                    self.err(_join(where, "config_dir"), "expected a path string")
                else:
                    cdir = (self.path.parent / config_dir).resolve()
                    if not cdir.is_dir():
                        self.err(_join(where, "config_dir"), f"{cdir} is not a directory")
            quorum_only = spec.get("quorum_only", False)
            if not isinstance(quorum_only, bool):
                self.err(_join(where, "quorum_only"), "expected true or false")
                quorum_only = False
            elif quorum_only and daemon != "pacemaker":
                self.err(_join(where, "quorum_only"), "only a daemon: pacemaker node can be quorum_only")
            out.append(NodeSpec(name, role, daemon, tuple(command), cdir, quorum_only))
        return out

    def endpoint(self, node: str, spec: Any, where: str, node_names: set[str]) -> Endpoint | None:
        if node not in node_names:
            self.err(where, f"unknown node {node!r} (nodes: {', '.join(sorted(node_names))})")
            return None
        spec = self.mapping(spec, where)
        self.unknown_keys(spec, {"iface", "ip"}, where)
        iface, ip = spec.get("iface"), spec.get("ip")
        ok = True
        if not isinstance(iface, str) or not _IFACE_RE.match(iface):
            self.err(_join(where, "iface"), "expected an interface name of 1-8 characters such as eth0")
            ok = False
        addr = self.interface_address(ip, _join(where, "ip"))
        if addr is None or not ok:
            return None
        return Endpoint(node, str(iface), addr)

    def interface_address(self, ip: Any, where: str) -> ipaddress.IPv4Interface | None:
        if not isinstance(ip, str) or "/" not in ip:
            self.err(where, "expected an IPv4 address with prefix length, such as 192.168.77.11/24")
            return None
        try:
            addr = ipaddress.IPv4Interface(ip)
        except ValueError as e:
            self.err(where, f"not an IPv4 address with prefix: {e}")
            return None
        if not addr.network.is_private:
            self.err(where, f"{addr} is not a private address: the lab never uses routable addresses")
        if addr.ip in self.addresses:
            self.err(where, f"address {addr.ip} is already used at {self.addresses[addr.ip]}")
        self.addresses[addr.ip] = where
        return addr

    def segment(
        self,
        kind: str,
        name: str,
        spec: Any,
        where: str,
        node_names: set[str],
        used_ifaces: dict[tuple[str, str], str],
    ) -> Segment | None:
        if not _SEGMENT_RE.match(name):
            self.err(where, "segment names are 1-10 lower-case letters or digits, starting with a letter")
        spec = self.mapping(spec, where)
        members_key = "members" if kind == "lan" else "ends"
        self.unknown_keys(spec, {members_key, "heartbeat"}, where)
        heartbeat = spec.get("heartbeat", "none")
        if heartbeat not in HEARTBEAT_KINDS:
            self.err(
                _join(where, "heartbeat"), f"expected one of {', '.join(HEARTBEAT_KINDS)}, got {heartbeat!r}"
            )
        endpoints = []
        for node, espec in self.mapping(spec.get(members_key), _join(where, members_key)).items():
            ewhere = _join(where, members_key, str(node))
            e = self.endpoint(str(node), espec, ewhere, node_names)
            if e is None:
                continue
            if (e.node, e.iface) in used_ifaces:
                self.err(
                    _join(ewhere, "iface"),
                    f"{e.node} {e.iface} is already used at {used_ifaces[e.node, e.iface]}",
                )
            used_ifaces[e.node, e.iface] = ewhere
            endpoints.append(e)
        nets = {e.ip.network for e in endpoints}
        if len(nets) > 1:
            self.err(where, f"members are on different subnets: {', '.join(sorted(map(str, nets)))}")
        if (
            kind == "link"
            and len(endpoints) != 2
            and not any(p.path.startswith(where) for p in self.problems)
        ):
            self.err(
                _join(where, members_key), f"a point-to-point link has exactly two ends, got {len(endpoints)}"
            )
        if kind == "lan" and not endpoints and not any(p.path.startswith(where) for p in self.problems):
            self.err(_join(where, members_key), "a LAN needs at least one member")
        return Segment(name, kind, tuple(endpoints), str(heartbeat))

    def serial_line(self, name: str, spec: Any, where: str, node_names: set[str]) -> SerialLine | None:
        spec = self.mapping(spec, where)
        self.unknown_keys(spec, {"ends", "heartbeat"}, where)
        ends = self.mapping(spec.get("ends"), _join(where, "ends"))
        pairs = []
        for node, device in ends.items():
            ewhere = _join(where, "ends", str(node))
            if str(node) not in node_names:
                self.err(ewhere, f"unknown node {node!r}")
            elif not isinstance(device, str) or not _IFACE_RE.match(device):
                self.err(ewhere, "expected a device name such as ttyS0")
            else:
                pairs.append((str(node), device))
        if len(ends) != 2:
            self.err(_join(where, "ends"), f"a serial line has exactly two ends, got {len(ends)}")
            return None
        heartbeat = spec.get("heartbeat", True)
        if not isinstance(heartbeat, bool):
            self.err(_join(where, "heartbeat"), "expected true or false")
            heartbeat = True
        return SerialLine(name, tuple(pairs), heartbeat) if len(pairs) == 2 else None

    def group(
        self, name: str, spec: Any, where: str, nodes: list[NodeSpec], segments: dict[str, Segment]
    ) -> Group | None:
        if not _LABEL_RE.match(name):
            self.err(where, "group names are letters, digits, '_', '.', '-'")
        spec = self.mapping(spec, where)
        self.unknown_keys(spec, {"home", "vip", "lan", "services"}, where)
        servers = {n.name for n in nodes if n.role == "server"}
        home = spec.get("home")
        ok = True
        if home not in servers:
            self.err(
                _join(where, "home"), f"expected a server node ({', '.join(sorted(servers))}), got {home!r}"
            )
            ok = False
        lan = spec.get("lan")
        segment = segments.get(lan) if isinstance(lan, str) else None
        if segment is None:
            self.err(
                _join(where, "lan"),
                f"expected the name of a LAN ({', '.join(sorted(segments))}), got {lan!r}",
            )
            ok = False
        vip = self.interface_address(spec.get("vip"), _join(where, "vip"))
        if vip is None:
            ok = False
        elif segment is not None and segment.endpoints and vip.network != segment.endpoints[0].ip.network:
            self.err(_join(where, "vip"), f"{vip} is not on LAN {lan} ({segment.endpoints[0].ip.network})")
        if segment is not None:
            missing = sorted(servers - {e.node for e in segment.endpoints})
            if missing:
                self.err(
                    _join(where, "lan"),
                    f"servers {', '.join(missing)} are not on LAN {lan}: the VIP moves there",
                )
        services = []
        raw = spec.get("services")
        if not isinstance(raw, list) or not raw:
            self.err(_join(where, "services"), "expected a non-empty list of ports or {port, label} mappings")
            ok = False
            raw = []
        for i, item in enumerate(raw):
            swhere = _join(where, "services", str(i))
            port, label = (
                (item, name) if not isinstance(item, dict) else (item.get("port"), item.get("label", name))
            )
            script = item.get("script") if isinstance(item, dict) else None
            if isinstance(item, dict):
                self.unknown_keys(item, {"port", "label", "script"}, swhere)
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                self.err(swhere, f"expected a TCP port 1-65535, got {port!r}")
                ok = False
            elif not isinstance(label, str) or not _LABEL_RE.match(label):
                self.err(swhere, f"label {label!r}: letters, digits, '_', '.', '-'")
                ok = False
            elif script is not None and not (isinstance(script, str) and _SCRIPT_RE.match(script)):
                self.err(_join(swhere, "script"), f"expected SCRIPT[::ARG...], got {script!r}")
                ok = False
            else:
                services.append(Service(port, label, script))
        if not ok or vip is None:
            return None
        return Group(name, str(home), vip, str(lan), tuple(services))


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
