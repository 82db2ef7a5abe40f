"""Resource monitoring in the core (ha.cf hbd_monitor), on a simulated clock: checks run on the holder only,
a failure restarts the group here, past `restarts` failures within `window` the group goes to the peer, a hung
check counts as a failure, `hbctl cleanup` lets the group come back."""

from __future__ import annotations

from hbd.core.actions import RestartGroup, RunMonitor
from hbd.core.events import CleanupCommanded, ConfigChanged, MonitorFailed, MonitorOk, StandbyCommanded
from hbd.core.machine import Role
from hbd.core.monitor import MonitorSpec, MonitorState, Next
from tests.sim.cluster import TIMING, Cluster

KEY = "svc::80"
GROUP = "IPaddr::10.0.0.100/24"
SPEC = MonitorSpec(GROUP, KEY, interval_s=0.2, timeout_s=0.5, restarts=1, window_s=60.0)


def booted(spec: MonitorSpec = SPEC, **kw: object) -> Cluster:
    c = Cluster(monitors=(spec,), **kw)  # type: ignore[arg-type]
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(1.0)
    assert c.active(GROUP) == ["bob"]
    return c


def runs(c: Cluster, node: str) -> list[float]:
    return [t for t, a in c.nodes[node].actions if isinstance(a, RunMonitor)]


def role(c: Cluster, node: str) -> Role:
    machine = c.nodes[node].machine
    assert machine is not None
    return machine.groups[GROUP].role


def test_window_counts_failures_and_decides_restart_then_migrate() -> None:
    m = MonitorState(MonitorSpec("g", "r", 1.0, 1.0, restarts=2, window_s=10.0))
    for t in (0.0, 5.0):
        m.record(False, 3, "", False, t)
        assert m.next_step(t) is Next.RESTART
    m.record(False, 3, "", False, 9.0)
    assert (m.recent(9.0), m.next_step(9.0)) == (3, Next.MIGRATE)
    # the failure at 0 s has left the window: still three within the last ten seconds
    m.record(False, 1, "", False, 10.5)
    assert (m.recent(10.5), m.next_step(10.5)) == (3, Next.MIGRATE)
    assert (m.recent(30.0), m.total_failures) == (0, 4)
    assert m.clear() == 3 and m.recent(10.5) == 0 and m.total_failures == 0


def test_checks_run_every_interval_on_the_holder_only() -> None:
    c = booted()
    start = c.now
    c.run_for(2.0)
    bob = [t for t in runs(c, "bob") if t >= start]
    assert 8 <= len(bob) <= 11  # every 0.2 s + the 0.02 s the check takes
    assert runs(c, "bobek") == []
    machine = c.nodes["bob"].machine
    assert machine is not None
    (snap,) = machine.snapshot(c.now)["monitors"]
    assert (snap["resource"], snap["last"], snap["failures"]) == (KEY, "ok", 0)


def test_a_failure_restarts_the_group_here_without_a_failover() -> None:
    c = booted()
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    (failed,) = c.emitted("bob", "monitor.failed")
    assert failed.fields["next"] == "restart" and failed.fields["failures"] == 1
    assert "restart 1 of 1 within 60 s" in failed.fields["cause"]
    assert len(c.emitted("bob", "group.restart.start")) == 1
    (done,) = c.emitted("bob", "group.restart.done")
    assert done.fields["ok"] is True
    restarts = [a for _, a in c.nodes["bob"].actions if isinstance(a, RestartGroup)]
    assert [(a.group, a.resource) for a in restarts] == [(GROUP, KEY)]
    assert c.active(GROUP) == ["bob"]
    assert c.emitted("bob", "group.release.start") == [] and c.emitted("bobek", "group.acquire.start") == []
    assert c.dual_starts == []
    # checks go on after the restart
    n = len(runs(c, "bob"))
    c.run_for(1.0)
    assert len(runs(c, "bob")) > n


