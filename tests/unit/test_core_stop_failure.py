"""A group whose stop failed is not released (issue 11): the node keeps holding and announcing it, a SIGTERM
does not end the node, and the peer starts the group only after fencing the node (fencing configured) or
after the node managed to stop it (`hbctl cleanup` once the operator fixed the cause)."""

from __future__ import annotations

from hbd.core.actions import Emit, Exit, FencePeer, SendStatus, StartGroup, StopGroup
from hbd.core.events import (
    Booted,
    CleanupCommanded,
    FenceFinished,
    GroupStarted,
    GroupStopped,
    HeartbeatReceived,
    PeerStatus,
    ShutdownRequested,
    StandbyCommanded,
    TimerFired,
)
from hbd.core.machine import GroupSpec, NodeMachine, Role, Timing
from hbd.core.status import NodeState, decode_status
from tests.sim.cluster import Cluster

T = Timing(keepalive_s=0.05, deadtime_s=0.3, warntime_s=0.15, initdead_s=2.0)
KEY = "IPaddr::10.0.0.100/24"


def active_bob(**kw: object) -> NodeMachine:
    """bob, home of KEY, running it, with bobek alive and holding nothing."""
    m = NodeMachine("bob", "bobek", [GroupSpec(KEY, "bob")], T, auto_failback=True, generation=7, **kw)
    m.handle(Booted(), 0.0)
    idle = PeerStatus(NodeState.RUNNING, heard=7, generation=3)
    out = m.handle(HeartbeatReceived("bobek", "bcast:eth1", idle), 0.01)
    assert [a for a in out if isinstance(a, StartGroup)]
    m.handle(GroupStarted(KEY, True), 0.05)
    assert m.groups[KEY].role is Role.ACTIVE
    return m


def last_status(out: list) -> PeerStatus:
    sent = [a for a in out if isinstance(a, SendStatus)]
    assert sent, "a status went out"
    return decode_status(dict(sent[-1].fields), 7)


def emitted(out: list, event: str) -> list[Emit]:
    return [a for a in out if isinstance(a, Emit) and a.event == event]


def test_a_soft_stop_whose_stop_fails_keeps_the_node_up_holding_the_group() -> None:
    m = active_bob()
    out = m.handle(ShutdownRequested(), 1.0)
    assert [a for a in out if isinstance(a, StopGroup)]
    out = m.handle(GroupStopped(KEY, False, "svc stop: exit 1", "svc"), 3.0)
    assert not [a for a in out if isinstance(a, Exit)]
    assert m.state is NodeState.SHUTTING_DOWN and m.groups[KEY].role is Role.STOP_FAILED
    status = last_status(out)
    assert status.state is NodeState.SHUTTING_DOWN  # never "dead": no goodbye that frees the group
    assert KEY in status.holds and KEY in status.stop_failed
    (critical,) = emitted(out, "group.stop_failed")
    assert critical.level == "CRITICAL" and critical.fields["shutting_down"] is True
    assert "hbctl cleanup" in critical.fields["remedy"] and "exit 1" in critical.fields["cause"]
    assert not emitted(out, "node.stopped")
    # Time passes: it keeps heartbeating the same status, never exits.
    out = []
    t = 3.0
    while t < 10.0:
        t = m.next_deadline() or 10.0
        out += m.handle(TimerFired(), t)
        out += m.handle(HeartbeatReceived("bobek", "bcast:eth1", PeerStatus(NodeState.RUNNING, heard=7)), t)
    assert not [a for a in out if isinstance(a, Exit)]
    assert KEY in last_status(out).stop_failed


def test_cleanup_retries_the_stop_and_a_stop_that_works_ends_the_shutdown() -> None:
    m = active_bob()
    m.handle(ShutdownRequested(), 1.0)
    m.handle(GroupStopped(KEY, False, "exit 1", "svc"), 2.0)
    out = m.handle(CleanupCommanded(KEY), 5.0)
    assert [a for a in out if isinstance(a, StopGroup)]
    assert m.groups[KEY].role is Role.STOPPING and KEY in last_status(out).holds
    out = m.handle(GroupStopped(KEY, True), 5.5)
    assert [a for a in out if isinstance(a, Exit)]
    assert last_status(out).state is NodeState.STOPPED and not last_status(out).holds


