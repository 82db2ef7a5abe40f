"""haresources lines -> Pacemaker primitives and groups (each line one group, members in the line's order).

Mapping (docs/pacemaker.md has the same table for users):
* `IPaddr`/`IPaddr2` (and a bare address) -> `ocf:heartbeat:IPaddr2` with ip, cidr_netmask, nic, broadcast,
  iflabel from heartbeat's `ip[/prefix[/iface[:label][/broadcast]]]`; hbd_garp_count/interval -> arp_count,
  arp_interval (IPaddr2's own defaults, 5 and 200 ms, are hbd's, so they are written only when they differ).
* heartbeat `resource.d` scripts Debian's resource-agents has an OCF agent for -> that agent, the `::`
  arguments becoming its parameters in the wrapper's order (`AGENTS`).
* `drbddisk` -> no group member: DRBD under Pacemaker is a promotable `ocf:linbit:drbd` clone, a different
  shape (a note says how).
* anything else -> `lsb:NAME` (an init script). LSB scripts take no arguments, and Pacemaker finds them only
  in /etc/init.d: both are warned about.
* `hbd_monitor` lines -> a monitor operation, migration-threshold = restarts + 1 (the failure after the last
  allowed restart moves the group), failure-timeout = window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hbd.config.haresources import parse_ip_spec
from hbd.config.model import ClusterConfig, Monitor, Resource, ResourceGroup
from hbd.export.model import Group, Note, Op, Primitive

# resource.d name -> (OCF type, the parameter each `::` argument becomes, in order). Only agents whose
# heartbeat wrapper's argument order is documented in the wrapper itself (heartbeat 2.x resource.d).
AGENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Filesystem": ("Filesystem", ("device", "directory", "fstype", "options")),
    "MailTo": ("MailTo", ("email", "subject")),
    "IPsrcaddr": ("IPsrcaddr", ("ipaddress",)),
    "IPv6addr": ("IPv6addr", ("ipv6addr",)),
    "Xinetd": ("Xinetd", ("service",)),
    "apache": ("apache", ("configfile",)),
    "Delay": ("Delay", ("startdelay", "stopdelay")),
    "AudibleAlarm": ("AudibleAlarm", ("nodelist",)),
    "WinPopup": ("WinPopup", ("hostfile",)),
}
IP_RESOURCES = ("IPaddr", "IPaddr2")
IPADDR2_ARP_COUNT = 5  # IPaddr2's defaults (resource-agents 4.12)
IPADDR2_ARP_INTERVAL_MS = 200
_ID_BAD = re.compile(r"[^A-Za-z0-9_-]+")


def xml_id(text: str) -> str:
    """A Pacemaker id (an XML ID, safe for crmsh and pcs): letters, digits, `-`, `_`; no digit first."""
    cleaned = _ID_BAD.sub("-", text).strip("-") or "rsc"
    return cleaned if cleaned[0].isalpha() or cleaned[0] == "_" else f"r-{cleaned}"


@dataclass(frozen=True)
class GroupExport:
    primitives: tuple[Primitive, ...]
    groups: tuple[Group, ...]
    homes: tuple[str, ...]  # each group's home node
    notes: tuple[Note, ...]


def export_groups(groups: tuple[ResourceGroup, ...], cluster: ClusterConfig, config_dir: Path) -> GroupExport:
    ids = _resource_ids(groups)
    primitives: list[Primitive] = []
    out_groups: list[Group] = []
    homes: list[str] = []
    notes: list[Note] = []
    for g, group in enumerate(groups):
        where = str(group.where) if group.where else None
        members: list[str] = []
        for r, resource in enumerate(group.resources):
            rsc_id = ids[(g, r)]
            primitive = _primitive(rsc_id, resource, cluster, config_dir, notes, where)
            if primitive is None:
                continue
            primitive = _with_monitor(primitive, resource, cluster, notes)
            primitives.append(primitive)
            members.append(rsc_id)
        if members:
            out_groups.append(Group(f"grp-{members[0]}", tuple(members)))
            homes.append(group.home)
    unmonitored = [p.id for p in primitives if not any(op.name == "monitor" for op in p.ops)]
    if unmonitored:
        notes.append(
            Note(
                "warning",
                f"no monitor operation on {', '.join(unmonitored)}: as under hbd without hbd_monitor, a "
                "failed service is not noticed; add `op monitor interval=...` to have Pacemaker restart it",
            )
        )
    return GroupExport(tuple(primitives), tuple(out_groups), tuple(homes), tuple(notes))


def _resource_ids(groups: tuple[ResourceGroup, ...]) -> dict[tuple[int, int], str]:
    """(group index, resource index) -> id: the script name where it is unique, else name and arguments
    (`hblab-service-8080-www`); a spec in two groups (haresources warns) gets two resources, `-2` on the
    second."""
    by_name: dict[str, set[str]] = {}
    for group in groups:
        for resource in group.resources:
            by_name.setdefault(resource.name, set()).add(resource.spec)
    ids: dict[tuple[int, int], str] = {}
    for g, group in enumerate(groups):
        for r, resource in enumerate(group.resources):
            name, args = resource.name, resource.args
            if name in IP_RESOURCES and args:
                base = "ip-" + args[0].split("/")[0]
            elif len(by_name[name]) == 1:
                base = name
            else:
                base = "-".join([name, *args])
            candidate = xml_id(base)
            n = 2
            while candidate in ids.values():
                candidate = f"{xml_id(base)}-{n}"
                n += 1
            ids[(g, r)] = candidate
    return ids


def _primitive(
    rsc_id: str,
    resource: Resource,
    cluster: ClusterConfig,
    config_dir: Path,
    notes: list[Note],
    where: str | None,
) -> Primitive | None:
    name, args = resource.name, resource.args
    if name in IP_RESOURCES:
        return _ipaddr2(rsc_id, resource, cluster)
    if name == "drbddisk":
        drbd = args[0] if args else "all"
        notes.append(
            Note(
                "dropped",
                f"{resource.spec}: not a group member under Pacemaker. DRBD is a promotable clone: "
                f"`primitive drbd-{drbd} ocf:linbit:drbd params drbd_resource={drbd}` (package drbd-utils), "
                f"`clone ms-drbd-{drbd} drbd-{drbd} meta promotable=true promoted-max=1 notify=true`, then "
                "colocate this group with the clone's Promoted role and order promote before its start",
                where,
            )
        )
        return None
    if name in AGENTS:
        ocf_type, names = AGENTS[name]
        if len(args) > len(names):
            notes.append(
                Note(
                    "dropped",
                    f"{resource.spec}: arguments past the {len(names)} {name} takes "
                    f"({', '.join(names)}) dropped",
                    where,
                )
            )
        params = tuple(zip(names, args, strict=False))
        return Primitive(rsc_id, "ocf", ocf_type, "heartbeat", params)
    script_dir = next((d for d in _resource_dirs(cluster, config_dir) if (d / name).is_file()), None)
    if script_dir is not None:
        notes.append(
            Note(
                "warning",
                f"{name}: a script of {script_dir} with no OCF equivalent, exported as lsb:{name}: "
                f"install it as /etc/init.d/{name} (Pacemaker looks for LSB scripts only there) "
                "or write an OCF agent",
                where,
            )
        )
    if args:
        notes.append(
            Note(
                "dropped",
                f"{resource.spec}: arguments {' '.join(args)} dropped: an LSB resource takes none "
                f"(wrap lsb:{name} in an OCF agent with parameters to keep them)",
                where,
            )
        )
    return Primitive(rsc_id, "lsb", name)


def _resource_dirs(cluster: ClusterConfig, config_dir: Path) -> list[Path]:
    """Where hbd looks for user scripts before /etc/init.d (hbd.resources.lookup)."""
    return [Path(d) for d in cluster.resource_dirs] or [config_dir / "resource.d"]


def _ipaddr2(rsc_id: str, resource: Resource, cluster: ClusterConfig) -> Primitive:
    spec = parse_ip_spec(resource.name, resource.args[0])  # the loader checked it
    params: list[tuple[str, str]] = [("ip", spec.ip)]
    if spec.prefix is not None:
        params.append(("cidr_netmask", str(spec.prefix)))
    if spec.iface is not None:
        params.append(("nic", spec.iface))
    if spec.label is not None:
        params.append(("iflabel", spec.label))
    if spec.broadcast is not None:
        params.append(("broadcast", spec.broadcast))
    if cluster.garp_count != IPADDR2_ARP_COUNT:
        params.append(("arp_count", str(cluster.garp_count)))
    interval_ms = round(cluster.garp_interval_s * 1000)
    if interval_ms != IPADDR2_ARP_INTERVAL_MS:
        params.append(("arp_interval", str(interval_ms)))
    return Primitive(rsc_id, "ocf", "IPaddr2", "heartbeat", tuple(params))


def _with_monitor(
    primitive: Primitive, resource: Resource, cluster: ClusterConfig, notes: list[Note]
) -> Primitive:
    monitor = _monitor_of(resource, cluster.monitors)
    if monitor is None:
        return primitive
    timeout_s = monitor.timeout_s if monitor.timeout_s is not None else cluster.resource_timeout_s
    op = Op("monitor", round(monitor.interval_s * 1000), round(timeout_s * 1000))
    meta = (
        ("migration-threshold", str(monitor.restarts + 1)),
        ("failure-timeout", f"{round(monitor.window_s)}s"),
    )
    return Primitive(
        primitive.id,
        primitive.standard,
        primitive.type,
        primitive.provider,
        primitive.params,
        primitive.meta + meta,
        (*primitive.ops, op),
    )


def _monitor_of(resource: Resource, monitors: tuple[Monitor, ...]) -> Monitor | None:
    return next((m for m in monitors if m.matches(resource)), None)
