"""The resource-runner seam: run one operation on one resource.

Two implementations (DESIGN.md principle 4):
- `ScriptRunner`: the real one. IPaddr/IPaddr2 run in-process (netlink + packet socket) unless the config
  says `hbd_builtin_ipaddr off`; everything else is a script found in the resource directories and run
  `script [args...] op` with a timeout.
- `FakeRunner`: a scripted stand-in that keeps a running/stopped state per resource and records calls.

Operations: "start", "stop", "status" (the LSB/heartbeat contract) and "announce" (send gratuitous ARP
again for an address already held; a no-op for other resources). Exit codes are LSB: start/stop 0 = ok;
status 0 = running, 3 = stopped, anything else = failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hbd.config.model import Config, Resource
from hbd.resources.agent import KILL_GRACE_S, RC_NOT_FOUND, run_agent
from hbd.resources.ipaddr import IPADDR_NAMES, IpAddrManager, IpOutcome, IpSpec, parse_ip_spec
from hbd.resources.lookup import default_dirs, find_script

OPS = ("start", "stop", "status", "announce")
RC_OK = 0
RC_GENERIC_ERROR = 1
RC_INVALID_ARGS = 2
RC_STOPPED = 3

Emit = Callable[..., None]
"""`emit(event_name, level, **fields)`; the daemon stamps mono/wall/node and writes events.jsonl."""


def no_emit(event: str, level: str, **fields: object) -> None:
    """The default emit: events go nowhere (unit tests, one-off tools)."""


@dataclass(frozen=True)
class RunContext:
    """Why and for whom an operation runs."""

    node: str
    group: str
    reason: str
    emit: Emit = no_emit


@dataclass(frozen=True)
class OpResult:
    op: str
    ok: bool  # start/stop/announce: it worked; status: the check worked (running or stopped)
    rc: int
    detail: str
    duration_s: float
    timed_out: bool = False

    @property
    def running(self) -> bool:
        return self.op == "status" and self.rc == RC_OK

    @property
    def stopped(self) -> bool:
        return self.op == "status" and self.rc == RC_STOPPED


def op_ok(op: str, rc: int) -> bool:
    return rc in (RC_OK, RC_STOPPED) if op == "status" else rc == RC_OK


# heartbeat decides status from the output, not the exit code (heartbeat.md 5.2). An old script that
# exits 0 while printing "... not running" is therefore stopped for heartbeat, and for us too.
_NOT_RUNNING = re.compile(rb"not\s+running", re.IGNORECASE)


def status_rc(rc: int, output: str) -> int:
    if rc == RC_OK and _NOT_RUNNING.search(output.encode()):
        return RC_STOPPED
    return rc


class ResourceRunner(Protocol):
    async def run(
        self, resource: Resource, op: str, ctx: RunContext, timeout_s: float | None = None
    ) -> OpResult:
        """`timeout_s`: this operation's limit (a monitor's `timeout=`); None: the runner's own."""
        ...

    def batches(self, resource: Resource, op: str) -> bool:
        """Whether `run_many` does `op` on this resource in one batch with its like neighbours."""
        ...

    async def run_many(self, resources: Sequence[Resource], op: str, ctx: RunContext) -> list[OpResult]:
        """`op` on every resource, in order, in one batch (each `batches`). A start stops at the first
        failure (the results cover the resources up to it); a stop answers for every resource."""
        ...


def _check_op(op: str) -> None:
    if op not in OPS:
        raise ValueError(f"unknown resource operation {op!r} (one of {', '.join(OPS)})")


