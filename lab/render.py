"""Per-node ha.d files from a topology plus a scenario's `daemon:` settings.

The scenario's `daemon:` keys are ha.cf directives (`keepalive: 50ms`). We write them with the media
the topology implies, parse that with hbd's own ha.cf parser (so a bad value fails with hbd's message
and the defaults are hbd's), and write the result back with hbd.config.render: the file a node reads
is exactly what the model says.

Resource order in haresources: the services first, the service IP last. Groups start left to right
and stop right to left, so the VIP appears (and the gratuitous ARP pulls clients over) only once the
service listens, and disappears before the service stops: a client never reaches a half-ready or
half-stopped node. This is also the order of the heartbeat article's examples.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.model import AuthConfig, AuthKey, Resource, ResourceGroup
from hbd.config.render import render_authkeys, render_hacf, render_haresources
from lab.backends.base import NodeDirs
from lab.paths import FENCE_AGENT, SERVICE_DIR, SERVICE_SCRIPT
from lab.spec.daemon import DAEMON_KEYS, DURATION_KEYS, FENCING, HEARTBEAT_UDP_PORT, monitor_line
from lab.spec.duration import DurationError, parse_duration
from lab.spec.topology import Group, Topology

MCAST_GROUP = "225.0.0.1"
MCAST_PORT = HEARTBEAT_UDP_PORT


class RenderError(Exception):
    pass


@dataclass(frozen=True)
class ClusterSecret:
    """One authkeys key shared by every node of a run (fresh per run: runs never hear each other)."""

    key: bytes

    @classmethod
    def fresh(cls) -> ClusterSecret:
        return cls(secrets.token_hex(16).encode())

    @property
    def auth(self) -> AuthConfig:
        return AuthConfig(active=1, keys=(AuthKey(1, "sha256", self.key),))


def directive_value(key: str, value: Any) -> str:
    """A scenario value as an ha.cf token.

    Durations are written in milliseconds: scenarios say `2s`, which ha.cf refuses (plain numbers are
    seconds there). YAML reads `on` as True, ha.cf wants `on`.
    """
    if key in DURATION_KEYS:
        try:
            return f"{round(parse_duration(value) * 1000)}ms"
        except DurationError as e:
            raise RenderError(f"daemon.{key}: {e}") from e
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise RenderError(f"daemon.{key}: expected a string, number or boolean, got {type(value).__name__}")


def _monitor(key: str, value: Any) -> str:
    try:
        return monitor_line(value)
    except ValueError as exc:
        raise RenderError(f"daemon.{key}: {exc}") from exc


def media_lines(topology: Topology, node: str) -> list[str]:
    """The heartbeat media of `node`: one line per heartbeat segment it is on, plus serial lines."""
    lines = []
    for seg, end in topology.endpoints_of(node):
        if seg.heartbeat == "bcast":
            lines.append(f"bcast {end.iface}")
        elif seg.heartbeat == "mcast":
            lines.append(f"mcast {end.iface} {MCAST_GROUP} {MCAST_PORT} 1 0")
        elif seg.heartbeat == "ucast":
            lines += [f"ucast {end.iface} {peer.ip.ip}" for peer in seg.endpoints if peer.node != node]
    return lines


def _ping_address(topology: Topology, name: str) -> str:
    """A ping node given as a lab node's name stands for that node's first address."""
    for _seg, end in topology.endpoints_of(name) if name in topology.node_names else ():
        return str(end.ip.ip)
    return name


def fencing_agent(daemon: Mapping[str, Any]) -> str | None:
    """The agent a scenario fences with: `on` = fence_lab on the lab's power switch
    (lab/faults/power_switch.py),
    `fence_docker` = Debian's fence_docker through the Docker API (docker backend); None = no fencing."""
    value = daemon.get("fencing")
    if value is True:
        value = "on"
    return FENCING[value].agent if isinstance(value, str) and value in FENCING else None


@dataclass(frozen=True)
class FenceDockerSetup:
    """What fence_docker needs in every node: how to reach the Docker API (lab.backends.docker.api's
    `agent_options()`) and which container is each node's plug."""

    options: tuple[tuple[str, str], ...]
    plugs: Mapping[str, str]  # node -> container name


