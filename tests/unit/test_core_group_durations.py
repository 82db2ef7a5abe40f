"""`group.active` and `group.released` carry the documented `duration_s` (docs/CONTRACTS.md)."""

from hbd.core.actions import Emit, StartGroup, StopGroup
from hbd.core.events import Booted, GroupStarted, GroupStopped, ShutdownRequested, TimerFired
from hbd.core.machine import GroupSpec, NodeMachine, Timing
from hbd.event_names import GROUP_ACQUIRE_START, GROUP_ACTIVE, GROUP_RELEASED

T = Timing(keepalive_s=0.05, deadtime_s=0.3, warntime_s=0.15, initdead_s=1.0)


def emitted(actions, name):
    return [a.fields for a in actions if isinstance(a, Emit) and a.event == name]


def test_active_and_released_say_how_long_the_start_and_the_stop_took():
    m = NodeMachine("bob", "bobek", [GroupSpec("g", "bob")], T, auto_failback=True)
    m.handle(Booted(), 0.0)
    out = m.handle(TimerFired(), 1.0)  # initdead over, the peer never heard: start the group
    assert any(isinstance(a, StartGroup) for a in out)
    assert emitted(out, GROUP_ACQUIRE_START)
    out = m.handle(GroupStarted("g", True), 1.25)
    assert emitted(out, GROUP_ACTIVE)[0]["duration_s"] == 0.25
    out = m.handle(ShutdownRequested(), 2.0)
    assert any(isinstance(a, StopGroup) for a in out)
    out = m.handle(GroupStopped("g", True), 2.125)
    assert emitted(out, GROUP_RELEASED)[0]["duration_s"] == 0.125
