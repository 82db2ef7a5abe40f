"""Cables: one cable cut three ways (down: `ip link down` at the node end; drop: nft drop in the node;
pull: out of the bridge with the far end down, so no carrier), and every heartbeat medium of a node."""

from __future__ import annotations

import time
from typing import Any

from lab.faults.base import Fault, FaultContext, Given, cable_of, node_of, wait_until
from lab.faults.nft import nft_add, nft_del, nft_table
from lab.spec import fault_params as fp


def cut(
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
        match = f"udp dport {ctx.udpport} drop" if heartbeat_only else "drop"
        nft_add(ctx, fault, node, nft_table("drop", iface), f'"{iface}" {match}', direction)


def uncut(ctx: FaultContext, fault: str, node: str, iface: str, how: str) -> None:
    b = ctx.backend
    if how == "down":
        b.set_link(node, iface, True, side="node")
    elif how == "pull":
        b.attach(node, iface, True)
        b.set_link(node, iface, True, side="cable")
    else:
        nft_del(ctx, fault, node, nft_table("drop", iface))
        return
    wait_until(
        lambda: (st := b.link_state(node, iface)).admin_up and st.carrier and st.attached,
        f"{node} {iface} back up with carrier",
    )


class LinkCut(Fault[fp.LinkCut]):
    params = fp.LinkCut

    def inject(self, ctx: FaultContext, p: fp.LinkCut, given: Given) -> dict[str, Any]:
        return self._set(ctx, p, given, cutting=True)

    def heal(self, ctx: FaultContext, p: fp.LinkCut, given: Given) -> dict[str, Any]:
        return self._set(ctx, p, given, cutting=False)

    def _set(self, ctx: FaultContext, p: fp.LinkCut, given: Given, cutting: bool) -> dict[str, Any]:
        node, iface = cable_of(ctx, self.name, p)
        mono = time.monotonic()
        if cutting:
            cut(ctx, self.name, node, iface, p.how, p.direction, heartbeat_only=False)
        else:
            uncut(ctx, self.name, node, iface, p.how)
        event = "fault.inject" if cutting else "fault.heal"
        return ctx.emit(
            event,
            self.name,
            given,
            mono=mono,
            node=node,
            iface=iface,
            how=p.how,
            verified_mono=time.monotonic(),
        )


class CutHeartbeat(Fault[fp.CutHeartbeat]):
    params = fp.CutHeartbeat

    def inject(self, ctx: FaultContext, p: fp.CutHeartbeat, given: Given) -> dict[str, Any]:
        return self._set(ctx, p, given, cutting=True)

    def heal(self, ctx: FaultContext, p: fp.CutHeartbeat, given: Given) -> dict[str, Any]:
        return self._set(ctx, p, given, cutting=False)

    def _set(self, ctx: FaultContext, p: fp.CutHeartbeat, given: Given, cutting: bool) -> dict[str, Any]:
        """Every heartbeat segment and serial line of the node (default: the first server) cut or healed."""
        node = node_of(ctx, self.name, p.node if p.node is not None else ctx.topology.servers[0].name)
        ifaces = [
            (e.iface, s.kind == "lan") for s, e in ctx.topology.endpoints_of(node) if s.heartbeat != "none"
        ]
        lines = [ln.name for ln in ctx.topology.serial_lines if ln.heartbeat and ln.device_of(node)]
        mono = time.monotonic()
        for iface, shared_lan in ifaces:
            if cutting:
                # On a LAN the clients also use, drop only heartbeats: the service must stay reachable.
                cut(ctx, self.name, node, iface, p.how, "both", heartbeat_only=shared_lan and p.how == "drop")
            else:
                uncut(ctx, self.name, node, iface, p.how)
        for line in lines:
            ctx.backend.serial_set(line, not cutting)
        return ctx.emit(
            "fault.inject" if cutting else "fault.heal",
            self.name,
            given,
            mono=mono,
            node=node,
            how=p.how,
            ifaces=[i for i, _ in ifaces],
            serial=lines,
            verified_mono=time.monotonic(),
        )


FAULTS = (LinkCut(), CutHeartbeat())
