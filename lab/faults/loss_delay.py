"""A degraded cable: random loss (nft `numgen random mod 100 < N`, which every kernel here has) and delay
(netem, refused with a clear error where the kernel lacks it)."""

from __future__ import annotations

import time
from typing import Any

from lab.faults.base import Fault, FaultContext, FaultError, Given, cable_of
from lab.faults.nft import nft_add, nft_del, nft_table
from lab.spec import fault_params as fp


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
    params = fp.Delay

    def inject(self, ctx: FaultContext, p: fp.Delay, given: Given) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        if not ctx.backend.kernel_features().get("netem"):
            raise FaultError(
                f"{self.name}: this kernel has no netem qdisc (tc says 'Specified qdisc kind is unknown'); "
                "use a kernel with sch_netem, or the loss fault (nftables) instead"
            )
        mono = time.monotonic()
        ctx.backend.exec(
            node, ["tc", "qdisc", "replace", "dev", iface, "root", "netem", "delay", f"{p.ms:g}ms"]
        )
        out = ctx.backend.exec(node, ["tc", "qdisc", "show", "dev", iface]).stdout
        if "netem" not in out:
            raise FaultError(f"{self.name}: no netem qdisc on {node} {iface} after adding it")
        return ctx.emit("fault.inject", self.name, given, mono=mono, node=node, iface=iface)

    def heal(self, ctx: FaultContext, p: fp.Delay, given: Given) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        mono = time.monotonic()
        ctx.backend.exec(node, ["tc", "qdisc", "del", "dev", iface, "root"], check=False)
        if "netem" in ctx.backend.exec(node, ["tc", "qdisc", "show", "dev", iface]).stdout:
            raise FaultError(f"{self.name}: netem still on {node} {iface}")
        return ctx.emit("fault.heal", self.name, given, mono=mono, node=node, iface=iface)


FAULTS = (Loss(), Delay())