def fence_docker_lines(topology: Topology, setup: FenceDockerSetup) -> list[str]:
    """One `stonith_host * fence_docker ... pcmk_host_map=<node>:<container>;...` line: fence_docker's
    plug is a container name (`hbl<run>-<node>`), not the node name hbd would pass."""
    servers = [n.name for n in topology.servers if n.daemon == "hbd"]
    options = " ".join(f"{name}={value}" for name, value in setup.options)
    host_map = ";".join(f"{node}:{setup.plugs[node]}" for node in servers)
    return [f"stonith_host * fence_docker {options} pcmk_host_map={host_map}"]


def hacf_source(
    topology: Topology,
    node: str,
    daemon: Mapping[str, Any],
    serial_paths: Mapping[str, str],
    power_socket: str | None = None,
    fence_docker: FenceDockerSetup | None = None,
) -> tuple[str, dict[int, str]]:
    """The ha.cf text before normalisation, and which scenario key each line came from (for errors)."""
    # Pacemaker nodes are members too: their ha.d is exported to the cluster they run (lab/pacemaker.py;
    # a quorum-only node is added to the exported cluster, hbd itself knows two nodes).
    servers = [n.name for n in topology.servers if n.daemon in ("hbd", "pacemaker") and not n.quorum_only]
    lines = [f"node {' '.join(servers)}"]
    origin: dict[int, str] = {}
    agent = fencing_agent(daemon)
    if agent == "fence_lab":
        if power_socket is None:
            raise RenderError("daemon.fencing: on needs the lab's power switch (served by `hblab run`)")
        origin[len(lines) + 1] = "daemon.fencing"
        lines.append(f"stonith_host * fence_lab socket={power_socket}")
    elif agent == "fence_docker":
        if fence_docker is None:
            raise RenderError(
                "daemon.fencing: fence_docker needs the Docker API in the nodes (docker backend)"
            )
        for line in fence_docker_lines(topology, fence_docker):
            origin[len(lines) + 1] = "daemon.fencing"
            lines.append(line)
    for key, value in daemon.items():
        spec = DAEMON_KEYS.get(key)
        if spec is not None and spec.directive is None:  # a lab option: fencing became stonith_host above
            continue
        directive = spec.directive if spec is not None else key  # unknown: hbd's parser names the problem
        origin[len(lines) + 1] = f"daemon.{key}"
        if spec is not None and spec.kind == "nodes":
            lines.append(f"{directive} " + " ".join(_ping_address(topology, name) for name in value))
            continue
        if spec is not None and spec.kind == "monitors":  # one hbd_monitor line each
            for monitor in value:
                origin[len(lines) + 1] = f"daemon.{key}"
                lines.append(f"{directive} {_monitor(key, monitor)}")
            continue
        if spec is not None and spec.kind == "loopback_port":  # only the node itself scrapes it
            lines.append(f"{directive} 127.0.0.1:{value}")
            continue
        lines.append(f"{directive} {directive_value(key, value)}")
    lines += media_lines(topology, node)
    for line in topology.serial_lines:
        device = line.device_of(node)
        if line.heartbeat and device is not None:
            lines.append(f"serial {serial_paths[device]}")
    return "\n".join(lines) + "\n", origin


def resource_groups(topology: Topology) -> tuple[ResourceGroup, ...]:
    return tuple(_resource_group(topology, g) for g in topology.groups)


def _resource_group(topology: Topology, group: Group) -> ResourceGroup:
    servers = [n.name for n in topology.servers]
    ifaces = {topology.vip_iface(group, s) for s in servers}
    # haresources must be identical on every node: name the interface only if it is the same everywhere
    # (else hbd picks the interface whose subnet holds the VIP).
    ip_arg = f"{group.vip.ip}/{group.vip.network.prefixlen}" + (
        f"/{ifaces.pop()}" if len(ifaces) == 1 else ""
    )
    services = [
        Resource(s.script.split("::")[0], tuple(s.script.split("::")[1:]))
        if s.script is not None
        else Resource("hblab-service", (str(s.port), s.label))
        for s in group.services
    ]
    # The shared disk first: claimed (mounted) before its writer starts, released after it stopped. With
    # one disk per group, the claim names whose disk it mounts (hblab-claim::GROUP).
    shared = topology.shared_disk_of(group.name)
    claim = Resource("hblab-claim", (group.name,) if len(topology.shared_disks) > 1 else ())
    disk = [] if shared is None else [claim, Resource("hblab-writer")][: 2 if shared.writer else 1]
    return ResourceGroup(home=group.home, resources=(*disk, *services, Resource("IPaddr", (ip_arg,))))


