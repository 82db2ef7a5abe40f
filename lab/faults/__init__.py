"""Faults: each `inject` / `heal` applies one change to the running lab, VERIFIES it took effect and
returns the record it wrote (a fault that cannot be verified raises FaultError: the run fails, because a
latency measured after a silent failure is worse than none).

Every fault's parameters are declared once in lab/spec/fault_params.py (the table with types, defaults and
allowed values is in docs/scenarios.md); the implementations live one module per family:
  process     soft_stop, freeze
  power       power_off (heal = power_on), power_on, boot_together
  links       link_cut (down / drop / pull), cut_heartbeat
  serial      serial_cut
  loss_delay  loss, delay
  daemon      daemon_kill, service_kill, resource_fail, state_dir_full, hbctl (an operator command)
  attack      junk_flood, capture, replay (scapy node programs; netns only)
  config      reload (rewrite a node's ha.cf / authkeys, SIGHUP, wait for the daemon's answer)
and this registry pairs each declaration with its implementation (an import error if one is missing).
`heal: {fault: X}` with no other parameter heals every active X with the parameters it was injected
with (so the heal uses the same `how`); with parameters it heals the matching one. `inject: {fault:
link_heal}` heals like `heal: {fault: link_cut}` (serial_heal: serial_cut).
Every inject first waits a random time in [0, keepalive) (seeded) so runs sample every phase of the
heartbeat timer; `phase: none` turns that off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from lab.faults import attack, config, daemon, links, loss_delay, power, process, serial
from lab.faults.base import Daemons, Fault, FaultContext, FaultError, wait_until
from lab.spec.daemon import HEARTBEAT_UDP_PORT
from lab.spec.fault_params import FAULTS as DECLARED
from lab.spec.fault_params import FaultParams
from lab.spec.params import parse_params

__all__ = [
    "FAULTS",
    "HEARTBEAT_UDP_PORT",
    "Daemons",
    "FaultContext",
    "FaultError",
    "heal",
    "inject",
    "phase_wait",
    "wait_until",
]


def _registry(implementations: Iterable[Fault[Any]]) -> dict[str, Fault[Any]]:
    """name -> implementation, for every declared fault (aliases like link_heal have none of their own)."""
    by_params: dict[type, Fault[Any]] = {}
    for impl in implementations:
        if impl.params in by_params:
            raise ImportError(f"two implementations of {impl.params.__name__}")
        by_params[impl.params] = impl
    out: dict[str, Fault[Any]] = {}
    for name, decl in DECLARED.items():
        if decl.heals is not None:
            continue
        found = by_params.pop(decl.params, None)
        if found is None:
            raise ImportError(f"fault {name} is declared in lab/spec/fault_params.py but not implemented")
        found.name = name
        out[name] = found
    if by_params:
        raise ImportError(f"implemented but not declared: {', '.join(t.__name__ for t in by_params)}")
    return out


FAULTS: dict[str, Fault[Any]] = _registry(
    (
        *process.FAULTS,
        *power.FAULTS,
        *links.FAULTS,
        *serial.FAULTS,
        *loss_delay.FAULTS,
        *daemon.FAULTS,
        *attack.FAULTS,
        *config.FAULTS,
    )
)


def _typed(fault: str, params: Mapping[str, Any], partial: bool = False) -> FaultParams | None:
    """The declaration's typed object for `params`; FaultError lists every problem with its key."""
    decl = DECLARED.get(fault)
    if decl is None:
        known = ", ".join(DECLARED)
        raise FaultError(f"unknown fault {fault!r} (known: {known})")
    typed, problems = parse_params(decl.params, params, owner=fault, ignore=("fault",), partial=partial)
    if problems:
        shown = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems)
        raise FaultError(f"{fault}: {shown}")
    return typed


def _given(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "fault"}


def phase_wait(ctx: FaultContext, p: FaultParams) -> float:
    """Sleep a seeded random time in [0, keepalive) so the fault lands at a random phase of the timer."""
    wait = ctx.rng.uniform(0, ctx.keepalive_s) if p.phase == "random" else 0.0
    if wait:
        time.sleep(wait)
    return wait


def inject(ctx: FaultContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Apply a fault (or, for link_heal/serial_heal, heal one). Returns the records written."""
    name = str(params.get("fault"))
    decl = DECLARED.get(name)
    if decl is not None and decl.heals is not None:
        return heal(ctx, {**params, "fault": decl.heals})
    typed = _typed(name, params)
    assert typed is not None  # a full parse either builds the object or raises
    fault = FAULTS[name]
    wait = phase_wait(ctx, typed)
    given = _given(params)
    rec = fault.inject(ctx, typed, given)
    # Also lands in lab.jsonl: the sink keeps the dict until the run ends.
    rec["phase_wait_s"] = round(wait, 6)
    ctx.active.append((name, given))
    return [rec]


def heal(ctx: FaultContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Undo active faults: all of this kind when only `fault` is given, else the one matching the params."""
    name = str(params.get("fault"))
    decl = DECLARED.get(name)
    if decl is not None and decl.heals is not None:
        name = decl.heals
    _typed(name, params, partial=True)  # the keys given are valid, whatever they match
    fault = FAULTS[name]
    given = {k: v for k, v in _given(params).items() if k != "phase"}
    matching = [
        (i, act)
        for i, (done, act) in enumerate(ctx.active)
        if done == name and all(act.get(k) == v for k, v in given.items())
    ]
    if not matching:
        # Nothing recorded as injected (a freeze that already thawed, a soft-stopped node): heal as given.
        typed = _typed(name, {**params, "fault": name})
        return [fault.heal(ctx, typed, _given(params))]
    records = []
    for index, act in reversed(matching):
        records.append(fault.heal(ctx, _typed(name, {**act, "fault": name}), act))
        del ctx.active[index]
    return records
