"""Power: off (every process of the node killed at once, cables dead from the switch side, runtime
addresses gone; verified by the backend), on (cables up, daemon booted), and several nodes booted at the
same instant."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lab.faults.base import Fault, FaultContext, Given, nodes_of
from lab.spec import fault_params as fp


def power_on(
    ctx: FaultContext, nodes: Sequence[str], together: bool, event: str, fault: str, given: Given
) -> dict[str, Any]:
    for node in nodes:
        ctx.backend.power_on(node)  # verifies carrier on every cable
    mono = time.monotonic()
    ctx.daemons.boot(list(nodes), together=together)
    pids = {n: ctx.daemons.pid(n) for n in nodes}
    return ctx.emit(event, fault, given, mono=mono, pids=pids)


class PowerOff(Fault[fp.PowerOff]):
    params = fp.PowerOff

    def inject(self, ctx: FaultContext, p: fp.PowerOff, given: Given) -> dict[str, Any]:
        nodes = nodes_of(ctx, self.name, p.node, p.nodes)
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
            given,
            mono=mono,
            requested_mono=requested,
            verified_mono=time.monotonic(),
        )

    def heal(self, ctx: FaultContext, p: fp.PowerOff, given: Given) -> dict[str, Any]:
        nodes = nodes_of(ctx, self.name, p.node, p.nodes)
        return power_on(ctx, nodes, False, "fault.heal", self.name, given)


class PowerOn(Fault[fp.PowerOn]):
    params = fp.PowerOn

    def inject(self, ctx: FaultContext, p: fp.PowerOn, given: Given) -> dict[str, Any]:
        nodes = nodes_of(ctx, self.name, p.node, p.nodes)
        return power_on(ctx, nodes, p.together, "fault.inject", self.name, given)


class BootTogether(Fault[fp.BootTogether]):
    params = fp.BootTogether

    def inject(self, ctx: FaultContext, p: fp.BootTogether, given: Given) -> dict[str, Any]:
        wanted = p.nodes or tuple(n.name for n in ctx.topology.servers)
        nodes = nodes_of(ctx, self.name, None, wanted)
        return power_on(
            ctx, nodes, True, "fault.inject", self.name, {**given, "nodes": list(nodes), "together": True}
        )


FAULTS = (PowerOff(), PowerOn(), BootTogether())
