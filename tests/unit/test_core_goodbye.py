"""Issue 11 bug 3: a goodbye (status `st=dead`) as the very first packet after boot.

The peer shut down cleanly just as this node booted: its goodbye is the only thing we will ever hear from
it. The node used to stay in INIT for good (no initdead deadline for a GONE peer, no RUNNING transition).
"""

from hbd.core.actions import StartGroup
from hbd.core.events import Booted, HeartbeatReceived, PeerStatus, TimerFired
from hbd.core.machine import GroupSpec, NodeMachine, NodeState
from tests.sim.cluster import TIMING

KEY = "IPaddr::10.0.0.100/24"
GOODBYE = PeerStatus(state=NodeState.STOPPED, generation=7)


def machine(home: str) -> NodeMachine:
    return NodeMachine("bobek", "bob", [GroupSpec(KEY, home)], TIMING, auto_failback=True)


def test_goodbye_as_first_packet_starts_the_groups_at_once() -> None:
    m = machine(home="bob")  # not even our home group: the peer is gone, so we must run it
    m.handle(Booted(), 0.0)
    actions = m.handle(HeartbeatReceived("bob", "bcast:eth1", GOODBYE), 0.01)
    assert m.state is NodeState.RUNNING
    assert [a.group for a in actions if isinstance(a, StartGroup)] == [KEY]


def test_goodbye_as_first_packet_never_leaves_the_node_in_init() -> None:
    m = machine(home="bobek")
    m.handle(Booted(), 0.0)
    m.handle(HeartbeatReceived("bob", "bcast:eth1", GOODBYE), 0.01)
    # Whatever the machine decided, time passing must not leave it waiting in INIT with no deadline.
    now = 0.01
    for _ in range(100):
        deadline = m.next_deadline()
        if deadline is None:
            break
        now = max(now, deadline)
        m.handle(TimerFired(), now)
        if now > 10 * TIMING.initdead_s:
            break
    assert m.state is NodeState.RUNNING
    assert m.snapshot(now)["groups"][KEY]["role"] in ("STARTING", "ACTIVE")
