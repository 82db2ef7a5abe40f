"""Faults: each `inject` / `heal` applies one change to the running lab, VERIFIES it took effect and
returns the record it wrote (a fault that cannot be verified raises FaultError: the run fails, because a
latency measured after a silent failure is worse than none).

Faults (scenario `inject: {fault: NAME, ...}` / `heal: {fault: NAME, ...}`; names as in lab/spec/scenario.py):
  soft_stop     {node}                     SIGTERM to the daemon, wait for it to exit; heal boots it again
  power_off     {node | nodes}             every process killed at once, cables dead from the switch side,
                                           runtime addresses gone; heal = power_on
  power_on      {node | nodes, together}   cables up, daemon booted (together: the same instant)
  boot_together {nodes}                    power_on of several nodes at the same instant
  link_cut      {link, node, how, direction}  one cable: how=down (node end `ip link down`), drop (nft drop
                                           in the node), pull (out of the bridge, far end down: no carrier);
                                           `inject: {fault: link_heal}` = `heal: {fault: link_cut}`
  cut_heartbeat {node, how}                every heartbeat medium of the node (default: the first server):
                                           its heartbeat segments (how=drop, the default, drops only heartbeat
                                           UDP on a LAN, so the service stays reachable) and its serial lines
  serial_cut    {link}                     stop relaying the serial line; heal (or serial_heal) relays again
  loss          {link, node, percent, direction}  random loss with nft `numgen random mod 100 < N`
  delay         {link, node, ms}           netem delay: refused with a clear error on kernels without netem
  freeze        {node, ms}                 SIGSTOP the daemon; SIGCONT after ms (or at heal)
`heal: {fault: X}` with no other parameter heals every active X with the parameters it was injected
with (so the heal uses the same `how`); with parameters it heals the matching one.
Every inject first waits a random time in [0, keepalive) (seeded) so runs sample every phase of the
heartbeat timer; `phase: none` turns that off.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from random import Random
from typing import Any, Protocol

from lab.backends.base import Backend, LabError
from lab.spec.topology import Topology

VERIFY_TIMEOUT_S = 3.0
SOFT_STOP_TIMEOUT_S = 60.0
HEARTBEAT_UDP_PORT = 694
NFT_TABLE_PREFIX = "hblab_"


class FaultError(LabError):
    """A fault could not be injected, healed or verified."""


class Daemons(Protocol):
    """The runner's view of the daemons: who runs where, and how to boot them."""

    def pid(self, node: str) -> int | None: ...

    def boot(self, nodes: list[str], together: bool = False) -> None: ...

    def forget(self, node: str) -> None: ...