def disk_mount_lines(topology: Topology, state_dir: Path) -> str:
    """hblab-service.conf's `MOUNT_<script>=<mount point>` lines: where each service script of a group
    with a disk finds that group's disk (lab/node/service/webserver, pgsql, hblab-mail.sh). Only with
    several disks: a one-disk topology's scripts use their default, <state dir>/disk."""
    if len(topology.shared_disks) < 2:
        return ""
    lines = []
    for disk in topology.shared_disks:
        mount = state_dir / topology.disk_mount(disk.group)
        for service in topology.group(disk.group).services:
            name = service.script_name
            if name is not None and name.isidentifier():
                lines.append(f"MOUNT_{name}={mount}\n")
    return "".join(lines)


def render_node(
    topology: Topology,
    node: str,
    daemon: Mapping[str, Any],
    dirs: NodeDirs,
    secret: ClusterSecret,
    serial_paths: Mapping[str, str] | None = None,
    python: str = sys.executable,
    power_socket: str | None = None,
    shared_disk: Path | None = None,
    fence_docker: FenceDockerSetup | None = None,
) -> None:
    """Write ha.cf, haresources, authkeys, resource.d/hblab-service and its conf for one node.

    `serial_paths`: device name (ttyS0) -> the /dev path this node opens for it (from the backend).
    `power_socket`: the lab power switch fence_lab talks to (needed with `daemon: {fencing: on}`).
    `fence_docker`: the Docker API options and plugs (needed with `daemon: {fencing: fence_docker}`).
    `shared_disk`: the directory every node sees as its shared disk (topologies with `shared_disk:`).
    """
    spec = topology.node(node)
    cfg = dirs.config_dir
    cfg.mkdir(parents=True, exist_ok=True)
    if spec.config_dir is not None:
        for name in ("ha.cf", "haresources", "authkeys"):
            src = spec.config_dir / name
            if not src.exists():
                raise RenderError(f"{topology.source}: nodes.{node}.config_dir: {src} is missing")
            shutil.copyfile(src, cfg / name)
        check_user_media(topology, node, spec.config_dir / "ha.cf")
    else:
        text, origin = hacf_source(topology, node, daemon, serial_paths or {}, power_socket, fence_docker)
        diag = Diagnostics(f"ha.cf of {node}")
        cluster = parse_hacf(text, diag, local_node=node)
        if diag.errors:
            problems = "; ".join(
                f"{origin.get(p.line or 0, f'ha.cf line {p.line}')}: {p.message}"
                + (f" ({p.hint})" if p.hint else "")
                for p in diag.errors
            )
            raise RenderError(f"ha.cf for {node} from topology {topology.name} and the scenario: {problems}")
        (cfg / "ha.cf").write_text(render_hacf(cluster))
        (cfg / "haresources").write_text(render_haresources(resource_groups(topology)))
        auth_path = cfg / "authkeys"
        auth_path.write_text(render_authkeys(secret.auth))
        _check_round_trip(cfg, [n.name for n in topology.servers])
    os.chmod(cfg / "authkeys", 0o600)
    resource_dir = cfg / "resource.d"
    resource_dir.mkdir(exist_ok=True)
    shutil.copyfile(SERVICE_SCRIPT, resource_dir / "hblab-service")
    os.chmod(resource_dir / "hblab-service", 0o755)
    # A service's init script the lab ships (lab/node/service/NAME) goes beside it; any other name is the
    # node's own /etc/init.d script, where hbd looks next.
    for name in {s.script_name for g in topology.groups for s in g.services if s.script_name is not None}:
        if (SERVICE_DIR / name).is_file():
            shutil.copyfile(SERVICE_DIR / name, resource_dir / name)
            os.chmod(resource_dir / name, 0o755)
            # The shell library it sources from its own directory (lab/node/service/hblab-mail.sh).
            for library in SERVICE_DIR.glob("*.sh"):
                if f"/{library.name}" in (SERVICE_DIR / name).read_text():
                    shutil.copyfile(library, resource_dir / library.name)
    if spec.config_dir is not None and (spec.config_dir / "resource.d").is_dir():
        # The user's own resource scripts, unchanged, last: theirs win over the lab's of the same name.
        for script in sorted((spec.config_dir / "resource.d").iterdir()):
            if script.is_file():
                shutil.copy2(script, resource_dir / script.name)
    service_conf = f"NODE={node}\nSTATE_DIR={dirs.state_dir}\nPYTHON={python}\n"
    (cfg / "hblab-service.conf").write_text(service_conf + disk_mount_lines(topology, dirs.state_dir))
    (cfg / "nodeinfo").write_text(f"{node}\n")  # netns shares the host's UTS name: name the node explicitly
    if fencing_agent(daemon) == "fence_lab":
        install_fence_agent(dirs)
    if topology.shared_disks:
        if shared_disk is None:
            raise RenderError(f"{topology.source}: shared_disk: the backend gave no shared disk directory")
        from lab.history.shared_disk import install_disk_resources

        disks = {d.group: topology.disk_dir(shared_disk, d.group) for d in topology.shared_disks}
        install_disk_resources(
            resource_dir, cfg, node, dirs.state_dir, shared_disk, python, disks if len(disks) > 1 else None
        )


