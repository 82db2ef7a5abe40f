"""The core's decisions in the classic test plan, on a simulated clock (no I/O)."""

from hbd.core.actions import AnnounceGroup, StopGroup
from hbd.core.events import ShutdownRequested, StandbyCommanded, TakeoverCommanded
from hbd.core.machine import GroupSpec
from tests.sim.cluster import TIMING, Cluster

KEY = "IPaddr::10.0.0.100/24"


def booted_pair(**kw) -> Cluster:
    c = Cluster(**kw)
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(1.0)
    return c


def test_both_boot_together_home_node_owns_group_without_waiting_initdead():
    c = booted_pair()
    assert c.active(KEY) == ["bob"]
    # no waiting for initdead (2 s) or a heartbeat-style 10 s RQSTDELAY: acquisition starts on first contact
    start = c.emitted("bob", "group.acquire.start")
    assert len(start) == 1
    assert c.dual_starts == []


def test_lonely_node_takes_everything_after_initdead_only():
    c = Cluster()
    c.power_on("bobek")
    c.run_for(TIMING.initdead_s - 0.1)
    assert c.holders(KEY) == []
    c.run_for(0.5)
    assert c.active(KEY) == ["bobek"]
    assert c.emitted("bobek", "peer.dead")


def test_power_off_of_active_node_fails_over_after_deadtime():
    c = booted_pair()
    c.power_off("bob")
    off_at = c.now
    c.run_for(TIMING.deadtime_s - 0.06)
    assert c.holders(KEY) == []
    c.run_for(0.2)
    assert c.active(KEY) == ["bobek"]
    dead = c.emitted("bobek", "peer.dead")[0]
    assert dead.fields["silence_s"] >= TIMING.deadtime_s
    started = c.emitted("bobek", "group.active")[-1]
    assert "detect_s" in started.fields
    assert c.now - off_at < TIMING.deadtime_s + 0.2


def test_soft_stop_hands_over_at_once_without_deadtime():
    c = booted_pair()
    c.send_event("bob", ShutdownRequested())
    c.run_for(0.1)  # far less than deadtime (0.3 s)
    assert c.active(KEY) == ["bobek"]
    assert c.nodes["bob"].machine is None  # exited after saying goodbye
    assert c.emitted("bobek", "peer.gone")
    assert c.dual_starts == []


def test_failback_when_home_node_returns_stops_before_it_starts():
    c = booted_pair()
    c.power_off("bob")
    c.run_for(1.0)
    assert c.active(KEY) == ["bobek"]
    c.power_on("bob")
    c.run_for(1.0)
    assert c.active(KEY) == ["bob"]
    assert c.dual_starts == []


def test_no_failback_with_auto_failback_off():
    c = booted_pair(auto_failback=False)
    c.power_off("bob")
    c.run_for(1.0)
    c.power_on("bob")
    c.run_for(3.0)
    assert c.active(KEY) == ["bobek"]


def test_one_medium_cut_is_not_a_failover():
    c = booted_pair()
    c.set_links(False, ("bcast:eth1",))
    c.run_for(2.0)
    assert c.active(KEY) == ["bob"]
    downs = c.emitted("bobek", "link.down")
    assert [d.fields["link"] for d in downs] == ["bcast:eth1"]
    assert not c.emitted("bobek", "peer.dead")


def test_all_links_cut_is_split_brain_healed_by_home_node_within_a_keepalive():
    c = booted_pair()
    c.set_links(False)
    c.run_for(1.0)
    assert sorted(c.holders(KEY)) == ["bob", "bobek"]  # no fencing: split brain by design
    c.set_links(True)
    healed_at = c.now
    c.run_for(0.5)
    assert c.active(KEY) == ["bob"]
    healed = c.emitted("bobek", "splitbrain.healed")
    assert healed
    released = c.emitted("bobek", "group.released")[-1]
    assert released
    # bobek released within one keepalive plus its stop time
    assert c.holders(KEY) == ["bob"]
    assert c.now >= healed_at


def _first(c: Cluster, node: str, kind: type, after: float) -> float:
    return next(t for t, a in c.nodes[node].actions if isinstance(a, kind) and t >= after)