def test_past_the_threshold_the_group_moves_to_the_peer_and_cleanup_brings_it_back() -> None:
    c = booted()
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    c.broken.add(("bob", KEY))  # killed again within the window
    c.run_for(1.0)
    second = c.emitted("bob", "monitor.failed")[-1]
    assert second.fields["next"] == "migrate" and second.fields["failures"] == 2
    (migrate,) = c.emitted("bob", "group.migrate")
    assert "restarts exhausted (2 failures within 60 s)" in migrate.fields["cause"]
    assert role(c, "bob") is Role.FAILED
    assert c.active(GROUP) == ["bobek"]
    assert c.dual_starts == []  # released here before the peer started it
    released = c.emitted("bob", "group.released")[-1]
    assert "restarts exhausted" in released.fields["cause"]
    # auto_failback does not pull it back while the failure mark stands
    c.run_for(2.0)
    assert c.active(GROUP) == ["bobek"]

    c.send_event("bob", CleanupCommanded(GROUP))
    (cleanup,) = c.emitted("bob", "group.cleanup")
    assert cleanup.fields["cleared_failures"] == 2 and cleanup.fields["was_failed"] is True
    c.run_for(1.0)
    assert c.active(GROUP) == ["bob"]  # auto_failback: the home node takes it back once it may
    assert c.dual_starts == []
    machine = c.nodes["bob"].machine
    assert machine is not None
    assert machine.snapshot(c.now)["monitors"][0]["failures"] == 0


def test_failures_further_apart_than_the_window_only_restart() -> None:
    c = booted(MonitorSpec(GROUP, KEY, interval_s=0.2, timeout_s=0.5, restarts=1, window_s=1.0))
    for _ in range(4):
        c.broken.add(("bob", KEY))
        c.run_for(1.5)
    assert [e.fields["next"] for e in c.emitted("bob", "monitor.failed")] == ["restart"] * 4
    assert c.emitted("bob", "group.migrate") == [] and c.active(GROUP) == ["bob"]


def test_zero_restarts_hands_over_at_the_first_failure() -> None:
    c = booted(MonitorSpec(GROUP, KEY, interval_s=0.2, timeout_s=0.5, restarts=0, window_s=60.0))
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    assert c.emitted("bob", "group.restart.start") == []
    assert len(c.emitted("bob", "group.migrate")) == 1 and c.active(GROUP) == ["bobek"]


def test_a_hung_check_killed_at_its_timeout_counts_as_a_failure() -> None:
    c = booted()
    c.hung.add(("bob", KEY))
    c.run_for(0.5)
    assert c.emitted("bob", "monitor.failed") == []  # still within the 0.5 s timeout
    c.run_for(0.5)
    (failed,) = c.emitted("bob", "monitor.failed")
    assert failed.fields["result"] == "timeout" and "timed out after 0.5 s" in failed.fields["cause"]
    assert len(c.emitted("bob", "group.restart.done")) == 1


def test_with_the_peer_dead_exhausted_restarts_restart_here_instead_of_stopping_the_service() -> None:
    c = booted()
    c.power_off("bobek")
    c.run_for(1.0)
    for _ in range(3):
        c.broken.add(("bob", KEY))
        c.run_for(0.5)
    assert c.emitted("bob", "group.migrate") == []
    last = c.emitted("bob", "monitor.failed")[-1]
    assert last.fields["next"] == "restart"
    assert "restarts exhausted, but the peer bobek is dead: restarting here" in last.fields["cause"]
    assert c.active(GROUP) == ["bob"]


def test_a_result_from_before_a_restart_is_stale() -> None:
    c = booted()
    machine = c.nodes["bob"].machine
    assert machine is not None
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    assert len(c.emitted("bob", "monitor.failed")) == 1
    old_run = machine.monitors[(GROUP, KEY)].run - 1 if machine.monitors[(GROUP, KEY)].run else 1
    c.send_event("bob", MonitorFailed(GROUP, KEY, old_run, 3, "late answer"))
    c.send_event("bob", MonitorFailed(GROUP, KEY, 0, 3, "no run"))
    assert len(c.emitted("bob", "monitor.failed")) == 1


