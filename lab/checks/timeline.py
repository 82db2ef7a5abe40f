"""Where things are in a history, as the checkers need them: times relative to the first fault, the
fault a measurement starts from, who counts as the survivor, the first answer after a time."""

from __future__ import annotations

from collections.abc import Callable

from lab.history.ownership import fault_nodes
from lab.history.records import History, Record
from lab.spec.check_params import FaultRef

# Faults that take a node out: their `node` is the victim. A link fault's `node` is just the cable's end.
NODE_FAULTS = frozenset({"soft_stop", "power_off", "freeze"})


def origin(history: History) -> float:
    faults = history.faults()
    if faults:
        return faults[0].mono
    return history.start if history.start is not None else 0.0


def at(history: History, t: float) -> str:
    """A time relative to the first fault (or the start): 't+0.312s'."""
    return f"t{t - origin(history):+.3f}s"


def reference_fault(history: History, ref: FaultRef) -> Record | None:
    """The fault a latency is measured from: the nth (1-based) `fault.inject` of the named fault."""
    nth = ref.nth or 1
    faults = history.faults(ref.fault)
    return faults[nth - 1] if len(faults) >= nth else None


def no_fault(ref: FaultRef) -> str:
    wanted = f"fault {ref.fault!r}" if ref.fault else "any fault"
    nth = ref.nth or 1
    return f"no fault.inject record for {wanted}" + (f" (#{nth})" if nth != 1 else "")


def survivor_test(history: History, fault: Record, by: str | None) -> tuple[Callable[[str], bool], str]:
    """Which answering nodes count as 'the survivor', and a description of the rule."""
    if by:
        return (lambda node: node == by), by
    victims = set(fault_nodes(fault)) if fault.get("fault") in NODE_FAULTS else set()
    if not victims:
        # A fault without a victim (a link cut): the survivor is whoever did not answer just before it.
        before = [p for p in history.probes() if p.mono < fault.mono and p.get("ok") and p.get("answer")]
        victims = {str(before[-1].get("answer"))} if before else set()
    if not victims:
        return (lambda node: True), "any node"
    return (lambda node: node not in victims), f"any node but {', '.join(sorted(victims))}"


def first_answer(
    history: History, after: float, accept: Callable[[str], bool], protocol: str | None = None
) -> Record | None:
    for p in history.probes(protocol):
        if p.mono >= after and p.get("ok") and p.get("answer") and accept(str(p.get("answer"))):
            return p
    return None
