"""A reload in the core (ConfigChanged): new timings apply at once; only groups that changed move."""

from __future__ import annotations

from hbd.core.actions import StartGroup, StopGroup
from hbd.core.events import ConfigChanged
from hbd.core.machine import GroupSpec, Timing
from tests.sim.cluster import TIMING, Cluster

WEB = "IPaddr::10.0.0.100/24"
DB = "IPaddr::10.0.0.101/24"
GROUPS = [GroupSpec(WEB, "bob"), GroupSpec(DB, "bobek")]


def changed(
    groups: list[tuple[str, str]], timing: Timing = TIMING, replaced: frozenset[str] = frozenset()
) -> ConfigChanged:
    return ConfigChanged(
        timing.keepalive_s,
        timing.deadtime_s,
        timing.warntime_s,
        timing.initdead_s,
        tuple(groups),
        replaced,
    )


def booted() -> Cluster:
    c = Cluster(list(GROUPS))
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(1.0)
    assert c.active(WEB) == ["bob"] and c.active(DB) == ["bobek"]
    return c


def ops(c: Cluster, name: str, since: float) -> list[tuple[str, str]]:
    return [
        (type(a).__name__, a.group)
        for t, a in c.nodes[name].actions
        if t >= since and isinstance(a, StartGroup | StopGroup)
    ]


def test_new_timings_apply_without_touching_any_group() -> None:
    c = booted()
    slow = Timing(keepalive_s=0.2, deadtime_s=1.0, warntime_s=0.5, initdead_s=2.0)
    at = c.now
    for name in ("bob", "bobek"):
        c.send_event(name, changed([(WEB, "bob"), (DB, "bobek")], slow))
    c.run_for(2.0)
    assert ops(c, "bob", at) == [] and ops(c, "bobek", at) == []
    bob = c.nodes["bob"].machine
    assert bob is not None and bob.timing == slow and bob.peer.deadtime_s == 1.0
    # the peer is now declared dead after the new deadtime (1 s), not the old one (0.3 s)
    c.power_off("bobek")
    off = c.now
    c.run_for(0.8)
    assert c.active(DB) == []
    c.run_for(0.5)
    assert c.active(DB) == ["bob"]
    dead = c.emitted("bob", "peer.dead")[-1]
    assert dead.fields["silence_s"] >= 1.0 and c.now - off < 1.5


def test_a_replaced_group_is_stopped_and_started_again_and_the_other_is_left_alone() -> None:
    c = booted()
    at = c.now
    for name in ("bob", "bobek"):
        c.send_event(name, changed([(WEB, "bob"), (DB, "bobek")], replaced=frozenset({WEB})))
    c.run_for(1.0)
    assert ops(c, "bob", at) == [("StopGroup", WEB), ("StartGroup", WEB)]
    assert ops(c, "bobek", at) == []  # neither the untouched DB nor a grab of WEB while it was released
    assert c.active(WEB) == ["bob"] and c.dual_starts == []
    released = c.emitted("bob", "group.release.start")[-1]
    assert "resources changed" in released.fields["cause"]


def test_removed_group_is_released_and_forgotten_added_group_starts_at_home() -> None:
    c = booted()
    at = c.now
    new = "IPaddr::10.0.0.102/24"
    c.groups.append(GroupSpec(new, "bobek"))  # watched for two owners too
    for name in ("bob", "bobek"):
        c.send_event(name, changed([(WEB, "bob"), (new, "bobek")]))
    c.run_for(1.0)
    # independent groups: the new one starts while the removed one stops
    assert sorted(ops(c, "bobek", at)) == [("StartGroup", new), ("StopGroup", DB)]
    for name in ("bob", "bobek"):
        machine = c.nodes[name].machine
        assert machine is not None and DB not in machine.groups and new in machine.groups
    assert c.active(new) == ["bobek"] and c.active(WEB) == ["bob"]


def test_a_new_home_is_decided_by_the_policy_like_a_failback() -> None:
    c = booted()
    for name in ("bob", "bobek"):
        c.send_event(name, changed([(WEB, "bobek"), (DB, "bobek")]))
    c.run_for(1.0)
    assert c.active(WEB) == ["bobek"] and c.dual_starts == []


def test_a_shorter_keepalive_sends_sooner() -> None:
    c = booted()
    bob = c.nodes["bob"].machine
    assert bob is not None
    c.send_event("bob", changed([(WEB, "bob"), (DB, "bobek")], Timing(0.01, 0.3, 0.15, 2.0)))
    assert bob.next_send_at is not None and bob.next_send_at <= c.now + 0.01 + 1e-9
