"""Fencing ("make sure the peer is really dead") through the standard fence-agents interface.

An agent (Debian's fence_docker, fence_virsh, fence_ipmilan, ..., or the lab's fence_lab) reads
`name=value` options on stdin; `action=off` powers the target off (exit 0 = success) and `action=status`
answers exit 0 = on, 2 = off. hbd only takes over after `off` succeeded *and* `status` confirmed it.

ha.cf mapping of heartbeat's `stonith_host <hostfrom> <type> <params...>`: `hostfrom` is the node this line
applies to (`*` = both; lines for the other node are ignored, as heartbeat does), `type` is the agent's
program name (looked up in fixed directories only, see hbd.fencing.agent), and each `name=value` param is
passed on stdin. `plug` defaults to the node being fenced; `pcmk_host_map=node:plug;node:plug`
(Pacemaker's) names another plug per node, for agents whose plugs are not node names (VM or container
names, outlet numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hbd.config.model import HOST_MAP_PARAM, StonithHost
from hbd.fencing.agent import AgentNameError, agent_dirs, find_agent, run_agent

FENCE_TIMEOUT_S = 30.0
STATUS_OFF = 2

Emit = Callable[..., None]


@dataclass(frozen=True)
class FenceResult:
    ok: bool
    detail: str
    agent: str = ""  # the device's agent that confirmed it; the agents tried, comma-separated, on failure


class Fencer:
    def __init__(
        self,
        node: str,
        devices: Sequence[StonithHost],
        emit: Emit,
        search_dirs: Sequence[Path] | None = None,
    ) -> None:
        self.devices = [d for d in devices if d.host in ("*", node)]
        self.emit = emit
        self.search_dirs = tuple(search_dirs) if search_dirs is not None else agent_dirs(None)

    def configured_for(self, peer: str) -> bool:
        return bool(self.devices)

    async def fence(self, peer: str, cause: str) -> FenceResult:
        details = []
        for device in self.devices:
            try:
                result = await self._fence_with(device, peer)
            except Exception as exc:  # any failure is a failed fence (retried), never a dead task
                result = FenceResult(False, f"fencing failed: {type(exc).__name__}: {exc}")
            if result.ok:
                return FenceResult(True, result.detail, device.agent)
            details.append(f"{device.agent}: {result.detail}")
        tried = ", ".join(d.agent for d in self.devices)
        return FenceResult(False, "; ".join(details) or "no fence device configured", tried)

    async def _fence_with(self, device: StonithHost, peer: str) -> FenceResult:
        where = f"{device.where}: " if device.where else ""
        try:
            agent = find_agent(device.agent, self.search_dirs)
        except AgentNameError as exc:
            return FenceResult(False, f"{where}{exc}")
        if agent is None:
            dirs = ", ".join(str(d) for d in self.search_dirs)
            return FenceResult(False, f"{where}agent {device.agent!r} not found in {dirs}")
        plug = device.plug_for(peer)
        if plug is None:
            return FenceResult(False, f"{HOST_MAP_PARAM} of this device has no entry for {peer}")
        # pcmk_* parameters are for the fencer (as in Pacemaker), never passed on to the agent.
        params = {k: v for k, v in device.params if not k.startswith("pcmk_")}
        options = (
            {**params, "plug": plug} if HOST_MAP_PARAM in dict(device.params) else {"plug": plug, **params}
        )
        off = await run_agent(agent, {**options, "action": "off"}, FENCE_TIMEOUT_S)
        if off.rc != 0:
            return FenceResult(False, f"action=off exit {off.rc}: {off.output}")
        status = await run_agent(agent, {**options, "action": "status"}, FENCE_TIMEOUT_S)
        if status.rc != STATUS_OFF:
            return FenceResult(
                False, f"off reported success but status says exit {status.rc} (not off): {status.output}"
            )
        return FenceResult(True, f"{device.agent} powered {peer} off (confirmed by status)")

