"""Faults on the daemon process: a graceful stop (SIGTERM; heal boots it again) and a freeze (SIGSTOP,
thawed by SIGCONT after `ms` or at the heal)."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from lab.faults.base import Fault, FaultContext, Given, daemon_pid, node_of, wait_until
from lab.spec import fault_params as fp


class SoftStop(Fault[fp.SoftStop]):
    params = fp.SoftStop

    def inject(self, ctx: FaultContext, p: fp.SoftStop, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pid = daemon_pid(ctx, self.name, node)
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGTERM)
        done = wait_until(
            lambda: not ctx.backend.alive(pid), f"daemon on {node} exits after SIGTERM", p.timeout_s
        )
        ctx.daemons.forget(node)
        return ctx.emit("fault.inject", self.name, given, mono=mono, pid=pid, verified_mono=done)

    def heal(self, ctx: FaultContext, p: fp.SoftStop, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        mono = time.monotonic()
        ctx.daemons.boot([node])
        return ctx.emit("fault.heal", self.name, given, mono=mono, pid=ctx.daemons.pid(node))


class Freeze(Fault[fp.Freeze]):
    params = fp.Freeze

    def inject(self, ctx: FaultContext, p: fp.Freeze, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pid = daemon_pid(ctx, self.name, node)
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGSTOP)
        done = wait_until(lambda: ctx.backend.stopped(pid), f"daemon on {node} stopped by SIGSTOP")
        rec = ctx.emit("fault.inject", self.name, given, mono=mono, pid=pid, verified_mono=done)
        if p.ms is not None:
            # Thaw on time even while the runner waits in another step.
            timer = threading.Timer(p.ms / 1000, self._thaw, args=(ctx, node, pid, dict(given)))
            timer.daemon = True
            ctx.timers.append(timer)
            timer.start()
        return rec

    def _thaw(self, ctx: FaultContext, node: str, pid: int, given: Given) -> dict[str, Any]:
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGCONT)
        done = wait_until(lambda: not ctx.backend.stopped(pid), f"daemon on {node} running after SIGCONT")
        return ctx.emit("fault.heal", self.name, given, mono=mono, pid=pid, verified_mono=done)

    def heal(self, ctx: FaultContext, p: fp.Freeze, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pid = daemon_pid(ctx, self.name, node)
        return self._thaw(ctx, node, pid, given)


FAULTS = (SoftStop(), Freeze())