@dataclass
class FaultContext:
    backend: Backend
    topology: Topology
    daemons: Daemons
    record: Callable[[dict[str, Any]], None]
    rng: Random
    keepalive_s: float = 1.0
    timers: list[threading.Timer] = field(default_factory=list)
    active: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # injected, not yet healed
    next_extra: dict[str, Any] = field(default_factory=dict)  # merged into the next record (phase wait)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def emit(self, event: str, fault: str, params: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        rec = {"mono": extra.pop("mono", time.monotonic()), "source": "lab", "event": event, "fault": fault}
        rec.update(params)
        rec.update(extra)
        rec.update(self.next_extra)
        self.next_extra = {}
        with self.lock:
            self.record(rec)
        return rec

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = VERIFY_TIMEOUT_S) -> float:
    """Poll `check` until true; return the monotonic time it became true, else raise FaultError."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise FaultError(f"not verified within {timeout_s} s: {what}")
        time.sleep(0.002)


# -- parameters -----------------------------------------------------------------------------------


class Params:
    """A fault's parameters, checked: a typo in a scenario is an error, not a silently ignored key."""

    def __init__(self, fault: str, raw: Mapping[str, Any], allowed: set[str]) -> None:
        self.fault = fault
        self.raw = dict(raw)
        unknown = set(self.raw) - allowed - {"fault", "phase"}
        if unknown:
            raise FaultError(
                f"{fault}: unknown parameter(s) {', '.join(sorted(unknown))} (allowed: "
                f"{', '.join(sorted(allowed | {'phase'}))})"
            )

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.raw:
            raise FaultError(f"{self.fault}: parameter {key!r} is required")
        return self.raw[key]

    def number(self, key: str, default: float | None = None, low: float = 0, high: float = 1e9) -> float:
        value = self.raw.get(key, default)
        if value is None:
            raise FaultError(f"{self.fault}: parameter {key!r} is required")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise FaultError(f"{self.fault}: {key} must be a number in [{low}, {high}], got {value!r}")
        return float(value)

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.raw.get(key, default)
        if value not in options:
            raise FaultError(f"{self.fault}: {key} must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.raw.items() if k not in ("fault",)}


def _node(ctx: FaultContext, p: Params, key: str = "node", default: str | None = None) -> str:
    node = p.get(key, default)
    if node is None:
        raise FaultError(f"{p.fault}: parameter {key!r} is required")
    if node not in ctx.topology.node_names:
        raise FaultError(f"{p.fault}: unknown node {node!r} (nodes: {', '.join(ctx.topology.node_names)})")
    return str(node)


def _nodes(ctx: FaultContext, p: Params) -> list[str]:
    if "nodes" in p.raw:
        nodes = p.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            raise FaultError(f"{p.fault}: nodes must be a non-empty list")
        return [_node(ctx, Params(p.fault, {"node": n}, {"node"})) for n in nodes]
    return [_node(ctx, p)]


def _iface(ctx: FaultContext, p: Params) -> tuple[str, str]:
    """(node, iface) from `node` + `iface`, or `link: SEGMENT` (+ optional node: default the first end)."""
    if "iface" in p.raw:
        node = _node(ctx, p)
        iface = str(p.get("iface"))
        if iface not in {e.iface for _s, e in ctx.topology.endpoints_of(node)}:
            raise FaultError(f"{p.fault}: node {node} has no interface {iface!r}")
        return node, iface
    seg_name = p.require("link")
    try:
        seg = ctx.topology.segment(str(seg_name))
    except KeyError as e:
        raise FaultError(f"{p.fault}: {e.args[0]}") from e
    node = p.get("node", seg.endpoints[0].node)
    end = seg.endpoint(str(node))
    if end is None:
        raise FaultError(f"{p.fault}: node {node!r} is not on {seg.name}")
    return end.node, end.iface


def _daemon_pid(ctx: FaultContext, fault: str, node: str) -> int:
    pid = ctx.daemons.pid(node)
    if pid is None or not ctx.backend.alive(pid):
        raise FaultError(f"{fault}: no daemon is running on {node}")
    return pid


# -- nftables ---------------------------------------------------------------------------------------


def _nft_table(kind: str, iface: str) -> str:
    return f"{NFT_TABLE_PREFIX}{kind}_{iface.replace('.', '_')}"


def _nft_add(ctx: FaultContext, fault: str, node: str, table: str, match: str, direction: str) -> None:
    """A table with input/output chains dropping `match` packets on the interface (direction in/out/both);
    verified: a rule that did not land fails the fault."""
    lines = [f"add table inet {table}"]
    for hook, dir_name, iface_key in (("input", "in", "iifname"), ("output", "out", "oifname")):
        if direction in (dir_name, "both"):
            lines.append(f"add chain inet {table} {hook} {{ type filter hook {hook} priority -10; }}")
            lines.append(f"add rule inet {table} {hook} {iface_key} {match}")
    ctx.backend.exec(node, ["nft", "-f", "-"], input_text="\n".join(lines) + "\n")
    if not _nft_has(ctx, node, table):
        raise FaultError(f"{fault}: nft table {table} is not in {node} after adding it")


def _nft_has(ctx: FaultContext, node: str, table: str) -> bool:
    res = ctx.backend.exec(node, ["nft", "list", "table", "inet", table], check=False)
    return res.returncode == 0 and "drop" in res.stdout


def _nft_del(ctx: FaultContext, node: str, table: str) -> None:
    if _nft_has(ctx, node, table):
        ctx.backend.exec(node, ["nft", "delete", "table", "inet", table])


# -- one cable ------------------------------------------------------------------------------------


def _cut(
    ctx: FaultContext, fault: str, node: str, iface: str, how: str, direction: str, heartbeat_only: bool
) -> None:
    b = ctx.backend
    if how == "down":
        b.set_link(node, iface, False, side="node")
        wait_until(lambda: not b.link_state(node, iface).admin_up, f"{node} {iface} down")
    elif how == "pull":
        b.attach(node, iface, False)
        b.set_link(node, iface, False, side="cable")
        wait_until(lambda: not b.link_state(node, iface).carrier, f"{node} {iface} lost carrier")
    else:
        match = f"udp dport {HEARTBEAT_UDP_PORT} drop" if heartbeat_only else "drop"
        table = _nft_table("drop", iface)
        _nft_add(ctx, fault, node, table, f'"{iface}" {match}', direction)


def _uncut(ctx: FaultContext, fault: str, node: str, iface: str, how: str) -> None:
    b = ctx.backend
    if how == "down":
        b.set_link(node, iface, True, side="node")
    elif how == "pull":
        b.attach(node, iface, True)
        b.set_link(node, iface, True, side="cable")
    else:
        _nft_del(ctx, node, _nft_table("drop", iface))
        if _nft_has(ctx, node, _nft_table("drop", iface)):
            raise FaultError(f"{fault}: nft drop table still present in {node}")
        return
    wait_until(
        lambda: (st := b.link_state(node, iface)).admin_up and st.carrier and st.attached,
        f"{node} {iface} back up with carrier",
    )


# -- the faults -------------------------------------------------------------------------------------


class Fault:
    name = ""
    allowed: set[str] = set()

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        raise FaultError(f"{self.name} cannot be injected")

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        raise FaultError(f"{self.name} has no heal")


class SoftStop(Fault):
    name = "soft_stop"
    allowed = {"node", "timeout_s"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node = _node(ctx, p)
        pid = _daemon_pid(ctx, self.name, node)
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGTERM)
        timeout = p.number("timeout_s", SOFT_STOP_TIMEOUT_S)
        done = wait_until(
            lambda: not ctx.backend.alive(pid), f"daemon on {node} exits after SIGTERM", timeout
        )
        ctx.daemons.forget(node)
        return ctx.emit("fault.inject", self.name, p.public(), mono=mono, pid=pid, verified_mono=done)

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node = _node(ctx, p)
        mono = time.monotonic()
        ctx.daemons.boot([node])
        return ctx.emit("fault.heal", self.name, p.public(), mono=mono, pid=ctx.daemons.pid(node))


class PowerOff(Fault):
    name = "power_off"
    allowed = {"node", "nodes"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        nodes = _nodes(ctx, p)
        requested = time.monotonic()
        killed: list[float] = []
        for node in nodes:
            at = ctx.backend.power_off(node)  # verifies: no process left, no carrier
            if isinstance(at, float):
                killed.append(at)
            ctx.daemons.forget(node)
        # The fault happens when the power goes (the first SIGKILL), not when we started looking for pids.
        mono = min(killed, default=requested)
        return ctx.emit(
            "fault.inject",
            self.name,
            p.public(),
            mono=mono,
            requested_mono=requested,
            verified_mono=time.monotonic(),
        )

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        return PowerOn().inject(ctx, p, event="fault.heal", fault=self.name)


class PowerOn(Fault):
    name = "power_on"
    allowed = {"node", "nodes", "together"}

    def inject(
        self, ctx: FaultContext, p: Params, event: str = "fault.inject", fault: str | None = None
    ) -> dict[str, Any]:
        nodes = _nodes(ctx, p)
        together = bool(p.get("together", False))
        for node in nodes:
            ctx.backend.power_on(node)  # verifies carrier on every cable
        mono = time.monotonic()
        ctx.daemons.boot(nodes, together=together)
        pids = {n: ctx.daemons.pid(n) for n in nodes}
        return ctx.emit(event, fault or self.name, p.public(), mono=mono, pids=pids)


class Link(Fault):
    name = "link_cut"
    allowed = {"link", "node", "iface", "how", "direction"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node, iface = _iface(ctx, p)
        how = p.choice("how", ("down", "drop", "pull"), "down")
        direction = p.choice("direction", ("in", "out", "both"), "both")
        if direction != "both" and how != "drop":
            raise FaultError(f"{self.name}: direction {direction} needs how: drop")
        mono = time.monotonic()
        _cut(ctx, self.name, node, iface, how, direction, heartbeat_only=False)
        return ctx.emit(
            "fault.inject",
            self.name,
            p.public(),
            mono=mono,
            node=node,
            iface=iface,
            how=how,
            verified_mono=time.monotonic(),
        )

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node, iface = _iface(ctx, p)
        how = p.choice("how", ("down", "drop", "pull"), "down")
        mono = time.monotonic()
        _uncut(ctx, self.name, node, iface, how)
        return ctx.emit(
            "fault.heal",
            self.name,
            p.public(),
            mono=mono,
            node=node,
            iface=iface,
            how=how,
            verified_mono=time.monotonic(),
        )


class HeartbeatLinks(Fault):
    name = "cut_heartbeat"
    allowed = {"node", "how"}

    def _targets(self, ctx: FaultContext, node: str) -> tuple[list[tuple[str, bool]], list[str]]:
        ifaces = [
            (e.iface, s.kind == "lan") for s, e in ctx.topology.endpoints_of(node) if s.heartbeat != "none"
        ]
        lines = [ln.name for ln in ctx.topology.serial_lines if ln.heartbeat and ln.device_of(node)]
        return ifaces, lines

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node = _node(ctx, p, default=ctx.topology.servers[0].name)
        how = p.choice("how", ("down", "drop", "pull"), "drop")
        ifaces, lines = self._targets(ctx, node)
        mono = time.monotonic()
        for iface, shared_lan in ifaces:
            # On a LAN the clients also use, drop only heartbeats: the service must stay reachable.
            _cut(ctx, self.name, node, iface, how, "both", heartbeat_only=shared_lan and how == "drop")
        for line in lines:
            ctx.backend.serial_set(line, False)
        return ctx.emit(
            "fault.inject",
            self.name,
            p.public(),
            mono=mono,
            node=node,
            how=how,
            ifaces=[i for i, _ in ifaces],
            serial=lines,
            verified_mono=time.monotonic(),
        )

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node = _node(ctx, p, default=ctx.topology.servers[0].name)
        how = p.choice("how", ("down", "drop", "pull"), "drop")
        ifaces, lines = self._targets(ctx, node)
        mono = time.monotonic()
        for iface, _lan in ifaces:
            _uncut(ctx, self.name, node, iface, how)
        for line in lines:
            ctx.backend.serial_set(line, True)
        return ctx.emit(
            "fault.heal",
            self.name,
            p.public(),
            mono=mono,
            node=node,
            how=how,
            ifaces=[i for i, _ in ifaces],
            serial=lines,
            verified_mono=time.monotonic(),
        )


class Serial(Fault):
    name = "serial_cut"
    allowed = {"link", "line"}

    def _line(self, ctx: FaultContext, p: Params) -> str:
        names = [ln.name for ln in ctx.topology.serial_lines]
        line = p.get("link", p.get("line", names[0] if len(names) == 1 else None))
        if line not in names:
            raise FaultError(f"{self.name}: line must be one of {', '.join(names) or '(no serial lines)'}")
        return str(line)

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        line = self._line(ctx, p)
        mono = time.monotonic()
        ctx.backend.serial_set(line, False)  # waits for the relay's acknowledgement
        return ctx.emit(
            "fault.inject", self.name, p.public(), mono=mono, line=line, verified_mono=time.monotonic()
        )

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        line = self._line(ctx, p)
        mono = time.monotonic()
        ctx.backend.serial_set(line, True)
        return ctx.emit(
            "fault.heal", self.name, p.public(), mono=mono, line=line, verified_mono=time.monotonic()
        )


class Loss(Fault):
    name = "loss"
    allowed = {"link", "node", "iface", "percent", "direction"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node, iface = _iface(ctx, p)
        percent = int(p.number("percent", low=1, high=100))
        direction = p.choice("direction", ("in", "out", "both"), "both")
        table = _nft_table("loss", iface)
        mono = time.monotonic()
        # nft refuses `< 100` (numgen values are 0..99): total loss is a plain drop.
        chance = f"numgen random mod 100 < {percent} " if percent < 100 else ""
        _nft_add(ctx, self.name, node, table, f'"{iface}" {chance}drop', direction)
        return ctx.emit(
            "fault.inject",
            self.name,
            p.public(),
            mono=mono,
            node=node,
            iface=iface,
            verified_mono=time.monotonic(),
        )

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node, iface = _iface(ctx, p)
        table = _nft_table("loss", iface)
        mono = time.monotonic()
        _nft_del(ctx, node, table)
        if _nft_has(ctx, node, table):
            raise FaultError(f"{self.name}: nft table {table} still in {node}")
        return ctx.emit("fault.heal", self.name, p.public(), mono=mono, node=node, iface=iface)


class Delay(Fault):
    name = "delay"
    allowed = {"link", "node", "iface", "ms"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node, iface = _iface(ctx, p)
        ms = p.number("ms", low=1, high=60000)
        if not ctx.backend.kernel_features().get("netem"):
            raise FaultError(
                f"{self.name}: this kernel has no netem qdisc (tc says 'Specified qdisc kind is unknown'); "
                "use a kernel with sch_netem, or the loss fault (nftables) instead"
            )
        mono = time.monotonic()
        ctx.backend.exec(
            node, ["tc", "qdisc", "replace", "dev", iface, "root", "netem", "delay", f"{ms:g}ms"]
        )
        out = ctx.backend.exec(node, ["tc", "qdisc", "show", "dev", iface]).stdout
        if "netem" not in out:
            raise FaultError(f"{self.name}: no netem qdisc on {node} {iface} after adding it")
        return ctx.emit("fault.inject", self.name, p.public(), mono=mono, node=node, iface=iface)

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node, iface = _iface(ctx, p)
        mono = time.monotonic()
        ctx.backend.exec(node, ["tc", "qdisc", "del", "dev", iface, "root"], check=False)
        if "netem" in ctx.backend.exec(node, ["tc", "qdisc", "show", "dev", iface]).stdout:
            raise FaultError(f"{self.name}: netem still on {node} {iface}")
        return ctx.emit("fault.heal", self.name, p.public(), mono=mono, node=node, iface=iface)


class Freeze(Fault):
    name = "freeze"
    allowed = {"node", "ms"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node = _node(ctx, p)
        pid = _daemon_pid(ctx, self.name, node)
        ms = p.number("ms", 0, low=0, high=3_600_000) if "ms" in p.raw else None
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGSTOP)
        done = wait_until(lambda: ctx.backend.stopped(pid), f"daemon on {node} stopped by SIGSTOP")
        rec = ctx.emit("fault.inject", self.name, p.public(), mono=mono, pid=pid, verified_mono=done)
        if ms is not None:
            # Thaw on time even while the runner waits in another step.
            timer = threading.Timer(ms / 1000, self._thaw, args=(ctx, node, pid, p.public()))
            timer.daemon = True
            ctx.timers.append(timer)
            timer.start()
        return rec

    def _thaw(self, ctx: FaultContext, node: str, pid: int, params: dict[str, Any]) -> dict[str, Any]:
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGCONT)
        done = wait_until(lambda: not ctx.backend.stopped(pid), f"daemon on {node} running after SIGCONT")
        return ctx.emit("fault.heal", self.name, params, mono=mono, pid=pid, verified_mono=done)

    def heal(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        node = _node(ctx, p)
        pid = _daemon_pid(ctx, self.name, node)
        return self._thaw(ctx, node, pid, p.public())


class BootTogether(Fault):
    name = "boot_together"
    allowed = {"nodes"}

    def inject(self, ctx: FaultContext, p: Params) -> dict[str, Any]:
        nodes = p.get("nodes") or [n.name for n in ctx.topology.servers]
        together = Params(self.name, {"nodes": nodes, "together": True}, PowerOn.allowed)
        return PowerOn().inject(ctx, together, fault=self.name)


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        SoftStop(),
        PowerOff(),
        PowerOn(),
        BootTogether(),
        Link(),
        HeartbeatLinks(),
        Serial(),
        Loss(),
        Delay(),
        Freeze(),
    )
}
# `inject: {fault: link_heal}` heals like `heal: {fault: link_cut}`.
HEAL_ALIASES = {"link_heal": "link_cut", "serial_heal": "serial_cut"}


def _lookup(params: Mapping[str, Any]) -> tuple[Fault, Params]:
    name = params.get("fault")
    fault = FAULTS.get(HEAL_ALIASES.get(str(name), str(name)))
    if fault is None:
        known = sorted([*FAULTS, *HEAL_ALIASES])
        raise FaultError(f"unknown fault {name!r} (known: {', '.join(known)})")
    return fault, Params(fault.name, {**params, "fault": fault.name}, fault.allowed)


def phase_wait(ctx: FaultContext, p: Params) -> float:
    """Sleep a seeded random time in [0, keepalive) so the fault lands at a random phase of the timer."""
    phase = p.get("phase", "random")
    if phase not in ("random", "none"):
        raise FaultError(f"{p.fault}: phase must be random or none, got {phase!r}")
    wait = ctx.rng.uniform(0, ctx.keepalive_s) if phase == "random" else 0.0
    if wait:
        time.sleep(wait)
    return wait


def inject(ctx: FaultContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Apply a fault (or, for link_heal/serial_heal, heal one). Returns the records written."""
    if params.get("fault") in HEAL_ALIASES:
        return heal(ctx, params)
    fault, p = _lookup(params)
    wait = phase_wait(ctx, p)
    rec = fault.inject(ctx, p)
    rec["phase_wait_s"] = round(
        wait, 6
    )  # also lands in lab.jsonl: the sink keeps the dict until the run ends
    ctx.active.append((fault.name, p.public()))
    return [rec]


def heal(ctx: FaultContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Undo active faults: all of this kind when only `fault` is given, else the one matching the params."""
    fault, p = _lookup(params)
    given = {k: v for k, v in p.public().items() if k != "phase"}
    matching = [
        (i, act)
        for i, (name, act) in enumerate(ctx.active)
        if name == fault.name and all(act.get(k) == v for k, v in given.items())
    ]
    if not matching:
        # Nothing recorded as injected (a freeze that already thawed, a soft-stopped node): heal as given.
        return [fault.heal(ctx, p)]
    records = []
    for index, act in reversed(matching):
        records.append(fault.heal(ctx, Params(fault.name, {**act, "fault": fault.name}, fault.allowed)))
        del ctx.active[index]
    return records
