"""Starting and stopping a resource group, heartbeat's `takegroup` / `givegroup` (heartbeat.md 5.2).

start: left to right. Each resource's status runs first; one that already runs is left alone (heartbeat
does this, so a restart of hbd does not bounce a healthy service). On the first failed start everything
this start touched is stopped again, right to left: the resources found running, those started, and the
one that failed (it may be half up). Resources after it were never touched and are left alone. Heartbeat
stops the whole group here; stopping untouched resources would only run more scripts on the failure path.

stop: right to left. A failing stop is retried a bounded number of times; if it still fails but status
says stopped, the script is merely not LSB-compliant and the group carries on (as heartbeat does). The
other resources are stopped even after a failure, so as much as possible is released; the result names
the first resource that could not be stopped, and the daemon decides what that means (heartbeat reboots).

Operations on one group are serialised: a stop that arrives during a start waits for it.

A run of neighbouring resources the runner batches (the built-in IP addresses) is started or stopped in
one call (`ResourceRunner.run_many`): all addresses over one netlink socket, the gratuitous ARP after the
last one is up. Order and rollback are those of single starts; a start batches only when the group is
known to be stopped (a takeover: no status probes to interleave).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hbd.config.model import Resource, ResourceGroup
from hbd.resources.runner import Emit, OpResult, ResourceRunner, RunContext, no_emit

STOP_ATTEMPTS = 3
STOP_RETRY_DELAY_S = 1.0


@dataclass(frozen=True)
class Step:
    """One operation run on one resource during a group operation."""

    resource: str
    op: str
    ok: bool
    rc: int
    duration_s: float
    detail: str
    timed_out: bool = False


@dataclass(frozen=True)
class GroupResult:
    group: str
    action: str  # "start" | "stop" | "announce"
    ok: bool
    duration_s: float
    failed_resource: str | None = None
    failed_op: str | None = None
    detail: str = ""
    steps: tuple[Step, ...] = ()
    rolled_back: bool = False  # a failed start stopped what it had touched
    rollback_ok: bool = True  # ...and every one of those stops worked


@dataclass(frozen=True)
class GroupStatus:
    group: str
    running: tuple[str, ...]
    stopped: tuple[str, ...]
    unknown: tuple[str, ...]  # status itself failed

    @property
    def summary(self) -> str:
        """heartbeat's `statgroup`: ALL, SOME or NONE running."""
        if self.running and not self.stopped and not self.unknown:
            return "ALL"
        return "SOME" if self.running else "NONE"


@dataclass
class _Log:
    steps: list[Step] = field(default_factory=list)


