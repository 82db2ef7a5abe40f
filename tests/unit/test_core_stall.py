"""Stall-aware dead detection (issue 15): this node's own stall is not the peer's silence.

Under CPU starvation or a frozen VM the daemon may not run for ~100 ms. When it runs again, the peer's
heartbeats of that time wait in its socket buffer (or the peer froze too); the first thing it handles is
one of them, and the old core judged the deadline before reading it: a false peer.dead, then a takeover and
a split brain. With `stall_aware` (the default, ha.cf `hbd_stall_aware`) the stall is excused, and only it.
"""

from hbd.core.actions import Emit, StartGroup
from hbd.core.events import Booted, HeartbeatReceived, PeerStatus, TimerFired
from hbd.core.machine import GroupSpec, NodeMachine, NodeState, Timing
from hbd.event_names import PEER_DEAD

KEY = "IPaddr::10.0.0.100/24"
TIMING = Timing(keepalive_s=0.01, deadtime_s=0.04, warntime_s=0.02, initdead_s=1.0)
LINK = "bcast:eth1"
ACTIVE = PeerStatus(state=NodeState.RUNNING, holds=frozenset({KEY}))


def standby(stall_aware: bool = True) -> tuple[NodeMachine, float]:
    """bobek, standby of bob's group, after a second of bob's heartbeats every keepalive: (machine, now)."""
    groups = [GroupSpec(KEY, "bob")]
    m = NodeMachine("bobek", "bob", groups, TIMING, auto_failback=False, stall_aware=stall_aware)
    m.handle(Booted(), 0.0)
    now = 0.0
    for _ in range(100):
        now = round(now + TIMING.keepalive_s, 6)
        m.handle(HeartbeatReceived("bob", LINK, ACTIVE), now)
        m.handle(TimerFired(), now)  # our own status goes out: next_send_at moves on
    assert m.peer.liveness.value == "alive"
    return m, now


def declared_dead(actions: list) -> bool:
    return any(isinstance(a, Emit) and a.event == PEER_DEAD for a in actions)


def test_heartbeat_queued_during_our_own_stall_is_not_a_dead_peer() -> None:
    m, now = standby()
    # This node does not run for 100 ms (2.5 deadtimes); bob kept sending: its packets wait in the buffer.
    resumed = now + 0.1
    actions = m.handle(HeartbeatReceived("bob", LINK, ACTIVE), resumed)
    assert not declared_dead(actions)
    assert not any(isinstance(a, StartGroup) for a in actions)
    assert m.peer.liveness.value == "alive"


def test_without_the_rule_the_same_stall_declares_the_peer_dead() -> None:
    m, now = standby(stall_aware=False)
    actions = m.handle(HeartbeatReceived("bob", LINK, ACTIVE), now + 0.1)
    assert declared_dead(actions)  # dead, then alive again at once: a flap the peer sees as split brain


def test_whole_machine_froze_peer_gets_the_deadtime_it_had_left() -> None:
    m, now = standby()
    # Both froze for 100 ms; our late timer fires first. Bob's last status was at `now`; our status was
    # due at now + keepalive, so the stall excused is resumed - (now + keepalive).
    resumed = now + 0.1
    assert not declared_dead(m.handle(TimerFired(), resumed))
    deadline = m.next_deadline()
    dead_at = now + TIMING.deadtime_s + (resumed - (now + TIMING.keepalive_s))
    assert deadline is not None and deadline <= dead_at + 1e-9
    # Bob's own late status arrives within that: alive, nothing moves.
    actions = m.handle(HeartbeatReceived("bob", LINK, ACTIVE), resumed + 0.012)
    assert not declared_dead(actions) and m.peer.excused_s == 0.0


def test_a_peer_that_really_died_during_our_stall_is_declared_dead_late_only_by_the_stall() -> None:
    m, now = standby()
    # bob powered off right after its last status at `now`; we stall 50 ms from our next send on.
    resumed = now + TIMING.keepalive_s + 0.05
    assert not declared_dead(m.handle(TimerFired(), resumed))
    t, dead = resumed, []
    while not dead and t < now + 1.0:
        t = max(t, m.next_deadline() or t)
        dead = [a for a in m.handle(TimerFired(), t) if isinstance(a, Emit) and a.event == PEER_DEAD]
    assert dead, "a silent peer must still be declared dead"
    assert t - now <= TIMING.deadtime_s + 0.05 + 1e-9  # deadtime + the stall, not deadtime from resuming


def test_lateness_under_a_keepalive_is_jitter_and_counts_as_silence() -> None:
    m, now = standby()
    m.handle(TimerFired(), now + TIMING.keepalive_s + 0.008)  # 8 ms late: not a stall
    assert m.peer.excused_s == 0.0
    assert m.peer.death_deadline(0.0, TIMING.initdead_s) == now + TIMING.deadtime_s


def test_silence_on_one_medium_while_another_carries_status_is_not_death() -> None:
    """Rule (b) of the issue, as it already was: liveness follows the newest status on ANY link."""
    m, now = standby()
    for _ in range(20):  # 200 ms, 5 deadtimes: only the second link carries bob's status
        now = round(now + TIMING.keepalive_s, 6)
        assert not declared_dead(m.handle(HeartbeatReceived("bob", "ucast:eth0", ACTIVE), now))
        assert not declared_dead(m.handle(TimerFired(), now))
    assert m.peer.liveness.value == "alive" and not m.peer.links[LINK].up
