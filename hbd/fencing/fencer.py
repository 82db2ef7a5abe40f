"""Fencing ("make sure the peer is really dead") through the standard fence-agents interface.

An agent (Debian's fence_docker, fence_virsh, fence_ipmilan, ..., or the lab's fence_lab) reads
`name=value` options on stdin; `action=off` powers the target off (exit 0 = success) and `action=status`
answers exit 0 = on, 2 = off. hbd only takes over after `off` succeeded *and* `status` confirmed it.

ha.cf mapping of heartbeat's `stonith_host <hostfrom> <type> <params...>`: `hostfrom` is the node this line
applies to (`*` = both; lines for the other node are ignored, as heartbeat does), `type` is the agent's
program name (looked up in PATH and /usr/sbin), and each `name=value` param is passed on stdin. `plug`
defaults to the node being fenced; `pcmk_host_map=node:plug;node:plug` (Pacemaker's) names another plug
per node, for agents whose plugs are not node names (VM or container names, outlet numbers).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hbd.config.model import HOST_MAP_PARAM, StonithHost

FENCE_TIMEOUT_S = 30.0
STATUS_OFF = 2

Emit = Callable[..., None]


@dataclass(frozen=True)
class FenceResult:
    ok: bool
    detail: str
    agent: str = ""  # the device's agent that confirmed it; the agents tried, comma-separated, on failure


class Fencer:
    def __init__(self, node: str, devices: Sequence[StonithHost], emit: Emit) -> None:
        self.devices = [d for d in devices if d.host in ("*", node)]
        self.emit = emit

    def configured_for(self, peer: str) -> bool:
        return bool(self.devices)

    async def fence(self, peer: str, cause: str) -> FenceResult:
        details = []
        for device in self.devices:
            result = await self._fence_with(device, peer)
            if result.ok:
                return FenceResult(True, result.detail, device.agent)
            details.append(f"{device.agent}: {result.detail}")
        tried = ", ".join(d.agent for d in self.devices)
        return FenceResult(False, "; ".join(details) or "no fence device configured", tried)

    async def _fence_with(self, device: StonithHost, peer: str) -> FenceResult:
        agent = shutil.which(device.agent) or shutil.which(device.agent, path="/usr/sbin:/sbin")
        if agent is None:
            return FenceResult(False, f"agent {device.agent!r} not found")
        plug = device.plug_for(peer)
        if plug is None:
            return FenceResult(False, f"{HOST_MAP_PARAM} of this device has no entry for {peer}")
        # pcmk_* parameters are for the fencer (as in Pacemaker), never passed on to the agent.
        params = {k: v for k, v in device.params if not k.startswith("pcmk_")}
        options = (
            {**params, "plug": plug} if HOST_MAP_PARAM in dict(device.params) else {"plug": plug, **params}
        )
        rc, out = await _run_agent(agent, {**options, "action": "off"})
        if rc != 0:
            return FenceResult(False, f"action=off exit {rc}: {out}")
        rc, out = await _run_agent(agent, {**options, "action": "status"})
        if rc != STATUS_OFF:
            return FenceResult(False, f"off reported success but status says exit {rc} (not off): {out}")
        return FenceResult(True, f"{device.agent} powered {peer} off (confirmed by status)")


async def _run_agent(agent: str, options: dict[str, Any]) -> tuple[int, str]:
    stdin = "".join(f"{k}={v}\n" for k, v in options.items()).encode()
    proc = await asyncio.create_subprocess_exec(
        agent,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), FENCE_TIMEOUT_S)
    except TimeoutError:
        os.killpg(proc.pid, 9)
        await proc.wait()
        return -1, f"timed out after {FENCE_TIMEOUT_S:g} s"
    return proc.returncode or 0, out.decode(errors="replace").strip()[-500:]