def test_a_second_sigterm_retries_the_stop_and_a_new_failure_keeps_holding() -> None:
    m = active_bob()
    m.handle(ShutdownRequested(), 1.0)
    m.handle(GroupStopped(KEY, False, "exit 1", "svc"), 2.0)
    out = m.handle(ShutdownRequested(), 4.0)
    assert [a for a in out if isinstance(a, StopGroup)]
    out = m.handle(GroupStopped(KEY, False, "exit 1 again", "svc"), 5.0)
    assert not [a for a in out if isinstance(a, Exit)] and m.groups[KEY].role is Role.STOP_FAILED


def test_a_stop_failure_while_running_keeps_the_group_held_without_a_shutdown() -> None:
    m = active_bob()
    out = m.handle(StandbyCommanded("all"), 1.0)  # hand the group to bobek
    assert [a for a in out if isinstance(a, StopGroup)]
    out = m.handle(GroupStopped(KEY, False, "exit 1", "svc"), 2.0)
    assert KEY in last_status(out).stop_failed and KEY in last_status(out).holds
    assert emitted(out, "group.stop_failed")[0].fields["shutting_down"] is False


def test_a_restarted_worker_boots_holding_what_its_predecessor_could_not_stop() -> None:
    m = NodeMachine("bob", "bobek", [GroupSpec(KEY, "bobek")], T, auto_failback=True, generation=8)
    out = m.handle(Booted(stop_failed=((KEY, "svc stop: exit 1"),)), 0.0)
    assert m.groups[KEY].role is Role.STOP_FAILED
    status = decode_status(dict(next(a for a in out if isinstance(a, SendStatus)).fields), 8)
    assert KEY in status.holds and KEY in status.stop_failed  # from the very first status on
    assert emitted(out, "group.stop_failed")[0].level == "CRITICAL"
    # The peer (home of the group) is alive and wants it: nothing is released here.
    out = m.handle(HeartbeatReceived("bobek", "bcast:eth1", PeerStatus(NodeState.RUNNING, heard=8)), 0.1)
    assert not [a for a in out if isinstance(a, (StopGroup, StartGroup))]


# ------------------------------------------------------------------------- the peer's side


def standby_seeing_stuck_peer(**kw: object) -> tuple[NodeMachine, list]:
    m = NodeMachine("bobek", "bob", [GroupSpec(KEY, "bob")], T, auto_failback=True, generation=3, **kw)
    m.handle(Booted(), 0.0)
    holding = PeerStatus(NodeState.RUNNING, holds=frozenset({KEY}), heard=3, generation=7)
    for i in range(20):  # bob active and heard, up to t=0.96
        m.handle(HeartbeatReceived("bob", "bcast:eth1", holding), 0.01 + i * 0.05)
    stuck = PeerStatus(
        NodeState.SHUTTING_DOWN, holds=frozenset({KEY}), stop_failed=frozenset({KEY}), heard=3, generation=7
    )
    out = m.handle(HeartbeatReceived("bob", "bcast:eth1", stuck), 1.0)
    return m, out


def test_without_fencing_the_peer_of_a_stuck_node_does_not_start_the_group() -> None:
    _m, out = standby_seeing_stuck_peer()
    (seen,) = emitted(out, "peer.stop_failed")
    assert seen.level == "ERROR" and "no fencing" in seen.fields["cause"]
    assert not [a for a in out if isinstance(a, (StartGroup, FencePeer))]


def test_with_fencing_the_peer_fences_the_stuck_node_and_takes_over_once_confirmed() -> None:
    m, out = standby_seeing_stuck_peer(fencing=True)
    (fence,) = [a for a in out if isinstance(a, FencePeer)]
    assert "could not stop" in fence.cause
    assert emitted(out, "fence.start")[0].fields["cause"] == fence.cause
    assert not [a for a in out if isinstance(a, StartGroup)]
    out = m.handle(FenceFinished("bob", True, "off"), 1.2)
    (start,) = [a for a in out if isinstance(a, StartGroup)]
    assert "fenced" in start.cause
    m.handle(GroupStarted(KEY, True), 1.3)
    # bob is off: silent, declared dead, and not fenced a second time.
    out = []
    while (d := m.next_deadline()) is not None and d < 5.0:
        out += m.handle(TimerFired(), d)
    assert emitted(out, "peer.dead") and not [a for a in out if isinstance(a, FencePeer)]
    assert m.groups[KEY].role is Role.ACTIVE