def test_split_brain_loser_releases_only_after_the_home_node_re_announced():
    # Clients follow the last gratuitous ARP: if bobek dropped the address before bob announced it again,
    # clients would keep sending to bobek's MAC, where nobody has the address any more.
    c = booted_pair()
    c.set_links(False)
    c.run_for(1.0)
    c.set_links(True)
    healed_at = c.now
    c.run_for(0.5)
    assert c.active(KEY) == ["bob"]
    announced = _first(c, "bob", AnnounceGroup, healed_at)
    released = _first(c, "bobek", StopGroup, healed_at)
    assert announced < released
    assert released - healed_at < TIMING.keepalive_s + 0.01  # still within about one keepalive


def test_split_brain_loser_that_is_never_heard_back_releases_after_a_deadtime():
    # A one-way cut: bobek hears bob again, bob still hears nothing from bobek, so bob never re-announces.
    # bobek must not hold on forever: it gives up a deadtime after bob came back.
    c = booted_pair()
    c.set_links(False)
    c.run_for(1.0)
    c.deaf.add("bob")
    c.set_links(True)
    back_at = c.now
    c.run_for(TIMING.deadtime_s - 0.05)
    assert sorted(c.holders(KEY)) == ["bob", "bobek"]
    c.run_for(0.2)
    assert c.holders(KEY) == ["bob"]
    released = _first(c, "bobek", StopGroup, back_at)
    assert TIMING.deadtime_s <= released - back_at < TIMING.deadtime_s + TIMING.keepalive_s + 0.01


def test_standby_and_takeover_move_the_group_and_back():
    c = booted_pair()
    c.send_event("bob", StandbyCommanded("all"))
    c.run_for(0.5)
    assert c.active(KEY) == ["bobek"]
    c.send_event("bob", TakeoverCommanded("all"))
    c.run_for(0.5)
    assert c.active(KEY) == ["bob"]
    assert c.dual_starts == []


def test_failed_start_lets_the_peer_run_the_group():
    c = booted_pair(fail_start={("bob", KEY)})
    c.run_for(1.0)
    assert c.active(KEY) == ["bobek"]
    assert c.emitted("bob", "group.failed")


def test_active_active_each_node_runs_its_own_group():
    groups = [GroupSpec("mail", "bob"), GroupSpec("web", "bobek")]
    c = booted_pair(groups=groups)
    assert c.active("mail") == ["bob"]
    assert c.active("web") == ["bobek"]
    c.power_off("bobek")
    c.run_for(1.0)
    assert c.active("web") == ["bob"]


def test_node_cut_off_from_its_ping_nodes_hands_the_group_to_the_peer():
    c = booted_pair(ping_targets=("10.0.0.254",))
    assert c.active(KEY) == ["bob"]
    c.reaches_ping["bob"] = False
    c.run_for(1.0)
    assert c.active(KEY) == ["bobek"]
    assert c.emitted("bob", "ping.standby")
    assert c.dual_starts == []
    c.reaches_ping["bob"] = True
    c.run_for(1.0)
    assert c.active(KEY) == ["bob"]  # auto_failback: home again once it reaches the ping node


def test_node_that_reaches_no_ping_node_does_not_take_over_a_silent_peer():
    c = booted_pair(ping_targets=("10.0.0.254",))
    c.reaches_ping["bobek"] = False
    c.power_off("bob")
    c.run_for(2.0)
    assert c.holders(KEY) == []
    c.reaches_ping["bobek"] = True
    c.run_for(1.0)
    assert c.active(KEY) == ["bobek"]


def test_ping_nodes_down_for_both_changes_nothing():
    c = booted_pair(ping_targets=("10.0.0.254",))
    c.reaches_ping["bob"] = c.reaches_ping["bobek"] = False
    c.run_for(2.0)
    assert c.active(KEY) == ["bob"]


def test_both_soft_stopped_at_once_and_booted_again_each_group_has_one_owner():
    # Found by the stateful test (its teardown booted the nodes before their soft stops had finished).
    groups = [GroupSpec(KEY, "bob"), GroupSpec("web", "bobek")]
    c = booted_pair(groups=groups)
    c.send_event("bob", ShutdownRequested())
    c.send_event("bobek", ShutdownRequested())
    c.run_for(1.0)
    assert all(node.machine is None for node in c.nodes.values())
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(TIMING.initdead_s + 1.0)
    assert c.active(KEY) == ["bob"] and c.active("web") == ["bobek"]
    assert c.dual_starts == []
