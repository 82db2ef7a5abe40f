"""Fencing ("make sure the peer is really dead") through the standard fence-agents interface.

An agent (Debian's fence_docker, fence_virsh, fence_ipmilan, ..., or the lab's fence_lab) reads
`name=value` options on stdin; `action=off` powers the target off (exit 0 = success) and `action=status`
answers exit 0 = on, 2 = off. hbd only takes over after `off` succeeded *and* `status` confirmed it.

ha.cf mapping of heartbeat's `stonith_host <hostfrom> <type> <params...>`: `hostfrom` is the node this line
applies to (`*` = both; lines for the other node are ignored, as heartbeat does), `type` is the agent's
program name (looked up in PATH and /usr/sbin), and each `name=value` param is passed on stdin. `plug`
defaults to the node being fenced.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hbd.config.model import StonithHost

FENCE_TIMEOUT_S = 30.0
STATUS_OFF = 2

Emit = Callable[..., None]


@dataclass(frozen=True)
class FenceResult:
    ok: bool
    detail: str


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
                return result
            details.append(f"{device.agent}: {result.detail}")
        return FenceResult(False, "; ".join(details) or "no fence device configured")

    async def _fence_with(self, device: StonithHost, peer: str) -> FenceResult:
        agent = shutil.which(device.agent) or shutil.which(device.agent, path="/usr/sbin:/sbin")
        if agent is None:
            return FenceResult(False, f"agent {device.agent!r} not found")
        options = {"plug": peer, **dict(device.params)}
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