def check_user_media(topology: Topology, node: str, hacf: Path) -> None:
    """A user's own ha.cf runs unchanged, so what it names must exist on the node as the topology builds
    it: every interface of a bcast/mcast/ucast line, every serial device (the node's /dev/<name>, as the
    docker backend mounts it), every ucast peer address. RenderError lists everything that does not map,
    each with the ha.cf line, rather than a daemon that starts and hears nobody."""
    diag = Diagnostics(str(hacf))
    cluster = parse_hacf(hacf.read_text(), diag, local_node=node)
    if diag.errors:
        raise RenderError("; ".join(str(p) for p in diag.errors))
    ifaces = {end.iface: seg for seg, end in topology.endpoints_of(node)}
    devices = {d for line in topology.serial_lines if (d := line.device_of(node)) is not None}
    problems = []
    for medium in cluster.media:
        where = f"{hacf}:{medium.where.line}" if medium.where else str(hacf)
        if medium.iface is not None and medium.iface not in ifaces:
            problems.append(
                f"{where}: {medium.name}: {node} has no interface {medium.iface} in topology {topology.name} "
                f"(it has {', '.join(sorted(ifaces)) or 'none'})"
            )
        elif medium.peer is not None and medium.iface is not None:
            seg = ifaces[medium.iface]
            if not any(str(e.ip.ip) == medium.peer for e in seg.endpoints if e.node != node):
                problems.append(f"{where}: {medium.name}: no other node has {medium.peer} on {seg.name}")
        if medium.device is not None and Path(medium.device).name not in devices:
            problems.append(
                f"{where}: {medium.name}: {node} has no serial line at {medium.device} in topology "
                f"{topology.name} (it has {', '.join(f'/dev/{d}' for d in sorted(devices)) or 'none'})"
            )
    if problems:
        what = f"{topology.source}: the ha.d files of {node} do not fit the topology"
        raise RenderError(f"{what}: " + "; ".join(problems))


def install_fence_agent(dirs: NodeDirs) -> Path:
    """Link fence_lab into the node's bin/ (the runner puts it first in the daemon's PATH, where hbd
    looks agents up by name, as heartbeat's stonith_host names a plugin)."""
    bin_dir = dirs.root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / FENCE_AGENT.name
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(FENCE_AGENT)
    return bin_dir


def _check_round_trip(cfg: Path, nodes: list[str]) -> None:
    """What we wrote must parse cleanly: a rendering bug shows here, not as a daemon that will not start."""
    for name, parse in (
        ("haresources", lambda text, diag: parse_haresources(text, diag, nodes)),
        ("authkeys", parse_authkeys),
    ):
        diag = Diagnostics(str(cfg / name))
        parse((cfg / name).read_text(), diag)
        if diag.errors:
            raise RenderError("; ".join(str(p) for p in diag.errors))
