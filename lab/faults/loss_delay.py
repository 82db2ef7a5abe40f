"""A degraded cable: random loss (nft `numgen random mod 100 < N`, which every kernel here has) and delay
with jitter, reordering and duplication (netem where the kernel has it, else an NFQUEUE relay in the node:
lab/node/delay_relay.py)."""

from __future__ import annotations

import time
from typing import Any

from lab.faults.attack import _Program, _records  # a node program's pid, JSON-lines output and log
from lab.faults.base import Fault, FaultContext, FaultError, Given, cable_of
from lab.faults.nft import nft_add, nft_del, nft_table
from lab.spec import fault_params as fp

RELAY_STOP_S = 5.0  # it lets every held packet go (at most max delay + jitter later) before it exits


class Loss(Fault[fp.Loss]):
    params = fp.Loss

    def inject(self, ctx: FaultContext, p: fp.Loss, given: Given) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        table = nft_table("loss", iface)
        mono = time.monotonic()
        # nft refuses `< 100` (numgen values are 0..99): total loss is a plain drop.
        chance = f"numgen random mod 100 < {p.percent} " if p.percent < 100 else ""
        nft_add(ctx, self.name, node, table, f'"{iface}" {chance}drop', p.direction)
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=mono,
            node=node,
            iface=iface,
            verified_mono=time.monotonic(),
        )

    def heal(self, ctx: FaultContext, p: fp.Loss, given: Given) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        mono = time.monotonic()
        nft_del(ctx, self.name, node, nft_table("loss", iface))
        return ctx.emit("fault.heal", self.name, given, mono=mono, node=node, iface=iface)


class Delay(Fault[fp.Delay]):
    """netem where the kernel has it and the delay is outgoing; otherwise the NFQUEUE relay
    (lab/node/delay_relay.py) started in the node, stopped by its pid at the heal."""

    params = fp.Delay

    def __init__(self) -> None:
        self.relays: dict[tuple[int, str, str], _Program] = {}

    def _netem(self, ctx: FaultContext, p: fp.Delay) -> bool:
        if p.via == "relay":
            return False
        has = bool(ctx.backend.kernel_features().get("netem"))
        if p.via == "netem" and not has:
            raise FaultError(f"{self.name}: via netem, but this kernel has no netem qdisc (`hblab doctor`)")
        return has and p.direction == "out"

    def inject(self, ctx: FaultContext, p: fp.Delay, given: Given) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        if self._netem(ctx, p):
            return self._inject_netem(ctx, p, given, node, iface)
        if ctx.backend.name != "netns":
            raise FaultError(
                f"{self.name}: this kernel has no netem qdisc, and the NFQUEUE relay needs netfilterqueue, "
                "which is in the host venv (netns nodes) but not in the Docker node image"
            )
        key = (id(ctx), node, iface)
        if key in self.relays:
            raise FaultError(f"{self.name}: {node} {iface} is already delayed")
        args = ["--iface", iface, "--direction", p.direction, "--delay-ms", f"{p.ms:g}"]
        args += ["--jitter-ms", f"{p.jitter_ms:g}", "--reorder-pct", f"{p.reorder_percent:g}"]
        args += ["--duplicate-pct", f"{p.duplicate_percent:g}", "--max-s", f"{p.max_s:g}"]
        args += ["--seed", str(ctx.rng.randrange(2**31))]
        out = ctx.backend.node_dirs(node).root / f"delay-{iface}.jsonl"
        requested = time.monotonic()
        prog = _Program(ctx, node, "lab.node.delay_relay", args, out)
        ready = prog.wait_for(("relay.ready",), self.name)
        self.relays[key] = prog
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=float(ready["mono"]),  # the rules are in from here on
            requested_mono=requested,
            node=node,
            iface=iface,
            via="relay",
            pid=prog.pid,
            queue=ready.get("queue"),
        )

    def _inject_netem(
        self, ctx: FaultContext, p: fp.Delay, given: Given, node: str, iface: str
    ) -> dict[str, Any]:
        mono = time.monotonic()
        netem = ["netem", "delay", f"{p.ms:g}ms"] + ([f"{p.jitter_ms:g}ms"] if p.jitter_ms else [])
        netem += ["reorder", f"{p.reorder_percent:g}%"] if p.reorder_percent else []
        netem += ["duplicate", f"{p.duplicate_percent:g}%"] if p.duplicate_percent else []
        ctx.backend.exec(node, ["tc", "qdisc", "replace", "dev", iface, "root", *netem])
        out = ctx.backend.exec(node, ["tc", "qdisc", "show", "dev", iface]).stdout
        if "netem" not in out:
            raise FaultError(f"{self.name}: no netem qdisc on {node} {iface} after adding it")
        return ctx.emit("fault.inject", self.name, given, mono=mono, node=node, iface=iface, via="netem")

    def heal(self, ctx: FaultContext, p: fp.Delay, given: Given) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        mono = time.monotonic()
        prog = self.relays.pop((id(ctx), node, iface), None)
        if prog is None:
            ctx.backend.exec(node, ["tc", "qdisc", "del", "dev", iface, "root"], check=False)
            if "netem" in ctx.backend.exec(node, ["tc", "qdisc", "show", "dev", iface]).stdout:
                raise FaultError(f"{self.name}: netem still on {node} {iface}")
            return ctx.emit("fault.heal", self.name, given, mono=mono, node=node, iface=iface, via="netem")
        ended_before = not ctx.backend.alive(prog.pid)
        prog.stop(RELAY_STOP_S)
        end = next((r for r in _records(prog.out, prog.offset) if r.get("event") == "relay.end"), None)
        chain = f"HBLAB_DELAY_{iface}"
        if ctx.backend.exec(node, ["iptables", "-w", "-S", chain], check=False).returncode == 0:
            raise FaultError(f"{self.name}: the relay's iptables chain {chain} is still in {node}")
        if end is None:
            raise FaultError(
                f"{self.name}: the relay on {node} {iface} died without a relay.end; see {prog.log}"
            )
        if ended_before:
            raise FaultError(
                f"{self.name}: the relay on {node} {iface} had already ended ({end.get('why')}) at "
                f"mono {end.get('mono')}: the delay was over before the heal (raise max_s)"
            )
        stats = {k: v for k, v in end.items() if k not in ("mono", "event", "why")}
        where = {"node": node, "iface": iface, "via": "relay"}
        return ctx.emit("fault.heal", self.name, given, mono=mono, **where, **stats)


FAULTS = (Loss(), Delay())
