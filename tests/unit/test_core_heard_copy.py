"""NodeMachine.heard_copy: a copy of a delivered status on another link, while nothing is due, changes what
handle() would change and nothing more (the daemon's shortcut for every medium's copy, issue 15)."""

from __future__ import annotations

import copy

import pytest

from hbd.core.events import Booted, HeartbeatReceived, PeerStatus, TimerFired
from hbd.core.machine import GroupSpec, NodeMachine, NodeState, Timing

KEY = "IPaddr::10.0.0.100/24"
TIMING = Timing(keepalive_s=0.01, deadtime_s=0.04, warntime_s=0.02, initdead_s=1.0)
LINKS = ("bcast:eth0", "bcast:eth1")
ACTIVE = PeerStatus(state=NodeState.RUNNING, holds=frozenset({KEY}))


def steady() -> tuple[NodeMachine, float]:
    m = NodeMachine("bobek", "bob", [GroupSpec(KEY, "bob")], TIMING, auto_failback=False)
    m.handle(Booted(), 0.0)
    now = 0.0
    for _ in range(50):
        now = round(now + TIMING.keepalive_s, 6)
        m.handle(HeartbeatReceived("bob", LINKS[0], ACTIVE), now)
        m.handle(HeartbeatReceived("bob", LINKS[1], None), now + 0.0002)
        m.handle(TimerFired(), now + 0.0003)
    return m, now + 0.0003


def test_a_copy_on_an_up_link_changes_what_handle_would_and_nothing_else() -> None:
    m, now = steady()
    deadline = m.next_deadline()
    assert deadline is not None
    at = now + 0.001
    assert at < deadline
    via_handle = copy.deepcopy(m)
    assert via_handle.handle(HeartbeatReceived("bob", LINKS[1], None), at) == []
    assert m.heard_copy(LINKS[1], at)
    assert m.snapshot(at) == via_handle.snapshot(at)
    assert m.peer.links[LINKS[1]].last_heard == at and m.next_deadline() == via_handle.next_deadline()


@pytest.mark.parametrize("why", ["new link", "down link", "shutting down"])
def test_what_needs_handle_is_left_to_it(why: str) -> None:
    m, now = steady()
    link = LINKS[1]
    if why == "new link":
        link = "bcast:eth9"
    elif why == "down link":
        m.peer.links[link].up = False
    else:
        m.state = NodeState.SHUTTING_DOWN
    before = copy.deepcopy(m.snapshot(now))
    assert not m.heard_copy(link, now + 0.001)
    assert m.snapshot(now) == before  # nothing recorded
