"""What every fault works with: the context of a run, the Fault base, verification by polling, and the
topology lookups that turn a fault's parameters into a node, its daemon and one end of a cable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from random import Random
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from lab.backends.base import Backend, LabError
from lab.spec.daemon import HEARTBEAT_UDP_PORT
from lab.spec.fault_params import FaultParams, OneCable
from lab.spec.topology import Topology

VERIFY_TIMEOUT_S = 3.0

P = TypeVar("P", bound=FaultParams)
Given = Mapping[str, Any]  # the parameters as the scenario wrote them: what the records show


class FaultError(LabError):
    """A fault could not be injected, healed or verified."""


class Daemons(Protocol):
    """The runner's view of the daemons: who runs where, and how to boot them."""

    def pid(self, node: str) -> int | None: ...

    def boot(self, nodes: list[str], together: bool = False) -> None: ...

    def forget(self, node: str) -> None: ...


@dataclass
class FaultContext:
    backend: Backend
    topology: Topology
    daemons: Daemons
    record: Callable[[dict[str, Any]], None]
    rng: Random
    keepalive_s: float = 1.0
    udpport: int = HEARTBEAT_UDP_PORT  # the scenario's `daemon.udpport`: cut_heartbeat drops only this
    timers: list[threading.Timer] = field(default_factory=list)
    active: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # injected, not yet healed
    next_extra: dict[str, Any] = field(default_factory=dict)  # merged into the next record (phase wait)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def emit(self, event: str, fault: str, params: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        rec = {"mono": extra.pop("mono", time.monotonic()), "source": "lab", "event": event, "fault": fault}
        rec.update(params)
        rec.update(extra)
        rec.update(self.next_extra)
        self.next_extra = {}
        with self.lock:
            self.record(rec)
        return rec

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()


class Fault(Generic[P]):
    """One fault's implementation. `params` is its declaration in lab/spec/fault_params.py, which also
    gives its name: the registry (lab/faults/__init__.py) pairs them, so a name is written once."""

    params: ClassVar[type[FaultParams]]
    name: str = ""  # set by the registry from the declaration

    def inject(self, ctx: FaultContext, p: P, given: Given) -> dict[str, Any]:
        raise FaultError(f"{self.name} cannot be injected")

    def heal(self, ctx: FaultContext, p: P, given: Given) -> dict[str, Any]:
        raise FaultError(f"{self.name} has no heal")


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = VERIFY_TIMEOUT_S) -> float:
    """Poll `check` until true; return the monotonic time it became true, else raise FaultError."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise FaultError(f"not verified within {timeout_s} s: {what}")
        time.sleep(0.002)


# -- topology lookups -------------------------------------------------------------------------------


def node_of(ctx: FaultContext, fault: str, node: str | None) -> str:
    if node is None:
        raise FaultError(f"{fault}: parameter 'node' is required")
    if node not in ctx.topology.node_names:
        raise FaultError(f"{fault}: unknown node {node!r} (nodes: {', '.join(ctx.topology.node_names)})")
    return node


def nodes_of(ctx: FaultContext, fault: str, node: str | None, nodes: tuple[str, ...] | None) -> list[str]:
    """`nodes` when given, else `node`."""
    if nodes is not None:
        return [node_of(ctx, fault, n) for n in nodes]
    return [node_of(ctx, fault, node)]


def cable_of(ctx: FaultContext, fault: str, p: OneCable) -> tuple[str, str]:
    """(node, iface) from `node` + `iface`, or `link: SEGMENT` (+ optional node: default the first end)."""
    if p.iface is not None:
        node = node_of(ctx, fault, p.node)
        if p.iface not in {e.iface for _s, e in ctx.topology.endpoints_of(node)}:
            raise FaultError(f"{fault}: node {node} has no interface {p.iface!r}")
        return node, p.iface
    if p.link is None:
        raise FaultError(f"{fault}: parameter 'link' is required")
    try:
        seg = ctx.topology.segment(p.link)
    except KeyError as e:
        raise FaultError(f"{fault}: {e.args[0]}") from e
    node = p.node if p.node is not None else seg.endpoints[0].node
    end = seg.endpoint(node)
    if end is None:
        raise FaultError(f"{fault}: node {node!r} is not on {seg.name}")
    return end.node, end.iface


def daemon_pid(ctx: FaultContext, fault: str, node: str) -> int:
    pid = ctx.daemons.pid(node)
    if pid is None or not ctx.backend.alive(pid):
        raise FaultError(f"{fault}: no daemon is running on {node}")
    return pid
