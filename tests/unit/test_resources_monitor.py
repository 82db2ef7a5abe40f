"""The resource side of monitoring: a restart from the failed resource, and one status check with its own
timeout (a hung script's process group is killed and the check counts as failed)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from hbd.config.model import Resource, ResourceGroup
from hbd.resources.group import GroupRunner
from hbd.resources.runner import RC_STOPPED, FakeRunner, ScriptRunner

A, B, C = Resource("a"), Resource("b", ("x",)), Resource("c")
GROUP = ResourceGroup("alice", (A, B, C))


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, event: str, level: str, **fields: Any) -> None:
        self.seen.append((event, level, fields))


def runner(fake: FakeRunner) -> tuple[GroupRunner, Events]:
    events = Events()
    return GroupRunner(fake, "alice", events, stop_retry_delay_s=0), events


def test_restart_stops_right_to_left_down_to_the_failed_one_and_starts_from_it() -> None:
    fake = FakeRunner()
    fake.preset(["a", "b::x", "c"])
    groups, _ = runner(fake)
    result = asyncio.run(groups.restart(GROUP, "b::x", "monitor"))
    assert result.ok and result.action == "restart"
    assert fake.ops() == [("c", "stop"), ("b::x", "stop"), ("b::x", "start"), ("c", "start")]
    assert fake.running == {"a", "b::x", "c"}  # `a`, before the failed one, was never touched


def test_restart_whose_start_fails_stops_the_whole_group() -> None:
    fake = FakeRunner()
    fake.preset(["a", "b::x", "c"])
    fake.script("b::x", "start", 1)
    groups, _ = runner(fake)
    result = asyncio.run(groups.restart(GROUP, "b::x", "monitor"))
    assert (result.ok, result.failed_op, result.failed_resource, result.rolled_back) == (
        False,
        "start",
        "b::x",
        True,
    )
    assert fake.running == set()  # a failed group runs nothing here: the peer may take it
    assert fake.ops("stop")[-3:] == [("c", "stop"), ("b::x", "stop"), ("a", "stop")]


def test_restart_whose_stop_fails_reports_the_stop() -> None:
    fake = FakeRunner()
    fake.preset(["a", "b::x", "c"])
    fake.fail_always("c", "stop")
    groups, _ = runner(fake)
    result = asyncio.run(groups.restart(GROUP, "b::x", "monitor"))
    assert (result.ok, result.failed_op, result.failed_resource) == (False, "stop", "c")
    assert fake.ops("start") == []


def test_monitor_logs_only_failures() -> None:
    fake = FakeRunner()
    fake.preset(["b::x"])
    groups, events = runner(fake)
    ok = asyncio.run(groups.monitor(GROUP, "b::x", 1.0, "monitor"))
    assert ok.running and events.seen == []
    fake.running.discard("b::x")
    stopped = asyncio.run(groups.monitor(GROUP, "b::x", 1.0, "monitor"))
    assert stopped.rc == RC_STOPPED and not stopped.running
    ((name, level, fields),) = events.seen
    assert (name, level, fields["resource"], fields["rc"]) == ("resource.op", "WARN", "b::x", RC_STOPPED)


def test_a_hung_status_script_is_killed_at_the_monitor_timeout(tmp_path: Path) -> None:
    script = tmp_path / "sleepy"
    pidfile = tmp_path / "child.pid"
    # the status forks a child that would outlive it: the whole process group must die
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    scripts = ScriptRunner([tmp_path], timeout_s=60, base_env={"PATH": os.environ["PATH"]}, kill_grace_s=0.5)
    groups = GroupRunner(scripts, "alice", Events())
    group = ResourceGroup("alice", (Resource("sleepy"),))
    began = time.monotonic()
    result = asyncio.run(groups.monitor(group, "sleepy", 0.3, "monitor"))
    took = time.monotonic() - began
    assert result.timed_out and not result.ok and not result.running
    assert 0.3 <= took < 2.0, took  # the monitor's 0.3 s, not the runner's 60 s
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.02)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z", "the status's child survived"
