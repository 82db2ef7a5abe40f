"""What each fault of a scenario's `inject:` / `heal:` steps accepts: one frozen dataclass per fault.

`inject: {fault: link_cut, link: crossover, how: drop}`: `fault` picks the declaration below, the other
keys are its fields. This is the schema of what a user writes; lab/faults/<family>.py implements each
declared fault (registered for the same dataclass), lab/spec/scenario.py validates steps against it, the
runner's topology check reads which fields name nodes, links and serial lines, and docs/scenarios.md shows
it. lab/spec imports nothing of lab/faults: the direction is spec <- backends <- faults <- runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from lab.spec.params import Declared, LinkName, NodeName, Positive, Range, SerialName, doc

LinkHow = Literal["down", "drop", "pull"]
Direction = Literal["in", "out", "both"]


@dataclass(frozen=True, kw_only=True)
class FaultParams(Declared):
    """What every fault accepts."""

    phase: Literal["random", "none"] = field(
        default="random",
        metadata=doc("wait a seeded random time in [0, keepalive) first, so runs sample every timer phase"),
    )


@dataclass(frozen=True, kw_only=True)
class SoftStop(FaultParams):
    """SIGTERM to the daemon, wait for it to exit (unless `exits: false`); heal boots it again."""

    node: NodeName = field(metadata=doc("the node whose daemon stops"))
    timeout_s: Positive = field(default=60.0, metadata=doc("how long the daemon may take to exit"))
    exits: bool = field(
        default=True, metadata=doc("false: the daemon must stay up (a stop that fails); SIGTERM only")
    )


@dataclass(frozen=True, kw_only=True)
class PowerOff(FaultParams):
    """Every process of the node killed at once, its cables dead from the switch side; heal = power_on."""

    ONE_OF = ("node", "nodes")
    node: NodeName | None = field(default=None, metadata=doc("the node"))
    nodes: tuple[NodeName, ...] | None = field(default=None, metadata=doc("several nodes at once"))


@dataclass(frozen=True, kw_only=True)
class PowerOn(FaultParams):
    """Cables up, daemon booted."""

    ONE_OF = ("node", "nodes")
    node: NodeName | None = field(default=None, metadata=doc("the node"))
    nodes: tuple[NodeName, ...] | None = field(default=None, metadata=doc("several nodes"))
    together: bool = field(default=False, metadata=doc("boot the daemons at the same instant"))


@dataclass(frozen=True, kw_only=True)
class BootTogether(FaultParams):
    """Power on several nodes, their daemons started at the same instant."""

    nodes: tuple[NodeName, ...] | None = field(default=None, metadata=doc("default: every server"))


@dataclass(frozen=True, kw_only=True)
class OneCable(FaultParams):
    """One end of one cable: `link` (+ `node`, default the link's first end) or `node` + `iface`."""

    ONE_OF = ("link", "iface")
    link: LinkName | None = field(default=None, metadata=doc("a LAN or link of the topology"))
    node: NodeName | None = field(default=None, metadata=doc("the cable's end (default: the link's first)"))
    iface: str | None = field(default=None, metadata=doc("an interface of `node`, instead of `link`"))

    def problems(self) -> list[tuple[str, str]]:
        if self.iface is not None and self.node is None:
            return [("iface", "needs `node`: the node the interface belongs to")]
        return []


@dataclass(frozen=True, kw_only=True)
class LinkCut(OneCable):
    """One cable: down (`ip link down` at the node end), drop (nft drop in the node) or pull (out of the
    bridge, far end down: no carrier)."""

    how: LinkHow = field(default="down", metadata=doc("how the cable fails"))
    direction: Direction = field(default="both", metadata=doc("with how: drop, one way only"))

    def problems(self) -> list[tuple[str, str]]:
        found = super().problems()
        if self.direction != "both" and self.how != "drop":
            found.append(("direction", f"direction {self.direction} needs how: drop"))
        return found


@dataclass(frozen=True, kw_only=True)
class CutHeartbeat(FaultParams):
    """Every heartbeat medium of a node: its heartbeat segments (how=drop on a LAN the clients share drops
    only heartbeat UDP, so the service stays reachable) and its serial lines."""

    node: NodeName | None = field(default=None, metadata=doc("default: the first server"))
    how: LinkHow = field(default="drop", metadata=doc("how each cable fails"))


@dataclass(frozen=True, kw_only=True)
class SerialCut(FaultParams):
    """Stop relaying a serial line; heal relays again."""

    link: SerialName | None = field(default=None, metadata=doc("the serial line (default: the only one)"))
    line: SerialName | None = field(default=None, metadata=doc("another name for `link`"))


@dataclass(frozen=True, kw_only=True)
class Loss(OneCable):
    """Random packet loss with nft `numgen random mod 100 < N`."""

    percent: Annotated[int, Range(1, 100)] = field(metadata=doc("how many packets of 100 are dropped"))
    direction: Direction = field(default="both", metadata=doc("which way packets are lost"))


@dataclass(frozen=True, kw_only=True)
class Delay(OneCable):
    """Packets of one cable end held for `ms` +- `jitter_ms`, some reordered or duplicated: netem where the
    kernel has it (outgoing only), else a userspace NFQUEUE relay in the node (lab/node/delay_relay.py,
    netns backend); `hblab doctor` says which the kernel offers."""

    ms: Annotated[float, Range(1, 60_000)] = field(metadata=doc("the added delay in milliseconds"))
    jitter_ms: Annotated[float, Range(0, 60_000)] = field(
        default=0.0, metadata=doc("each packet's delay is ms +- up to this (uniform)")
    )
    reorder_percent: Annotated[float, Range(0, 100)] = field(
        default=0.0, metadata=doc("this share of packets goes out at once, overtaking the held ones")
    )
    duplicate_percent: Annotated[float, Range(0, 100)] = field(
        default=0.0, metadata=doc("this share of outgoing packets is sent twice")
    )
    direction: Direction = field(default="out", metadata=doc("which way packets are delayed"))
    via: Literal["auto", "netem", "relay"] = field(
        default="auto", metadata=doc("auto: netem if the kernel has it and direction is out, else the relay")
    )
    max_s: Annotated[float, Range(0, 3600, low_open=True)] = field(
        default=600.0, metadata=doc("the relay ends by itself after this many seconds (heal ends it earlier)")
    )

    def problems(self) -> list[tuple[str, str]]:
        found = super().problems()
        if self.via == "netem" and self.direction != "out":
            found.append(("direction", "netem delays outgoing packets only: direction out, or via relay"))
        if self.duplicate_percent and self.direction == "in":
            found.append(("duplicate_percent", "only outgoing packets can be duplicated: direction out/both"))
        return found


@dataclass(frozen=True, kw_only=True)
class Freeze(FaultParams):
    """SIGSTOP the daemon (hbd's worker and its supervisor); SIGCONT after `ms`, or at the heal."""

    node: NodeName = field(metadata=doc("the node whose daemon freezes"))
    ms: Annotated[float, Range(0, 3_600_000, low_open=True)] | None = field(
        default=None, metadata=doc("thaw after this many milliseconds (default: at the heal)")
    )


# -- the daemon and its resources (lab/faults/daemon.py) --------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DaemonKill(FaultParams):
    """SIGKILL of the daemon's worker process only (under hbd's supervisor, the child of the pid the lab
    started; without one, that pid itself): services, VIP and the supervisor are left alone."""

    node: NodeName = field(metadata=doc("the node whose worker dies"))


@dataclass(frozen=True, kw_only=True)
class ServiceKill(FaultParams):
    """SIGKILL of the lab service's processes (hblab-service responders) on a node; the daemon untouched."""

    node: NodeName = field(metadata=doc("the node whose services die"))
    port: Annotated[int, Range(1, 65535)] | None = field(
        default=None, metadata=doc("only the service on this port (default: every service)")
    )


@dataclass(frozen=True, kw_only=True)
class ResourceFail(FaultParams):
    """The next start, stop or status of the lab service on a node fails (exit 1) or hangs (past any
    resource timeout); heal removes a failure that has not happened yet and reports whether it did."""

    node: NodeName = field(metadata=doc("the node whose resource fails"))
    action: Literal["start", "stop", "status"] = field(metadata=doc("which operation fails"))
    mode: Literal["fail", "hang"] = field(default="fail", metadata=doc("exit 1 at once, or hang"))
    hang_s: Positive = field(default=600.0, metadata=doc("with mode: hang, how long the script sleeps"))
    port: Annotated[int, Range(1, 65535)] | None = field(
        default=None, metadata=doc("the service's port (default: the first service of the topology)")
    )
    sticky: bool = field(default=False, metadata=doc("fail every time until the heal, not only the next"))


@dataclass(frozen=True, kw_only=True)
class StateDirFull(FaultParams):
    """The daemon's state directory cannot be written (no file can be created, renamed or removed in it:
    the immutable attribute, `chattr +i`); files already open keep working. Heal clears it."""

    node: NodeName = field(metadata=doc("the node whose state directory fills up"))


@dataclass(frozen=True, kw_only=True)
class Hbctl(FaultParams):
    """An operator command on a node (`hbctl standby|takeover [scope]`, `hbctl cleanup GROUP`): not a fault,
    a step of a script."""

    node: NodeName = field(metadata=doc("the node the operator types on"))
    command: Literal["standby", "takeover", "cleanup"] = field(metadata=doc("hbctl's command"))
    scope: Literal["all", "local", "foreign"] = field(default="all", metadata=doc("which groups"))
    group: str | None = field(
        default=None,
        metadata=doc("cleanup: the group's key (default: the first group of the node's haresources)"),
    )


# -- the daemon's configuration (lab/faults/config.py) ---------------------------------------------

AuthIndex = Annotated[int, Range(0, 15)]


@dataclass(frozen=True, kw_only=True)
class Reload(FaultParams):
    """Rewrite node(s)' ha.cf and/or authkeys, then SIGHUP each daemon (hbd reloads without a restart):
    every node's files first, then the signals. Verified by each daemon's config.reloaded event (or
    config.reload_failed with `expect: refused`). Not healable: write the old values back with another
    reload."""

    node: NodeName | None = field(default=None, metadata=doc("the node"))
    nodes: tuple[NodeName, ...] | None = field(default=None, metadata=doc("several nodes"))
    set: tuple[str, ...] | None = field(
        default=None,
        metadata=doc("ha.cf lines `directive value`, each replacing every line of its directive (or added)"),
    )
    keys: tuple[AuthIndex, ...] | None = field(
        default=None,
        metadata=doc(
            "authkeys: the key indexes the file holds afterwards (one it had keeps its key; a new one gets "
            "a sha256 key derived from the file's lowest key, so every node derives the same)"
        ),
    )
    auth: AuthIndex | None = field(default=None, metadata=doc("authkeys: the index that signs afterwards"))
    expect: Literal["reloaded", "refused"] = field(
        default="reloaded", metadata=doc("refused: the new files must be rejected (the old ones run on)")
    )


# -- attacks on the heartbeat port (lab/faults/attack.py; scapy, in the host venv and the node image) ----


@dataclass(frozen=True, kw_only=True)
class AttackFrom(FaultParams):
    """Where an attacker sits: a node (default: the client) on one of its LANs or links."""

    node: NodeName | None = field(default=None, metadata=doc("the attacking node (default: the client)"))
    link: LinkName | None = field(
        default=None, metadata=doc("the segment it uses (default: the node's first heartbeat segment)")
    )


@dataclass(frozen=True, kw_only=True)
class JunkFlood(AttackFrom):
    """`rate` datagrams a second of `size` bytes to UDP 694 for `duration`, from a host without the key:
    junk (tiny `a=` lines inside `>>>`/`<<<`) or statuses signed with a wrong key (lab/node/flood.py)."""

    dst: str | None = field(
        default=None, metadata=doc("an address on the link (default: the link's broadcast address)")
    )
    rate: Annotated[float, Range(0, 2000, low_open=True)] = field(default=100.0, metadata=doc("per second"))
    size: Annotated[int, Range(16, 65507)] = field(default=65507, metadata=doc("bytes per junk datagram"))
    duration: Annotated[float, Range(0, 120, low_open=True)] = field(
        default=10.0, metadata=doc("seconds of flooding; the flood then ends by itself (heal ends it early)")
    )
    kind: Literal["junk", "wrong_key"] = field(default="junk", metadata=doc("what is sent"))
    claim_src: NodeName | None = field(
        default=None, metadata=doc("wrong_key: the node the forged status names (default: the first server)")
    )
    spoof_src: str | None = field(default=None, metadata=doc("forge this IP source address (scapy)"))


@dataclass(frozen=True, kw_only=True)
class Capture(AttackFrom):
    """Sniff the heartbeats seen on a link into <run>/nodes/<node>/capture.pcap for a later `replay`."""

    duration: Annotated[float, Range(0, 600, low_open=True)] = field(
        default=120.0, metadata=doc("seconds at most; heal (or the end of the run) stops it earlier")
    )


@dataclass(frozen=True, kw_only=True)
class Replay(AttackFrom):
    """Send captured heartbeat frames again, unchanged (same source, same signature): the newest (or each)
    of those matching `type` and `src`, `count` times, every `every_ms`, for at most `duration`."""

    type: str | None = field(default=None, metadata=doc("only packets with this t= (e.g. hb_takeover)"))
    src: NodeName | None = field(default=None, metadata=doc("only packets from this node"))
    which: Literal["last", "all"] = field(default="last", metadata=doc("the newest match, or each in turn"))
    count: Annotated[int, Range(1, 1000)] = field(default=1, metadata=doc("frames to send in all"))
    every_ms: Annotated[float, Range(1, 10_000)] = field(default=20.0, metadata=doc("between two sends"))
    duration: Annotated[float, Range(0, 600, low_open=True)] = field(
        default=5.0, metadata=doc("seconds at most")
    )


@dataclass(frozen=True)
class FaultDecl:
    """A fault's name, its parameters, and whether `heal: {fault: NAME}` undoes it."""

    name: str
    params: type[FaultParams]
    healable: bool = False
    heals: str | None = None  # an inject-only name that heals another fault (`link_heal` heals link_cut)
    backends: tuple[str, ...] | None = None  # the backends it runs on (None: any); why in `backends_why`
    backends_why: str = ""


def _registry(*decls: FaultDecl) -> dict[str, FaultDecl]:
    return {d.name: d for d in decls}


# Order: as the docs and the `known:` lists show them.
FAULTS: dict[str, FaultDecl] = _registry(
    FaultDecl("soft_stop", SoftStop, healable=True),
    FaultDecl("power_off", PowerOff, healable=True),
    FaultDecl("power_on", PowerOn),
    FaultDecl("link_cut", LinkCut, healable=True),
    FaultDecl("link_heal", LinkCut, heals="link_cut"),
    FaultDecl("cut_heartbeat", CutHeartbeat, healable=True),
    FaultDecl("serial_cut", SerialCut, healable=True),
    FaultDecl("serial_heal", SerialCut, heals="serial_cut"),
    FaultDecl("loss", Loss, healable=True),
    FaultDecl("delay", Delay, healable=True),
    FaultDecl("freeze", Freeze, healable=True),
    FaultDecl("boot_together", BootTogether),
    FaultDecl("daemon_kill", DaemonKill),
    FaultDecl("service_kill", ServiceKill),
    FaultDecl("resource_fail", ResourceFail, healable=True),
    FaultDecl("state_dir_full", StateDirFull, healable=True),
    FaultDecl("hbctl", Hbctl),
    FaultDecl("reload", Reload),
    # The attack programs (lab/node/flood.py, replay.py) need scapy: the Docker node image has it too
    # (lab/backends/docker/image.py NODE_LAB_EXTRAS), so they run on both backends.
    FaultDecl("junk_flood", JunkFlood, healable=True),
    FaultDecl("capture", Capture, healable=True),
    FaultDecl("replay", Replay),
)
HEALABLE = tuple(name for name, d in FAULTS.items() if d.healable)
