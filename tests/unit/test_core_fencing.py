"""Fencing decisions of the core, event by event (no I/O): takeover only after a confirmed fence."""

from hbd.core.actions import Emit, FencePeer, StartGroup
from hbd.core.events import Booted, FenceFinished, HeartbeatReceived, PeerStatus, TimerFired
from hbd.core.machine import GroupSpec, NodeMachine, Timing
from hbd.core.status import NodeState

T = Timing(keepalive_s=0.05, deadtime_s=0.3, warntime_s=0.15, initdead_s=2.0)
KEY = "IPaddr::10.0.0.100/24"


def standby_with_peer_holding(**kw) -> NodeMachine:
    m = NodeMachine("bobek", "bob", [GroupSpec(KEY, "bob")], T, auto_failback=True, fencing=True, **kw)
    m.handle(Booted(), 0.0)
    holding = PeerStatus(NodeState.RUNNING, holds=frozenset({KEY}))
    m.handle(HeartbeatReceived("bob", "bcast:eth1", holding), 0.01)
    return m


def run_timers(m: NodeMachine, until: float) -> list:
    out = []
    while (d := m.next_deadline()) is not None and d <= until:
        out += m.handle(TimerFired(), d)
    return out


def names(actions) -> list[str]:
    return [a.event for a in actions if isinstance(a, Emit)]


def test_silent_peer_is_fenced_before_any_takeover_and_only_a_confirmed_fence_allows_it():
    m = standby_with_peer_holding(fence_delay_s=0.5)
    out = run_timers(m, 0.4)
    assert "peer.dead" in names(out)
    assert not [a for a in out if isinstance(a, (FencePeer, StartGroup))]  # tie-break: holder fences first
    out = run_timers(m, 0.9)
    assert [a for a in out if isinstance(a, FencePeer)]
    assert not [a for a in out if isinstance(a, StartGroup)]
    out = m.handle(FenceFinished("bob", True, "off, confirmed"), 0.95)
    assert [a for a in out if isinstance(a, StartGroup)]
    assert "fence.ok" in names(out)


def test_unconfirmed_fence_means_no_takeover_a_critical_event_and_retries_with_backoff():
    m = standby_with_peer_holding()
    run_timers(m, 0.4)
    out = m.handle(FenceFinished("bob", False, "status says on"), 0.5)
    critical = [a for a in out if isinstance(a, Emit) and a.event == "fence.failed"]
    assert critical and critical[0].level == "CRITICAL"
    assert not [a for a in out if isinstance(a, StartGroup)]
    retry_at = m.fence_at
    assert retry_at is not None and retry_at > 0.5
    out = run_timers(m, retry_at)
    assert [a for a in out if isinstance(a, FencePeer)]
    out = m.handle(FenceFinished("bob", False, "again"), retry_at + 0.1)
    assert m.fence_at is not None and m.fence_at - (retry_at + 0.1) > retry_at - 0.5  # backoff grows
    assert not [a for a in out if isinstance(a, StartGroup)]


def test_a_node_that_restarted_uncleanly_does_not_fence_a_peer_it_cannot_hear():
    m = NodeMachine(
        "bobek", "bob", [GroupSpec(KEY, "bob")], T, auto_failback=True, fencing=True, unclean_start=True
    )
    m.handle(Booted(), 0.0)
    out = run_timers(m, 5.0)
    assert "fence.wait_operator" in names(out)
    assert not [a for a in out if isinstance(a, (FencePeer, StartGroup))]


def test_peer_heard_again_cancels_a_pending_fence():
    m = standby_with_peer_holding(fence_delay_s=0.5)
    run_timers(m, 0.4)
    out = []
    t = 0.45
    alive = PeerStatus(NodeState.RUNNING, holds=frozenset({KEY}))
    while t < 2.0:  # bob is back and keeps talking
        out += m.handle(HeartbeatReceived("bob", "bcast:eth1", alive), t)
        out += run_timers(m, t + 0.05)
        t += 0.05
    assert not [a for a in out if isinstance(a, FencePeer)]
    assert m.fence_state.value == "not_needed"
