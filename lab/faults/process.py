"""Faults on the daemon process: a graceful stop (SIGTERM; heal boots it again) and a freeze (SIGSTOP,
thawed by SIGCONT after `ms` or at the heal).

hbd runs as a supervisor and its worker (hbd.supervisor): the pid the lab started is the supervisor. A
freeze stops the worker (the process that heartbeats) and the supervisor, as a real hang of the whole
daemon would; stopping the supervisor alone would leave the worker heartbeating."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from lab.faults.base import Fault, FaultContext, Given, daemon_pid, node_of, wait_until
from lab.faults.daemon import worker_of
from lab.spec import fault_params as fp


class SoftStop(Fault[fp.SoftStop]):
    params = fp.SoftStop

    def inject(self, ctx: FaultContext, p: fp.SoftStop, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pid = daemon_pid(ctx, self.name, node)
        mono = time.monotonic()
        ctx.backend.signal(pid, signal.SIGTERM)
        if not p.exits:
            # A stop that is expected to hang (a resource that cannot be stopped): the daemon stays up, and
            # what it does instead is for the scenario's wait_for and checks to show.
            done = time.monotonic()
            return ctx.emit("fault.inject", self.name, given, mono=mono, pid=pid, verified_mono=done)
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

    def __init__(self) -> None:
        self.frozen: dict[tuple[int, str], tuple[int, ...]] = {}  # (run, node) -> pids, worker first

    def inject(self, ctx: FaultContext, p: fp.Freeze, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pid = daemon_pid(ctx, self.name, node)
        worker, supervisor = worker_of(pid)
        pids = (worker,) if supervisor is None else (worker, supervisor)
        mono = time.monotonic()
        for target in pids:  # the worker first: its heartbeats stop at once
            ctx.backend.signal(target, signal.SIGSTOP)
        done = wait_until(
            lambda: all(ctx.backend.stopped(t) for t in pids), f"daemon on {node} stopped by SIGSTOP"
        )
        self.frozen[(id(ctx), node)] = pids
        rec = ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=mono,
            pid=pid,
            worker_pid=worker,
            supervisor_pid=supervisor,
            verified_mono=done,
        )
        if p.ms is not None:
            # Thaw on time even while the runner waits in another step.
            timer = threading.Timer(p.ms / 1000, self._thaw, args=(ctx, node, pids, dict(given)))
            timer.daemon = True
            ctx.timers.append(timer)
            timer.start()
        return rec

    def _thaw(self, ctx: FaultContext, node: str, pids: tuple[int, ...], given: Given) -> dict[str, Any]:
        mono = time.monotonic()
        for target in reversed(pids):
            ctx.backend.signal(target, signal.SIGCONT)
        done = wait_until(
            lambda: not any(ctx.backend.stopped(t) for t in pids), f"daemon on {node} running after SIGCONT"
        )
        self.frozen.pop((id(ctx), node), None)
        return ctx.emit("fault.heal", self.name, given, mono=mono, pid=pids[-1], verified_mono=done)

    def heal(self, ctx: FaultContext, p: fp.Freeze, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pids = self.frozen.get((id(ctx), node))
        if pids is None:  # not frozen by this fault (or thawed on time already): thaw what runs now
            worker, supervisor = worker_of(daemon_pid(ctx, self.name, node))
            pids = (worker,) if supervisor is None else (worker, supervisor)
        return self._thaw(ctx, node, pids, given)


FAULTS = (SoftStop(), Freeze())
