"""What a peer driver needs to know about one node, derived from a topology, and the driver protocol.

Every peer moves only the service address (the VIP), like hbd in the bench: the service responder runs
permanently on both nodes, so the answer a client gets names the node that holds the address.
The dedicated heartbeat link (the topology's first point-to-point link with heartbeat) carries the
VRRP/CARP adverts of keepalived and ucarp; heartbeat 3.0.6 and hbd broadcast on every heartbeat segment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lab.spec.duration import DurationError, parse_duration
from lab.spec.topology import Topology


class PeerError(Exception):
    """A peer cannot be configured for this topology or these settings (message names what is wrong)."""


@dataclass(frozen=True)
class PeerNode:
    name: str
    peer: str  # the other server
    home: bool  # the group's home node: higher priority, takes the VIP when both are up
    vip: ipaddress.IPv4Interface
    vip_iface: str  # where the VIP lives (the LAN interface)
    hb_iface: str  # the dedicated heartbeat link's interface
    hb_ip: ipaddress.IPv4Interface
    peer_hb_ip: ipaddress.IPv4Interface
    media_ifaces: tuple[str, ...]  # every interface on a heartbeat segment (LAN and link)
    root: Path  # the node's directory on the host (NodeDirs.root)
    # The node is a machine of its own (a Docker container: own hostname, filesystem and /run), so a
    # daemon's fixed paths are its own; False on netns, where every node shares the host's filesystem.
    own_machine: bool = False

    @property
    def peer_dir(self) -> Path:
        """Where drivers write their files for this node."""
        return self.root / "peer"


def peer_nodes(
    topology: Topology, roots: Mapping[str, Path], *, own_machine: bool = False
) -> dict[str, PeerNode]:
    """One PeerNode per server. Needs exactly two servers, a group and a point-to-point heartbeat link."""
    servers = [n.name for n in topology.servers]
    if len(servers) != 2:
        raise PeerError(f"topology {topology.name}: the peers need exactly two servers, got {servers}")
    if not topology.groups:
        raise PeerError(f"topology {topology.name}: no group (the VIP the peers move)")
    group = topology.groups[0]
    links = [s for s in topology.heartbeat_segments() if s.kind != "lan" and len(s.endpoints) == 2]
    if not links:
        raise PeerError(f"topology {topology.name}: no point-to-point heartbeat link for VRRP/CARP adverts")
    link = links[0]
    out = {}
    for name in servers:
        other = servers[1] if name == servers[0] else servers[0]
        mine, theirs = link.endpoint(name), link.endpoint(other)
        if mine is None or theirs is None:
            raise PeerError(f"topology {topology.name}: link {link.name} does not join {name} and {other}")
        media = tuple(e.iface for s, e in topology.endpoints_of(name) if s.heartbeat != "none")
        out[name] = PeerNode(
            name=name,
            peer=other,
            home=group.home == name,
            vip=group.vip,
            vip_iface=topology.vip_iface(group, name),
            hb_iface=mine.iface,
            hb_ip=mine.ip,
            peer_hb_ip=theirs.ip,
            media_ifaces=media,
            root=roots[name],
            own_machine=own_machine,
        )
    return out


class PeerDriver(Protocol):
    kind: str  # "keepalived" | "heartbeat" | "ucarp"
    packages: tuple[str, ...]  # Debian packages that provide it
    binary: str  # the executable whose presence means "installed"

    def render(self, node: PeerNode, settings: Mapping[str, Any], secret: str) -> None:
        """Write the node's configuration under node.peer_dir (fresh per run)."""
        ...

    def argv(self, node: PeerNode, settings: Mapping[str, Any]) -> list[str]:
        """The foreground command that runs the daemon inside the node (its namespace or container)."""
        ...


def seconds(settings: Mapping[str, Any], key: str, default: float | None = None) -> float:
    """A timing setting in seconds (numbers are seconds; strings like '20ms' are parsed)."""
    value = settings.get(key, default)
    if value is None:
        raise PeerError(f"setting {key!r} is required")
    try:
        return parse_duration(value)
    except DurationError as e:
        raise PeerError(f"setting {key}: {e}") from e