def test_a_restart_whose_start_fails_marks_the_group_failed_and_the_peer_takes_it() -> None:
    c = booted()
    c.broken.add(("bob", KEY))
    c.fail_start.add(("bob", GROUP))  # the restart's start fails (the daemon then stops the whole group)
    c.run_for(0.5)
    (done,) = c.emitted("bob", "group.restart.done")
    assert done.level == "ERROR" and done.fields["op"] == "start" and done.fields["ok"] is False
    assert c.emitted("bob", "group.failed")[-1].fields["op"] == "start"
    c.run_for(1.0)
    assert role(c, "bob") is Role.FAILED
    assert c.active(GROUP) == ["bobek"]
    assert c.dual_starts == []


def test_no_checks_once_the_group_left_this_node() -> None:
    c = booted()
    c.send_event("bob", MonitorOk(GROUP, KEY, 999))  # an answer to nothing: ignored
    c.broken.add(("bob", KEY))
    c.run_for(0.1)
    c.send_event("bob", StandbyCommanded("all"))
    c.run_for(1.0)
    assert c.active(GROUP) == ["bobek"]
    n = len(runs(c, "bob"))
    c.run_for(2.0)
    assert len(runs(c, "bob")) == n
    assert len(runs(c, "bobek")) >= 5


def test_a_reload_adds_changes_and_removes_monitors_keeping_failure_counts() -> None:
    def reload(*monitors: MonitorSpec) -> ConfigChanged:
        return ConfigChanged(
            TIMING.keepalive_s,
            TIMING.deadtime_s,
            TIMING.warntime_s,
            TIMING.initdead_s,
            ((GROUP, "bob"),),
            auto_failback=True,
            monitors=monitors,
        )

    c = Cluster(monitors=())
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(1.0)
    assert runs(c, "bob") == []
    c.send_event("bob", reload(SPEC))  # added to an active group: checked from now on
    c.run_for(1.0)
    assert len(runs(c, "bob")) >= 3
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    assert [e.fields["next"] for e in c.emitted("bob", "monitor.failed")] == ["restart"]
    more = MonitorSpec(GROUP, KEY, interval_s=0.2, timeout_s=0.5, restarts=5, window_s=60.0)
    c.send_event("bob", reload(more))  # restarts raised: the failure counted so far stays counted
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    second = c.emitted("bob", "monitor.failed")[-1]
    assert (second.fields["failures"], second.fields["next"]) == (2, "restart")
    assert c.active(GROUP) == ["bob"]
    c.send_event("bob", reload())  # removed: no more checks
    n = len(runs(c, "bob"))
    c.run_for(1.0)
    assert len(runs(c, "bob")) == n
    machine = c.nodes["bob"].machine
    assert machine is not None and machine.snapshot(c.now)["monitors"] == []


def test_a_group_handed_over_by_a_monitor_comes_back_when_the_peer_dies() -> None:
    c = booted(MonitorSpec(GROUP, KEY, interval_s=0.2, timeout_s=0.5, restarts=0, window_s=60.0))
    c.broken.add(("bob", KEY))
    c.run_for(1.0)
    assert c.active(GROUP) == ["bobek"] and role(c, "bob") is Role.FAILED
    c.power_off("bobek")
    c.run_for(1.0)  # deadtime 0.3 s
    (back,) = c.emitted("bob", "group.cleanup")
    assert back.level == "WARN" and "the peer bobek is dead: nobody else can run it" in back.fields["cause"]
    assert c.active(GROUP) == ["bob"]


def test_a_failed_start_is_not_taken_back_when_the_peer_dies() -> None:
    c = Cluster(fail_start={("bob", GROUP)}, monitors=(SPEC,))
    c.power_on("bob")
    c.power_on("bobek")
    c.run_for(1.0)
    assert c.active(GROUP) == ["bobek"] and role(c, "bob") is Role.FAILED
    c.power_off("bobek")
    c.run_for(1.0)
    assert c.emitted("bob", "group.cleanup") == [] and role(c, "bob") is Role.FAILED