def test_an_unconfirmed_fence_of_a_stuck_node_means_no_takeover_and_a_retry() -> None:
    m, _ = standby_seeing_stuck_peer(fencing=True)
    out = m.handle(FenceFinished("bob", False, "status says on"), 1.2)
    assert not [a for a in out if isinstance(a, StartGroup)]
    assert m.fence_at is not None


def test_a_stuck_peer_that_recovers_before_the_retry_is_not_fenced_again() -> None:
    m, _ = standby_seeing_stuck_peer(fencing=True)
    m.handle(FenceFinished("bob", False, "no answer"), 1.2)
    fine = PeerStatus(NodeState.SHUTTING_DOWN, holds=frozenset({KEY}), heard=3, generation=7)
    m.handle(HeartbeatReceived("bob", "bcast:eth1", fine), 1.3)
    out = []
    t = 1.3
    while t < 40.0:
        t += 0.05
        out += m.handle(HeartbeatReceived("bob", "bcast:eth1", fine), t)
    assert not [a for a in out if isinstance(a, FencePeer)]


def test_a_fenced_peer_that_comes_back_as_a_new_incarnation_is_not_taken_over_again() -> None:
    m, _ = standby_seeing_stuck_peer(fencing=True)
    m.handle(FenceFinished("bob", True, "off"), 1.1)
    m.handle(GroupStarted(KEY, True), 1.15)
    # bob rebooted fast (within deadtime, so never declared dead here) and wants its home group back
    reborn = PeerStatus(NodeState.RUNNING, heard=3, generation=9)
    out = m.handle(HeartbeatReceived("bob", "bcast:eth1", reborn), 1.25)
    assert [a for a in out if isinstance(a, StopGroup)]  # failback: handed back to the home node
    out = m.handle(GroupStopped(KEY, True), 1.3)
    back = PeerStatus(NodeState.RUNNING, holds=frozenset({KEY}), heard=3, generation=9)
    out += m.handle(HeartbeatReceived("bob", "bcast:eth1", back), 1.35)
    out += m.handle(HeartbeatReceived("bob", "bcast:eth1", reborn), 1.4)  # say bob gave it up again
    assert not [a for a in out if isinstance(a, StartGroup)]  # the old fence no longer vouches for anything


# ------------------------------------------------------------------------- two simulated nodes


def test_sim_without_fencing_the_group_stays_on_the_stuck_node_until_cleanup() -> None:
    c = Cluster()
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(3.0)
    assert c.active(KEY) == ["bob"]
    c.fail_stop.add(("bob", KEY))
    c.send_event("bob", ShutdownRequested())
    c.run_for(5.0)
    assert c.holders(KEY) == ["bob"] and c.nodes["bob"].machine is not None
    assert not c.emitted("bobek", "group.acquire.start") and not c.dual_starts
    assert c.emitted("bobek", "peer.stop_failed")
    c.fail_stop.clear()  # the operator fixed it
    c.send_event("bob", CleanupCommanded(KEY))
    c.run_for(1.0)
    assert c.nodes["bob"].machine is None  # the shutdown completed
    assert c.active(KEY) == ["bobek"] and not c.dual_starts


def test_sim_with_fencing_the_peer_fences_the_stuck_node_then_takes_over() -> None:
    c = Cluster(fencing=True)
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(3.0)
    assert c.active(KEY) == ["bob"]
    c.fail_stop.add(("bob", KEY))
    c.send_event("bob", ShutdownRequested())
    c.run_for(3.0)
    assert [who for _, who in c.fenced] == ["bob"]
    assert c.active(KEY) == ["bobek"] and not c.dual_starts
    fenced_at = c.fenced[0][0]
    (start,) = c.emitted("bobek", "group.acquire.start")
    assert "fenced" in start.fields["cause"]
    assert [a for t, a in c.nodes["bobek"].actions if isinstance(a, StartGroup) and t < fenced_at] == []