class ScriptRunner:
    """Built-in IP addresses in process; every other resource as a script (heartbeat's resource.d)."""

    def __init__(
        self,
        dirs: Sequence[str | os.PathLike[str]],
        timeout_s: float = 60.0,
        builtin_ipaddr: bool = True,
        ipaddr: IpAddrManager | None = None,
        base_env: Mapping[str, str] | None = None,
        kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        self.dirs = tuple(Path(d) for d in dirs)
        self.timeout_s = timeout_s
        self.builtin_ipaddr = builtin_ipaddr
        self.ipaddr = ipaddr or IpAddrManager()
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.kill_grace_s = kill_grace_s

    @classmethod
    def from_config(cls, config: Config) -> ScriptRunner:
        cluster = config.cluster
        dirs = cluster.resource_dirs or default_dirs(config.config_dir)
        return cls(
            dirs,
            timeout_s=cluster.resource_timeout_s,
            builtin_ipaddr=cluster.builtin_ipaddr,
            ipaddr=IpAddrManager(cluster.garp_count, cluster.garp_interval_s),
        )

    def env_for(self, ctx: RunContext) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(HBD_NODE=ctx.node, HBD_GROUP=ctx.group, HBD_REASON=ctx.reason, HA_CURHOST=ctx.node)
        return env

    async def run(
        self, resource: Resource, op: str, ctx: RunContext, timeout_s: float | None = None
    ) -> OpResult:
        _check_op(op)
        if self.builtin_ipaddr and resource.name in IPADDR_NAMES:
            return await self._run_builtin_ip(resource, op, ctx)
        if op == "announce":
            return OpResult(op, True, RC_OK, "nothing to announce", 0.0)
        started = time.monotonic()
        script = find_script(resource.name, self.dirs)
        if script is None:
            where = ", ".join(str(d) for d in self.dirs)
            detail = f"cannot locate resource script {resource.name!r} in {where}"
            return OpResult(op, False, RC_NOT_FOUND, detail, time.monotonic() - started)
        limit = self.timeout_s if timeout_s is None else timeout_s
        result = await run_agent(
            script, resource.args, op, limit, self.env_for(ctx), kill_grace_s=self.kill_grace_s
        )
        rc = status_rc(result.rc, result.output) if op == "status" else result.rc
        ok = op_ok(op, rc) and not result.timed_out
        return OpResult(op, ok, rc, result.output.strip(), result.duration_s, result.timed_out)

    def batches(self, resource: Resource, op: str) -> bool:
        return self.builtin_ipaddr and resource.name in IPADDR_NAMES and op in ("start", "stop")

    async def run_many(self, resources: Sequence[Resource], op: str, ctx: RunContext) -> list[OpResult]:
        """Built-in addresses started or stopped together (IpAddrManager.start_many/stop_many)."""
        if op not in ("start", "stop") or not all(self.batches(r, op) for r in resources):
            raise ValueError(f"run_many: {op} of these resources is not batched (ask batches() first)")
        started = time.monotonic()
        parsed: list[IpSpec | OpResult] = []
        for resource in resources:
            try:
                parsed.append(parse_ip_spec(resource.name, resource.args))
            except ValueError as exc:
                parsed.append(OpResult(op, False, RC_INVALID_ARGS, str(exc), 0.0))
        specs = [p for p in parsed if isinstance(p, IpSpec)]
        if op == "start":  # up to the first bad spec, as a run of single starts would stop there
            good = next((i for i, p in enumerate(parsed) if isinstance(p, OpResult)), len(parsed))
            outcomes = await self.ipaddr.start_many(specs[:good], ctx.emit)
            tail = parsed[good:][:1] if all(o.rc == RC_OK for o in outcomes) else []
        else:
            outcomes = await self.ipaddr.stop_many(specs, ctx.emit)
            tail = []
        share = (time.monotonic() - started) / max(1, len(outcomes))  # one batch: each its share of it
        done = iter(OpResult(op, o.rc == RC_OK, o.rc, o.detail, share) for o in outcomes)
        if op == "start":
            return [*done, *(t for t in tail if isinstance(t, OpResult))]
        return [p if isinstance(p, OpResult) else next(done) for p in parsed]

    async def _run_builtin_ip(self, resource: Resource, op: str, ctx: RunContext) -> OpResult:
        started = time.monotonic()
        try:
            spec = parse_ip_spec(resource.name, resource.args)
        except ValueError as exc:
            return OpResult(op, False, RC_INVALID_ARGS, str(exc), time.monotonic() - started)
        outcome: IpOutcome
        if op == "start":
            outcome = await self.ipaddr.start(spec, ctx.emit)
        elif op == "stop":
            outcome = await self.ipaddr.stop(spec, ctx.emit)
        elif op == "status":
            outcome = await self.ipaddr.status(spec)
        else:
            outcome = await self.ipaddr.announce(spec, ctx.emit)
        ok = op_ok(op, outcome.rc) or (op == "announce" and outcome.rc == RC_STOPPED)
        return OpResult(op, ok, outcome.rc, outcome.detail, time.monotonic() - started)


@dataclass
class FakeRunner:
    """A resource runner with scripted outcomes, for tests and simulations.

    It keeps a running set: a successful start adds the resource, a successful stop removes it, and
    status answers from it unless an outcome is scripted. `script(spec, op, rc...)` queues exit codes
    for the next calls of that operation; `delay_s` makes every operation take that long (on the loop).
    """

    running: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (spec, op, reason)
    batchable: set[str] = field(default_factory=set)  # resource names run_many takes, like ScriptRunner's IPs
    batch_calls: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (specs, op) per batch
    _queued: dict[tuple[str, str], deque[int]] = field(default_factory=lambda: defaultdict(deque))

    def script(self, spec: str, op: str, *rcs: int) -> None:
        _check_op(op)
        self._queued[(spec, op)].extend(rcs)

    def fail_always(self, spec: str, op: str, rc: int = RC_GENERIC_ERROR, times: int = 1000) -> None:
        self.script(spec, op, *([rc] * times))

    def ops(self, op: str | None = None) -> list[tuple[str, str]]:
        """The calls so far as (spec, op), optionally only one operation."""
        return [(s, o) for s, o, _ in self.calls if op is None or o == op]

    def preset(self, specs: Iterable[str]) -> None:
        self.running.update(specs)

    def batches(self, resource: Resource, op: str) -> bool:
        return resource.name in self.batchable and op in ("start", "stop")

    async def run_many(self, resources: Sequence[Resource], op: str, ctx: RunContext) -> list[OpResult]:
        """Each resource as `run` would, recorded as one batch; a start stops at the first failure."""
        self.batch_calls.append((tuple(r.spec for r in resources), op))
        results: list[OpResult] = []
        for resource in resources:
            results.append(await self.run(resource, op, ctx))
            if op == "start" and not results[-1].ok:
                break
        return results

    async def run(
        self, resource: Resource, op: str, ctx: RunContext, timeout_s: float | None = None
    ) -> OpResult:
        _check_op(op)
        spec = resource.spec
        self.calls.append((spec, op, ctx.reason))
        if self.delay_s:
            if timeout_s is not None and self.delay_s > timeout_s:
                await asyncio.sleep(timeout_s)  # a hung script, killed at its timeout
                return OpResult(op, False, -9, f"fake {op} timed out", timeout_s, timed_out=True)
            await asyncio.sleep(self.delay_s)
        queue = self._queued.get((spec, op))
        if queue:
            rc = queue.popleft()
        elif op == "status":
            rc = RC_OK if spec in self.running else RC_STOPPED
        else:
            rc = RC_OK
        if op == "start" and rc == RC_OK:
            self.running.add(spec)
        elif op == "stop" and rc == RC_OK:
            self.running.discard(spec)
        return OpResult(op, op_ok(op, rc), rc, f"fake {op} rc={rc}", self.delay_s)