class GroupRunner:
    def __init__(
        self,
        runner: ResourceRunner,
        node: str,
        emit: Emit = no_emit,
        stop_attempts: int = STOP_ATTEMPTS,
        stop_retry_delay_s: float = STOP_RETRY_DELAY_S,
    ) -> None:
        if stop_attempts < 1:
            raise ValueError("stop_attempts must be at least 1")
        self.runner = runner
        self.node = node
        self.emit = emit
        self.stop_attempts = stop_attempts
        self.stop_retry_delay_s = stop_retry_delay_s
        self._locks: dict[str, asyncio.Lock] = {}
        # Groups this runner stopped completely: their next start skips the status probes (one fork per
        # resource on the takeover path). Unknown state (first start, after a failure) still probes.
        self._known_stopped: set[str] = set()

    def _lock(self, group: ResourceGroup) -> asyncio.Lock:
        return self._locks.setdefault(group.key, asyncio.Lock())

    async def _op(self, resource: Resource, op: str, ctx: RunContext, log: _Log) -> OpResult:
        result = await self.runner.run(resource, op, ctx)
        self._record(resource, op, result, ctx, log)
        return result

    async def _op_many(
        self, resources: Sequence[Resource], op: str, ctx: RunContext, log: _Log
    ) -> list[OpResult]:
        results = await self.runner.run_many(resources, op, ctx)
        for resource, result in zip(resources, results, strict=False):
            self._record(resource, op, result, ctx, log)
        return results

    def _chunks(self, resources: Sequence[Resource], op: str | None) -> list[list[Resource]]:
        """`resources` in order, neighbours the runner batches for `op` together (None: one by one)."""
        chunks: list[list[Resource]] = []
        batched = False
        for resource in resources:
            batches = op is not None and self.runner.batches(resource, op)
            if batches and batched:
                chunks[-1].append(resource)
            else:
                chunks.append([resource])
            batched = batches
        return chunks

    def _record(self, resource: Resource, op: str, result: OpResult, ctx: RunContext, log: _Log) -> None:
        log.steps.append(
            Step(resource.spec, op, result.ok, result.rc, result.duration_s, result.detail, result.timed_out)
        )
        level = "DEBUG" if op == "status" else ("INFO" if result.ok else "WARN")
        fields: dict[str, object] = {
            "group": ctx.group,
            "resource": resource.spec,
            "op": op,
            "rc": result.rc,
            "ok": result.ok,
            "duration_s": round(result.duration_s, 6),
            "cause": ctx.reason,
        }
        if not result.ok or op == "status":
            fields["detail"] = result.detail[-500:]
        if result.timed_out:
            fields["timed_out"] = True
        self.emit("resource.op", level, **fields)

    def _ctx(self, group: ResourceGroup, reason: str) -> RunContext:
        return RunContext(self.node, group.key, reason, self.emit)

    # -- start ----------------------------------------------------------------------------------------
    async def start(self, group: ResourceGroup, reason: str) -> GroupResult:
        async with self._lock(group):
            return await self._start(group, reason)

    async def _start(self, group: ResourceGroup, reason: str) -> GroupResult:
        started = time.monotonic()
        ctx = self._ctx(group, reason)
        log = _Log()
        touched: list[Resource] = []
        known_stopped = group.key in self._known_stopped
        self._known_stopped.discard(group.key)
        for chunk in self._chunks(group.resources, "start" if known_stopped else None):
            if known_stopped and self.runner.batches(chunk[0], "start"):
                results = await self._op_many(chunk, "start", ctx, log)
                touched += chunk[: len(results)]
                if all(r.ok for r in results) and len(results) == len(chunk):
                    continue
                failed, result = chunk[len(results) - 1], results[-1]
                rollback_ctx = self._ctx(group, f"rollback: {failed.spec} failed to start ({reason})")
                failures = await self._stop_all(reversed(touched), rollback_ctx, log)
                return _start_rolled_back(group, "start", started, failed.spec, result.detail, log, failures)
            resource = chunk[0]
            touched.append(resource)
            if not known_stopped:
                status = await self._op(resource, "status", ctx, log)
                if status.running:
                    continue
            result = await self._op(resource, "start", ctx, log)
            if result.ok:
                continue
            rollback_ctx = self._ctx(group, f"rollback: {resource.spec} failed to start ({reason})")
            failures = await self._stop_all(reversed(touched), rollback_ctx, log)
            return _start_rolled_back(group, "start", started, resource.spec, result.detail, log, failures)
        return GroupResult(group.key, "start", True, time.monotonic() - started, steps=tuple(log.steps))

    async def probe_idle(self, group: ResourceGroup) -> bool:
        """At boot, before any decision needs the group: status of every resource. All stopped means the
        first takeover can skip the probes; anything running is reported (heartbeat's verifyallidle)."""
        async with self._lock(group):
            status = await self.status(group, "boot: verify idle")
            if status.running or status.unknown:
                self.emit(
                    "group.not_idle",
                    "WARN",
                    group=group.key,
                    running=list(status.running),
                    unknown=list(status.unknown),
                    cause="resources active at boot that this node does not hold yet",
                )
                return False
            self._known_stopped.add(group.key)
            return True

    # -- stop -----------------------------------------------------------------------------------------
    async def stop(self, group: ResourceGroup, reason: str) -> GroupResult:
        async with self._lock(group):
            started = time.monotonic()
            log = _Log()
            failures = await self._stop_all(reversed(group.resources), self._ctx(group, reason), log)
            if failures:
                resource, detail = failures[0]
                return GroupResult(
                    group.key,
                    "stop",
                    False,
                    time.monotonic() - started,
                    resource,
                    "stop",
                    detail,
                    tuple(log.steps),
                )
            self._known_stopped.add(group.key)
            return GroupResult(group.key, "stop", True, time.monotonic() - started, steps=tuple(log.steps))

    async def _stop_all(
        self, resources: Iterable[Resource], ctx: RunContext, log: _Log
    ) -> list[tuple[str, str]]:
        """Stop each resource in the given order; (spec, detail) of those that stayed up."""
        failures: list[tuple[str, str]] = []
        for chunk in self._chunks(list(resources), "stop"):
            if len(chunk) > 1:
                # One batch; a resource it could not stop gets the retries and status of a single stop.
                results = await self._op_many(chunk, "stop", ctx, log)
                again = [r for r, res in zip(chunk, results, strict=True) if not res.ok]
            else:
                again = chunk
            for resource in again:
                detail = await self._stop_one(resource, ctx, log)
                if detail is not None:
                    failures.append((resource.spec, detail))
        return failures

    async def _stop_one(self, resource: Resource, ctx: RunContext, log: _Log) -> str | None:
        """None when the resource is stopped, else why not."""
        result: OpResult | None = None
        for attempt in range(self.stop_attempts):
            if attempt:
                await asyncio.sleep(self.stop_retry_delay_s)
            result = await self._op(resource, "stop", ctx, log)
            if result.ok:
                return None
        assert result is not None
        status = await self._op(resource, "status", ctx, log)
        if status.stopped:
            self.emit(
                "resource.not_lsb",
                "WARN",
                group=ctx.group,
                resource=resource.spec,
                detail=f"stop failed (rc {result.rc}) but status says stopped: probably not LSB-compliant",
            )
            return None
        return f"stop failed {self.stop_attempts} times (last rc {result.rc}): {result.detail}"

    # -- monitoring (ha.cf hbd_monitor) -----------------------------------------------------------------
    async def restart(self, group: ResourceGroup, failed: str, reason: str) -> GroupResult:
        """Restart the group after the resource `failed` (a spec) failed its monitor: stop right to left
        down to it, start left to right from it; the resources before it keep running. If a start fails,
        the whole group is stopped, so that a failed group runs nothing here (the peer may take it)."""
        async with self._lock(group):
            started = time.monotonic()
            specs = [r.spec for r in group.resources]
            tail = group.resources[specs.index(failed) :] if failed in specs else group.resources
            ctx = self._ctx(group, reason)
            log = _Log()
            failures = await self._stop_all(reversed(tail), ctx, log)
            if failures:
                stuck, detail = failures[0]
                return GroupResult(
                    group.key,
                    "restart",
                    False,
                    time.monotonic() - started,
                    stuck,
                    "stop",
                    detail,
                    tuple(log.steps),
                )
            for resource in tail:
                result = await self._op(resource, "start", ctx, log)
                if result.ok:
                    continue
                rollback = self._ctx(group, f"rollback: {resource.spec} failed to start again ({reason})")
                stop_failures = await self._stop_all(reversed(group.resources), rollback, log)
                if not stop_failures:
                    self._known_stopped.add(group.key)
                return _start_rolled_back(
                    group, "restart", started, resource.spec, result.detail, log, stop_failures
                )
            return GroupResult(group.key, "restart", True, time.monotonic() - started, steps=tuple(log.steps))

    async def monitor(self, group: ResourceGroup, spec: str, timeout_s: float, reason: str) -> OpResult:
        """One monitor check: the status of the resource `spec`, killed after `timeout_s`. Not serialised with
        the group's operations (a hung check must not delay a stop); only failures are logged as resource.op,
        so a check every few hundred milliseconds does not flood the event log."""
        resource = next((r for r in group.resources if r.spec == spec), None)
        if resource is None:
            return OpResult("status", False, 2, f"{spec} is not a resource of {group.key}", 0.0)
        ctx = self._ctx(group, reason)
        result = await self.runner.run(resource, "status", ctx, timeout_s=timeout_s)
        if not result.running:
            fields: dict[str, object] = {
                "group": group.key,
                "resource": spec,
                "op": "status",
                "rc": result.rc,
                "ok": False,
                "duration_s": round(result.duration_s, 6),
                "detail": result.detail[-500:],
                "cause": reason,
            }
            if result.timed_out:
                fields["timed_out"] = True
            self.emit("resource.op", "WARN", **fields)
        return result

    # -- queries --------------------------------------------------------------------------------------
    async def status(self, group: ResourceGroup, reason: str = "status") -> GroupStatus:
        ctx = self._ctx(group, reason)
        log = _Log()
        running: list[str] = []
        stopped: list[str] = []
        unknown: list[str] = []
        for resource in group.resources:
            result = await self._op(resource, "status", ctx, log)
            bucket = running if result.running else stopped if result.stopped else unknown
            bucket.append(resource.spec)
        return GroupStatus(group.key, tuple(running), tuple(stopped), tuple(unknown))

    async def announce(self, group: ResourceGroup, reason: str) -> GroupResult:
        """Send gratuitous ARP again for the group's addresses that are here (AnnounceGroup)."""
        started = time.monotonic()
        ctx = self._ctx(group, reason)
        log = _Log()
        failed: OpResult | None = None
        failed_spec = None
        for resource in group.resources:
            result = await self._op(resource, "announce", ctx, log)
            if not result.ok and failed is None:
                failed, failed_spec = result, resource.spec
        if failed is not None:
            return GroupResult(
                group.key,
                "announce",
                False,
                time.monotonic() - started,
                failed_spec,
                "announce",
                failed.detail,
                tuple(log.steps),
            )
        return GroupResult(group.key, "announce", True, time.monotonic() - started, steps=tuple(log.steps))


def _start_rolled_back(
    group: ResourceGroup,
    action: str,
    started: float,
    spec: str,
    detail: str,
    log: _Log,
    stop_failures: Sequence[tuple[str, str]],
) -> GroupResult:
    """A start (of `action`) that failed on `spec` and stopped what it had touched: one shape for both."""
    return GroupResult(
        group.key,
        action,
        False,
        time.monotonic() - started,
        spec,
        "start",
        detail,
        tuple(log.steps),
        rolled_back=True,
        rollback_ok=not stop_failures,
    )
