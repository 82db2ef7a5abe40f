"""An hbd configuration -> the Pacemaker configuration and corosync.conf that run the same cluster.

Scores: each group prefers its home node with `HOME_SCORE`. `auto_failback on` (and legacy) is stickiness 0,
so the home preference wins and a group moves back when its home node returns; `auto_failback off` is a
stickiness above the home score, so a running group stays where it is. Ping nodes become an
`ocf:pacemaker:ping` clone whose `pingd` attribute (`ping_multiplier` per reachable ping node) is every
group's location score where defined: connectivity outweighs home and stickiness, as heartbeat's ipfail. A
group's stickiness is the sum of its members', so the multiplier grows with the largest group.

Every ha.cf line gets a disposition (`DIRECTIVES`): mapped somewhere, or listed in the notes with the reason
it has no equivalent. A directive this table does not know is listed too: nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hbd.config.hacf import strip_comment
from hbd.config.model import HOST_MAP_PARAM, AutoFailback, Config, StonithHost
from hbd.export import corosync
from hbd.export.arguments import DEFAULT_CLUSTER_NAME
from hbd.export.model import Clone, Configuration, Group, Location, Note, Op, Primitive, header, ms_text
from hbd.export.resources import export_groups, xml_id

HOME_SCORE = 100
STICKY_SCORE = 200  # > HOME_SCORE: with auto_failback off a running group stays
PING_MULTIPLIER = 1000  # the smallest multiplier: a round number, above home + stickiness of small groups
_POSITIONAL = re.compile(r"p[0-9]+")

_OWN_LOGS = "Corosync logs to /var/log/corosync/corosync.log, Pacemaker to /var/log/pacemaker/pacemaker.log"
_HEARTBEAT_INTERNAL = "heartbeat-internal housekeeping (hbd ignored it too); Corosync has its own"
# ha.cf directive -> None (mapped: where it goes is in docs/pacemaker.md) or why it has no equivalent.
DIRECTIVES: dict[str, str | None] = {
    "node": None,  # nodelist, CIB nodes
    "keepalive": None,  # totem token_retransmits_before_loss_const
    "deadtime": None,  # totem token, consensus
    "initdead": None,  # dc-deadtime
    "auto_failback": None,  # resource-stickiness
    "nice_failback": None,  # as auto_failback (the loader's reading)
    "bcast": None,  # knet links (corosync.links notes what a medium loses)
    "udp": None,
    "mcast": None,
    "ucast": None,
    "serial": None,  # dropped by corosync.links, with its note
    "ping": None,  # ping clone
    "deadping": None,  # the ping resource's dampen
    "stonith_host": None,  # stonith resources
    "logfacility": None,  # corosync syslog_facility
    "realtime": None,  # corosync runs with realtime scheduling by default
    "hbd_garp_count": None,  # IPaddr2 arp_count
    "hbd_garp_interval": None,  # IPaddr2 arp_interval
    "hbd_resource_timeout": None,  # op_defaults timeout
    "hbd_fence_delay": None,  # priority-fencing-delay
    "hbd_monitor": None,  # monitor operations
    "warntime": "Corosync has no late-heartbeat warning (`corosync-cfgtool -s` shows each link's state)",
    "udpport": "Corosync uses its own port (5405 by default), so hbd and Corosync can run side by side "
    "during the move",
    "baud": "serial media have no knet equivalent",
    "logfile": _OWN_LOGS,
    "debugfile": _OWN_LOGS,
    "hbd_builtin_ipaddr": "Pacemaker always runs the IPaddr2 agent (a script per action, no in-process path)",
    "hbd_resource_path": "Pacemaker finds LSB scripts only in /etc/init.d and OCF agents in "
    "/usr/lib/ocf/resource.d",
    "hbd_stall_aware": "Corosync's token timeout counts every silence; there is no stall-aware setting",
    "hbd_metrics": "Pacemaker serves no metrics itself (ha_cluster_exporter is a separate program)",
    "watchdog": "under Pacemaker a watchdog is sbd's job (package sbd)",
    "respawn": "ipfail's job is done by the ping clone's location rule; run other programs as systemd units "
    "or cluster resources",
    **{
        name: _HEARTBEAT_INTERNAL
        for name in (
            "apiauth", "debug", "use_logd", "conn_logd_time", "msgfmt", "hopfudge", "rtprio", "uuidfrom",
            "hbgenmethod", "max_rexmit_delay", "coredumps", "coreroot", "log_badpack", "syslogmsgfmt",
            "memreserve",
        )
    },
    # refused by hbd unless set to their "off" value, which has nothing to carry over
    **{name: "off: nothing to carry over" for name in ("crm", "pacemaker", "autojoin")},
}  # fmt: skip


@dataclass(frozen=True)
class Export:
    configuration: Configuration
    corosync_conf: str
    authkey: bytes | None  # None: authkeys has no secret (crc)
    notes: tuple[Note, ...]


def export(
    config: Config,
    hacf_text: str,
    *,
    local: str | None = None,
    addresses: Mapping[tuple[str, str], str] | None = None,
    cluster_name: str = DEFAULT_CLUSTER_NAME,
) -> Export:
    """The whole export. `hacf_text` is ha.cf as read (its lines get a disposition each); `local` is the node
    the files are from (ucast lines name its peer), None when unknown."""
    cluster = config.cluster
    notes = directive_notes(hacf_text, f"{config.config_dir}/ha.cf")
    link_list, link_notes = corosync.links(config, local, addresses or {})
    notes += link_notes
    t = corosync.timing(cluster.keepalive_s, cluster.deadtime_s)
    if t.token_ms < corosync.COROSYNC_DEFAULT_TOKEN_MS:
        notes.append(
            Note(
                "warning",
                f"token {t.token_ms} ms (from deadtime) is below Corosync's default "
                f"{corosync.COROSYNC_DEFAULT_TOKEN_MS} ms: a loaded node may lose membership; "
                "raise deadtime if that happens",
            )
        )
    key = config.auth.signing_key
    authkey = corosync.derive_authkey(key.key, cluster_name) if key.key else None
    if authkey is None:
        notes.append(
            Note(
                "placeholder",
                f"authkeys signs with {key.method}, which has no secret: no authkey written; run "
                "corosync-keygen and copy /etc/corosync/authkey to every node",
            )
        )
    for other in config.auth.keys:
        if other.index != key.index:
            notes.append(
                Note(
                    "dropped",
                    f"authkeys index {other.index} ({other.method}): Corosync has one authkey, derived from "
                    f"index {key.index}, which signs",
                    f"{config.config_dir}/authkeys",
                )
            )
    config_dir = Path(config.config_dir)
    resources = export_groups(config.groups, cluster, config_dir)
    notes += resources.notes
    stonith, stonith_locations, stonith_notes = _stonith(config)
    notes += stonith_notes
    primitives = [*resources.primitives, *stonith]
    groups = list(resources.groups)
    if cluster.fence_delay_s > 0:
        # priority-fencing-delay delays fencing the node whose resources have the highest total priority:
        # the node holding groups wins the race, as with hbd_fence_delay.
        groups = [Group(g.id, g.members, (*g.meta, ("priority", "1"))) for g in groups]
    locations = [
        Location(f"loc-{grp.id}-home", grp.id, str(HOME_SCORE), node=home)
        for home, grp in zip(resources.homes, groups, strict=True)
    ]
    sticky = STICKY_SCORE if cluster.auto_failback is AutoFailback.OFF else 0
    clones: list[Clone] = []
    if cluster.ping_nodes:
        largest = max((len(g.members) for g in groups), default=0)
        primitives.append(_ping(config, ping_multiplier(sticky, largest)))
        clones.append(Clone("ping-clone", "ping"))
        locations += [
            Location(f"loc-{grp.id}-ping", grp.id, rule_attribute="pingd", score_attribute="pingd")
            for grp in groups
        ]
    locations += stonith_locations
    properties = [("stonith-enabled", "true" if stonith else "false")]
    if not stonith:
        notes.append(Note("warning", STONITH_WARNING))
    properties.append(("dc-deadtime", ms_text(round(cluster.initdead_s * 1000))))
    if cluster.fence_delay_s > 0:
        properties.append(("priority-fencing-delay", ms_text(round(cluster.fence_delay_s * 1000))))
    if cluster.auto_failback is AutoFailback.LEGACY:
        notes.append(
            Note("warning", "auto_failback legacy exported as on (stickiness 0: a group returns to its home)")
        )
    notes = sorted(notes, key=_note_order)
    configuration = Configuration(
        nodes=tuple(enumerate(cluster.nodes, start=1)),
        primitives=tuple(primitives),
        groups=tuple(groups),
        clones=tuple(clones),
        locations=tuple(locations),
        properties=tuple(properties),
        rsc_defaults=(("resource-stickiness", str(sticky)),),
        op_defaults=(("timeout", ms_text(round(cluster.resource_timeout_s * 1000))),),
        notes=tuple(notes),
    )
    text = header(config.config_dir, notes)
    conf = corosync.render(config, cluster_name, link_list, authkey is not None, text)
    return Export(configuration, conf, authkey, tuple(notes))


STONITH_WARNING = (
    "no stonith_host lines: fencing is disabled (stonith-enabled=false). This is unsafe: Pacemaker cannot "
    "make sure a lost node is really dead, so after a network split both nodes run the groups (two owners "
    "of a VIP, a shared disk mounted twice). Configure a fence device and set stonith-enabled=true"
)


_KIND_ORDER = {"dropped": 0, "placeholder": 1, "warning": 2, "mapped": 3}


def _note_order(note: Note) -> tuple[int, str, int]:
    """Dropped settings first, then placeholders, warnings, remarks; each kind by file and line."""
    file, _, line = (note.where or "").rpartition(":")
    return (_KIND_ORDER[note.kind], file, int(line) if line.isdigit() else 1 << 30)


def directive_notes(hacf_text: str, path: str) -> list[Note]:
    """A note for every ha.cf line whose directive has no equivalent (the reason), in line order."""
    notes: list[Note] = []
    for number, raw in enumerate(hacf_text.splitlines(), start=1):
        content = strip_comment(raw)
        if not content:
            continue
        name = content.split()[0]
        where = f"{path}:{number}"
        if name not in DIRECTIVES:
            notes.append(Note("dropped", f"{content}: the export has no rule for {name}", where))
        elif (why := DIRECTIVES[name]) is not None:
            notes.append(Note("dropped", f"{_shown_line(content)}: {why}", where))
        elif name == "hbd_monitor":
            notes.append(
                Note(
                    "mapped",
                    f"{content}: a monitor operation; on failure Pacemaker restarts the failed resource and "
                    "those after it in the group (hbd: the whole group), and failure-timeout forgets all "
                    "failures at once (hbd: a sliding window)",
                    where,
                )
            )
    return notes


def _shown_line(content: str) -> str:
    return content if len(content) <= 60 else content[:57] + "..."


def _stonith(config: Config) -> tuple[list[Primitive], list[Location], list[Note]]:
    """Each stonith_host line -> a stonith resource of the same fence agent. `stonith_host H` is the device
    H fences its peer with: it may fence the other node(s) and runs away from its target."""
    nodes = config.cluster.nodes
    primitives: list[Primitive] = []
    locations: list[Location] = []
    notes: list[Note] = []
    for line in config.cluster.stonith_hosts:
        where = str(line.where) if line.where else None
        targets = list(nodes) if line.host == "*" else [n for n in nodes if n != line.host]
        rsc_id = xml_id(f"fence-{line.agent}-{'all' if line.host == '*' else line.host}")
        while any(p.id == rsc_id for p in primitives):
            rsc_id += "-2"
        params = _stonith_params(line, targets, notes, where)
        if not line.agent.startswith("fence_"):
            notes.append(
                Note(
                    "warning",
                    f"stonith_host {line.agent}: not a fence-agents name (fence_*); Pacemaker's stonith: "
                    "class needs one",
                    where,
                )
            )
        primitives.append(Primitive(rsc_id, "stonith", line.agent, params=tuple(params)))
        if line.host != "*" and len(targets) == 1:
            locations.append(Location(f"loc-{rsc_id}-avoid", rsc_id, "-INFINITY", node=targets[0]))
    return primitives, locations, notes


def _stonith_params(
    line: StonithHost, targets: list[str], notes: list[Note], where: str | None
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    names = dict(line.params)
    for name, value in line.params:
        if _POSITIONAL.fullmatch(name):
            notes.append(
                Note(
                    "dropped",
                    f"stonith_host {line.agent}: positional parameter {name} (heartbeat plugin syntax) "
                    "has no name in fence-agents: give it as name=value",
                    where,
                )
            )
        elif name != "plug":
            params.append((name, value))
    if "plug" in names:  # a fixed plug: Pacemaker passes the target's entry of pcmk_host_map as the plug
        params.append((HOST_MAP_PARAM, ";".join(f"{t}:{names['plug']}" for t in targets)))
    elif HOST_MAP_PARAM not in names:
        params.append(("pcmk_host_list", " ".join(targets)))
    return params


def ping_multiplier(sticky: int, largest_group: int) -> int:
    """pingd per reachable ping node: more than a group's home score plus its stickiness (the sum of its
    members'), so one more reachable ping node always wins; rounded up to thousands."""
    need = HOME_SCORE + sticky * largest_group + 1
    return max(PING_MULTIPLIER, -(-need // 1000) * 1000)


def _ping(config: Config, multiplier: int) -> Primitive:
    cluster = config.cluster
    params = (
        ("host_list", " ".join(cluster.ping_nodes)),
        ("multiplier", str(multiplier)),
        ("dampen", ms_text(round(cluster.deadping_s * 1000))),
    )
    monitor = Op("monitor", round(cluster.keepalive_s * 1000))  # heartbeat pings every keepalive
    return Primitive("ping", "ocf", "ping", "pacemaker", params, ops=(monitor,))
