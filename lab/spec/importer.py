"""`hblab import PATH/ha.d`: a topology from a user's own heartbeat directory (issue 13, "a user's own
cluster, verbatim").

The directory is parsed with hbd's own parsers (hbd.config: the lab may use hbd's config, never its core),
so the topology agrees with what hbd will make of the very same files, which the topology's `ha_d:` key
hands every node unchanged. What becomes what:
- `node` lines: the servers, plus a `client` node for the prober;
- each service address (`IPaddr::ip/prefix[/iface]`): a LAN on that subnet, on the interface it names
  (else one no heartbeat medium uses), every server and the client on it;
- `bcast`/`mcast IFACE`: that LAN if IFACE is the service LAN's interface, else a crossover link (two
  nodes) or a LAN of its own (more), with made-up addresses; `ucast IFACE ADDR`: the same, the peer
  addresses given to the nodes in `node` order (said so: the files do not tell whose address is whose);
- `serial DEV`: a null-modem line with DEV's name at both ends;
- each haresources line: a group (named after its key), its resources as services on well-known ports.
Whatever cannot be mapped is returned as a note: `hblab import` prints each on stderr and writes them as
comments at the top of the YAML; nothing is guessed silently.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import IP_RESOURCES, parse_haresources, parse_ip_spec
from hbd.config.model import ClusterConfig, IpSpec, ResourceGroup
from lab.paths import SERVICE_DIR

# The article's resource names and common init scripts -> (port, label). Anything else is looked up in
# the system's services database, and failing that is a note, never a guessed port.
WELL_KNOWN_PORTS: dict[str, tuple[int, str]] = {
    "mailer": (25, "smtp"),
    "postfix": (25, "smtp"),
    "exim4": (25, "smtp"),
    "sendmail": (25, "smtp"),
    "pop3": (110, "pop3"),
    "imapd": (143, "imap"),
    "dovecot": (143, "imap"),
    "apache": (80, "http"),
    "apache2": (80, "http"),
    "httpd": (80, "http"),
    "nginx": (80, "http"),
    "webserver": (80, "http"),
    "squid": (3128, "squid"),
    "mysql": (3306, "mysql"),
    "postgresql": (5432, "pgsql"),
    "pgsql": (5432, "pgsql"),
    "smb": (445, "smb"),
    "samba": (445, "smb"),
    "nfs-kernel-server": (2049, "nfs"),
    "slapd": (389, "ldap"),
    "bind9": (53, "dns"),
}
# Resources that manage storage or state, not a TCP service: the lab has no analogue to map them to.
STORAGE_RESOURCES = ("Filesystem", "drbddisk", "LVM", "Raid1", "datadisk", "MailTo", "SendArp", "Delay")
CLIENT = "client"
_LABEL_RE = re.compile(r"[^a-zA-Z0-9_.-]")


class HaDImportError(Exception):
    """The directory cannot be read or does not parse: every problem, each with FILE:LINE."""


@dataclass
class _Segment:
    name: str
    kind: str  # "lans" | "links"
    iface: str
    network: ipaddress.IPv4Network
    heartbeat: str = "none"
    members: list[str] = field(default_factory=list)
    fixed: dict[str, ipaddress.IPv4Address] = field(default_factory=dict)  # node -> address the files name
    comment: str = ""


@dataclass(frozen=True)
class Imported:
    yaml_text: str
    notes: tuple[str, ...]


def _parse(ha_d: Path) -> tuple[ClusterConfig, tuple[ResourceGroup, ...]]:
    problems: list[str] = []
    texts: dict[str, str] = {}
    for name in ("ha.cf", "haresources", "authkeys"):
        try:
            texts[name] = (ha_d / name).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as e:
            problems.append(f"{ha_d / name}: cannot read: {e.strerror or e}")
    if problems:
        raise HaDImportError("\n".join(problems))
    diags = {name: Diagnostics(str(ha_d / name)) for name in texts}
    cluster = parse_hacf(texts["ha.cf"], diags["ha.cf"])
    groups = parse_haresources(texts["haresources"], diags["haresources"], cluster.nodes)
    parse_authkeys(texts["authkeys"], diags["authkeys"])
    errors = [str(p) for d in diags.values() for p in d.errors]
    if errors:
        raise HaDImportError("\n".join(errors))
    return cluster, groups


def _ip_of(group: ResourceGroup) -> IpSpec | None:
    for r in group.resources:
        if r.name in IP_RESOURCES and r.args:
            return parse_ip_spec(r.name, r.args[0])
    return None


def _free_hosts(
    network: ipaddress.IPv4Network, taken: set[ipaddress.IPv4Address]
) -> list[ipaddress.IPv4Address]:
    return [h for h in network.hosts() if h not in taken]


def import_ha_d(ha_d: Path, out: Path | None = None, name: str | None = None) -> Imported:
    """The topology YAML for `ha_d`, and the notes of what it could not map (also in the YAML)."""
    ha_d = ha_d.resolve()
    cluster, groups = _parse(ha_d)
    notes: list[str] = []
    servers = list(cluster.nodes)
    if CLIENT in servers:
        raise HaDImportError(
            f"{ha_d / 'ha.cf'}: a node is named {CLIENT!r}, the name the lab gives its prober"
        )
    hb_ifaces = {m.iface for m in cluster.media if m.iface is not None}
    segments: list[_Segment] = []

    # The service LANs: one per subnet a group's address lives on.
    group_lan: dict[str, str] = {}
    for g in groups:
        ip = _ip_of(g)
        where = f"{ha_d / 'haresources'}:{g.where.line if g.where else '?'}"
        if ip is None:
            notes.append(f"{where}: group {g.key} has no IPaddr: the lab probes a group on it; left out")
            continue
        prefix = ip.prefix
        if prefix is None:
            prefix = 24
            notes.append(f"{where}: {ip.ip} has no prefix (heartbeat finds it from the route): assumed /24")
        net = ipaddress.IPv4Interface(f"{ip.ip}/{prefix}").network
        seg = next((s for s in segments if s.network == net), None)
        if seg is None:
            # A ucast medium whose peers are on this subnet runs on this LAN; else an interface no
            # heartbeat medium uses (bcast on a separate cable, the article's layout).
            on_lan = [
                m.iface for m in cluster.media if m.peer and m.iface and ipaddress.IPv4Address(m.peer) in net
            ]
            free = next(f"eth{i}" for i in range(16) if f"eth{i}" not in hb_ifaces)
            iface = ip.iface or (on_lan[0] if on_lan else free)
            seg = _Segment("lan" if not segments else f"lan{len(segments)}", "lans", iface, net)
            seg.members = [*servers, CLIENT]
            seg.fixed[f"vip:{g.key}"] = ipaddress.IPv4Address(ip.ip)
            segments.append(seg)
        else:
            seg.fixed[f"vip:{g.key}"] = ipaddress.IPv4Address(ip.ip)
        group_lan[g.key] = seg.name

    # Heartbeat media on interfaces.
    serial_devices: list[str] = []
    next_net = 0
    for m in cluster.media:
        mwhere = f"{ha_d / 'ha.cf'}:{m.where.line if m.where else '?'}"
        if m.kind == "serial":
            dev = Path(m.device or "").name
            if dev and dev not in serial_devices:
                serial_devices.append(dev)
            continue
        assert m.iface is not None
        seg = next((s for s in segments if s.iface == m.iface), None)
        if seg is None:
            while True:
                net = ipaddress.IPv4Network(f"10.0.{next_net}.0/{30 if len(servers) == 2 else 24}")
                next_net += 1
                if not any(net.overlaps(s.network) for s in segments):
                    break
            two = len(servers) == 2
            seg = _Segment(
                ("crossover" if two else "hb") + (str(next_net - 1) if next_net > 1 else ""),
                "links" if two else "lans",
                m.iface,
                net,
            )
            seg.members = list(servers)
            segments.append(seg)
        if seg.heartbeat not in ("none", m.kind):
            notes.append(f"{mwhere}: {m.name}: {m.iface} also carries {seg.heartbeat}; a segment names one")
        else:
            seg.heartbeat = m.kind
        if m.kind == "ucast" and m.peer is not None:
            peer = ipaddress.IPv4Address(m.peer)
            if peer in seg.fixed.values():
                continue  # the same peer named twice
            if peer not in seg.network and any(k.startswith("vip:") for k in seg.fixed):
                notes.append(f"{mwhere}: {m.name}: {peer} is not on {seg.name} ({seg.network}); not mapped")
                continue
            if peer not in seg.network:
                seg.network = ipaddress.IPv4Network(f"{peer}/24", strict=False)
                if seg.kind == "links":
                    seg.network = ipaddress.IPv4Network(f"{peer}/30", strict=False)
                    if peer in (seg.network.network_address, seg.network.broadcast_address):
                        seg.network = ipaddress.IPv4Network(f"{peer}/24", strict=False)
            owner = next((n for n in servers if n not in seg.fixed), None)
            if owner is None:
                notes.append(f"{mwhere}: {m.name}: more ucast peers on {m.iface} than nodes; not mapped")
                continue
            seg.fixed[owner] = peer
            notes.append(
                f"{mwhere}: {m.name}: the files do not say whose address {peer} is: given to {owner} "
                "(node order); swap the addresses in the YAML if it is the other node's"
            )

    # Addresses: the ones the files name, then free hosts of the subnet.
    body: list[str] = []
    for kind in ("lans", "links"):
        chosen = [s for s in segments if s.kind == kind]
        if not chosen:
            continue
        body.append(f"{kind}:")
        for s in chosen:
            taken = set(s.fixed.values())
            free = iter(_free_hosts(s.network, taken))
            body.append(f"  {s.name}:")
            body.append(f"    heartbeat: {s.heartbeat}")
            body.append("    members:" if kind == "lans" else "    ends:")
            for node in s.members:
                addr = s.fixed.get(node) or next(free)
                body.append(f"      {node}: {{iface: {s.iface}, ip: {addr}/{s.network.prefixlen}}}")
    if serial_devices:
        if len(servers) != 2:
            notes.append(
                f"{ha_d / 'ha.cf'}: serial: a null-modem line joins two nodes, ha.cf has "
                f"{len(servers)}; not mapped"
            )
        else:
            body.append("serial:")
            for i, dev in enumerate(serial_devices):
                body.append(f"  nullmodem{i or ''}:")
                body.append("    heartbeat: true")
                body.append(f"    ends: {{{servers[0]}: {dev}, {servers[1]}: {dev}}}")
    if cluster.ping_nodes:
        pings = " ".join(cluster.ping_nodes)
        notes.append(f"{ha_d / 'ha.cf'}: ping {pings}: the lab has no such hosts; not mapped")
    if cluster.stonith_hosts:
        notes.append(
            f"{ha_d / 'ha.cf'}: stonith_host: the lab's power switch is not the user's; fencing is not "
            "mapped (a scenario's fence faults need `daemon: {fencing: on}` on a rendered topology)"
        )
    body.extend(_groups(ha_d, groups, group_lan, notes))

    topo_name = name or _LABEL_RE.sub("-", ha_d.parent.name if ha_d.name == "ha.d" else ha_d.name).lower()
    topo_name = topo_name.strip("-.") if topo_name not in ("etc", "") else "imported"
    # Relative when the topology sits near the directory (a repository moves as a whole), else absolute.
    rel = os.path.relpath(ha_d, out.resolve().parent) if out is not None else None
    ha_d_ref = rel if rel is not None and not rel.startswith(("../..", "/")) else str(ha_d)
    head = [
        f"# Imported by `hblab import` from {ha_d}: hbd on every server runs from those files unchanged",
        "# (`ha_d:`), so the scenario's `daemon:` timings do not apply, the user's ha.cf does.",
    ]
    if notes:
        head.append("# NOT MAPPED, OR MAPPED BY ASSUMPTION (check each):")
        head.extend(f"#   TODO: {n}" for n in notes)
    yaml_lines = [
        *head,
        f"name: {topo_name}",
        f"description: imported from {ha_d}",
        f"ha_d: {ha_d_ref}",
        "nodes:",
        *(f"  {n}: {{daemon: hbd}}" for n in servers),
        f"  {CLIENT}: {{role: client}}",
        *body,
    ]
    return Imported("\n".join(yaml_lines) + "\n", tuple(notes))


def _groups(
    ha_d: Path, groups: tuple[ResourceGroup, ...], group_lan: dict[str, str], notes: list[str]
) -> list[str]:
    out: list[str] = []
    user_scripts = ha_d / "resource.d"
    for g in groups:
        if g.key not in group_lan:
            continue
        where = f"{ha_d / 'haresources'}:{g.where.line if g.where else '?'}"
        ip = _ip_of(g)
        assert ip is not None
        services: list[str] = []
        for r in g.resources:
            if r.name in IP_RESOURCES:
                continue
            if r.name in STORAGE_RESOURCES:
                notes.append(f"{where}: {r.spec}: storage or state, no lab analogue; hbd runs it as written")
                continue
            known = WELL_KNOWN_PORTS.get(r.name)
            if known is None:
                try:
                    known = (socket.getservbyname(r.name, "tcp"), r.name)
                except OSError:
                    known = None
            if known is None:
                notes.append(f"{where}: {r.name}: no known TCP port; not probed (add it by hand)")
                continue
            if not ((user_scripts / r.name).is_file() or (SERVICE_DIR / r.name).is_file()):
                notes.append(
                    f"{where}: {r.name}: neither {user_scripts} nor the lab has this script: hbd looks in "
                    "the node's /etc/init.d (put a stand-in into resource.d to run it in a network namespace)"
                )
            port, label = known
            services.append(f'      - {{port: {port}, label: {label}, script: "{r.spec}"}}')
        if not services:
            notes.append(f"{where}: group {g.key}: no service the prober can contact; left out")
            continue
        gname = _LABEL_RE.sub("_", g.key)[:32]
        out.append(f"  {gname}:" if out else f"groups:\n  {gname}:")
        out.append(f"    home: {g.home}")
        out.append(f"    lan: {group_lan[g.key]}")
        out.append(f"    vip: {ip.ip}/{ip.prefix or 24}")
        out.append("    services:")
        out.extend(services)
    return out
