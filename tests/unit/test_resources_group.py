import asyncio
from pathlib import Path

from hbd.config.model import Resource, ResourceGroup
from hbd.resources.group import GroupRunner
from hbd.resources.runner import FakeRunner, ScriptRunner

A, B, C = Resource("a"), Resource("b", ("x",)), Resource("c")
GROUP = ResourceGroup("alice", (A, B, C))


class Events:
    def __init__(self):
        self.seen = []

    def __call__(self, event, level, **fields):
        self.seen.append((event, level, fields))

    def names(self):
        return [e for e, _, _ in self.seen]


def _groups(runner, **kw):
    events = Events()
    return GroupRunner(runner, "alice", events, stop_retry_delay_s=0, **kw), events


def test_start_runs_status_then_start_left_to_right():
    fake = FakeRunner()
    groups, events = _groups(fake)
    result = asyncio.run(groups.start(GROUP, "boot"))
    assert result.ok and result.failed_resource is None
    assert fake.ops() == [("a", "status"), ("a", "start"), ("b::x", "status"), ("b::x", "start"),
                          ("c", "status"), ("c", "start")]
    assert fake.running == {"a", "b::x", "c"}
    started = [f for e, lvl, f in events.seen if e == "resource.op" and f["op"] == "start"]
    assert [f["resource"] for f in started] == ["a", "b::x", "c"]
    assert all(f["group"] == "a" and f["cause"] == "boot" and f["ok"] for f in started)


def test_running_resource_is_skipped():
    fake = FakeRunner()
    fake.preset(["b::x"])
    groups, _ = _groups(fake)
    assert asyncio.run(groups.start(GROUP, "boot")).ok
    assert fake.ops("start") == [("a", "start"), ("c", "start")]


def test_failed_start_rolls_back_right_to_left_and_names_the_resource():
    fake = FakeRunner()
    fake.preset(["a"])  # found running: still rolled back, it belongs to the group
    fake.script("b::x", "start", 1)
    groups, events = _groups(fake)
    result = asyncio.run(groups.start(GROUP, "peer dead"))
    assert not result.ok and result.failed_resource == "b::x" and result.failed_op == "start"
    assert result.rolled_back and result.rollback_ok
    assert fake.ops("stop") == [("b::x", "stop"), ("a", "stop")]
    assert ("c", "status") not in fake.ops()  # never touched
    assert fake.running == set()
    rollback_causes = {reason for spec, op, reason in fake.calls if op == "stop"}
    assert rollback_causes == {"rollback: b::x failed to start (peer dead)"}
    failed = [(lvl, f) for e, lvl, f in events.seen if e == "resource.op" and not f["ok"]]
    assert failed[0][0] == "WARN" and failed[0][1]["resource"] == "b::x"


def test_rollback_failure_is_reported():
    fake = FakeRunner()
    fake.script("c", "start", 1)
    fake.fail_always("a", "stop")
    fake.script("a", "status", 0)  # the status after start
    fake.script("a", "status", 0)  # ...still running after the failed stops
    groups, _ = _groups(fake, stop_attempts=2)
    result = asyncio.run(groups.start(GROUP, "boot"))
    assert result.failed_resource == "c" and result.rolled_back and not result.rollback_ok


def test_stop_right_to_left():
    fake = FakeRunner()
    fake.preset(["a", "b::x", "c"])
    groups, _ = _groups(fake)
    result = asyncio.run(groups.stop(GROUP, "standby"))
    assert result.ok
    assert fake.ops() == [("c", "stop"), ("b::x", "stop"), ("a", "stop")]


def test_failing_stop_is_retried_bounded_then_reported_while_others_still_stop():
    fake = FakeRunner()
    fake.preset(["a", "b::x", "c"])
    fake.fail_always("b::x", "stop")
    groups, _ = _groups(fake, stop_attempts=3)
    result = asyncio.run(groups.stop(GROUP, "standby"))
    assert not result.ok and result.failed_resource == "b::x" and "3 times" in result.detail
    assert fake.ops() == [("c", "stop"), ("b::x", "stop"), ("b::x", "stop"), ("b::x", "stop"),
                          ("b::x", "status"), ("a", "stop")]


def test_stop_that_fails_once_succeeds_on_retry():
    fake = FakeRunner()
    fake.script("c", "stop", 1)
    groups, _ = _groups(fake)
    assert asyncio.run(groups.stop(GROUP, "x")).ok
    assert fake.ops("stop")[:2] == [("c", "stop"), ("c", "stop")]


def test_stop_failing_but_status_stopped_is_not_lsb_warning_not_failure():
    fake = FakeRunner()
    fake.fail_always("a", "stop")
    groups, events = _groups(fake, stop_attempts=2)
    result = asyncio.run(groups.stop(GROUP, "x"))
    assert result.ok
    assert "resource.not_lsb" in events.names()


def test_status_summary_like_statgroup():
    fake = FakeRunner()
    groups, _ = _groups(fake)
    assert asyncio.run(groups.status(GROUP)).summary == "NONE"
    fake.preset(["a"])
    assert asyncio.run(groups.status(GROUP)).summary == "SOME"
    fake.preset(["b::x", "c"])
    assert asyncio.run(groups.status(GROUP)).summary == "ALL"
    fake.script("c", "status", 1)
    st = asyncio.run(groups.status(GROUP))
    assert st.summary == "SOME" and st.unknown == ("c",)


def test_operations_on_one_group_are_serialised():
    async def main():
        fake = FakeRunner(delay_s=0.01)
        groups, _ = _groups(fake)
        await asyncio.gather(groups.start(GROUP, "one"), groups.stop(GROUP, "two"))
        reasons = [reason for _, _, reason in fake.calls]
        assert reasons == ["one"] * 6 + ["two"] * 3

    asyncio.run(main())


# -- with real scripts ---------------------------------------------------------------------------------


def _lsb(dirpath: Path, name: str, journal: Path, start_rc: int = 0, body: str = "") -> None:
    """A small LSB-ish script keeping its state in a file and writing each call to a journal."""
    state = dirpath / f"{name}.state"
    script = dirpath / name
    script.write_text(
        f"""#!/bin/sh
op="$(eval echo \\${{$#}})"
echo "{name} $* node=$HBD_NODE group=$HBD_GROUP reason=$HBD_REASON" >> {journal}
{body}
case "$op" in
  start) [ {start_rc} -eq 0 ] && touch {state}; exit {start_rc} ;;
  stop) rm -f {state}; exit 0 ;;
  status) if [ -e {state} ]; then echo running; exit 0; else echo stopped; exit 3; fi ;;
esac
exit 2
"""
    )
    script.chmod(0o755)


def test_real_scripts_start_with_args_rollback_on_failure(tmp_path):
    rd = tmp_path / "resource.d"
    rd.mkdir()
    journal = tmp_path / "journal"
    _lsb(rd, "fs", journal)
    _lsb(rd, "web", journal, start_rc=1)
    group = ResourceGroup("alice", (Resource("fs", ("/dev/sda1", "/data")), Resource("web")))
    runner = ScriptRunner([rd, tmp_path / "init.d"], timeout_s=10, base_env={"PATH": "/usr/bin:/bin"})
    groups, _ = _groups(runner)
    result = asyncio.run(groups.start(group, "takeover"))
    assert not result.ok and result.failed_resource == "web" and result.rolled_back
    lines = journal.read_text().splitlines()
    ops = [line.split(" node=")[0] for line in lines]
    assert ops == [
        "fs /dev/sda1 /data status",
        "fs /dev/sda1 /data start",
        "web status",
        "web start",
        "web stop",
        "fs /dev/sda1 /data stop",
    ]
    assert "node=alice group=fs::/dev/sda1::/data reason=takeover" in lines[0]
    assert not (rd / "fs.state").exists()


def test_real_script_timeout_fails_the_start(tmp_path):
    rd = tmp_path / "resource.d"
    rd.mkdir()
    journal = tmp_path / "journal"
    _lsb(rd, "slow", journal, body='[ "$op" = start ] && sleep 30')
    runner = ScriptRunner([rd], timeout_s=0.3, kill_grace_s=0.2, base_env={"PATH": "/usr/bin:/bin"})
    groups, _ = _groups(runner)
    result = asyncio.run(groups.start(ResourceGroup("alice", (Resource("slow"),)), "boot"))
    assert not result.ok and result.failed_resource == "slow"
    start_step = next(s for s in result.steps if s.op == "start")
    assert start_step.timed_out and "timed out" in start_step.detail


def test_missing_script_fails_clearly(tmp_path):
    runner = ScriptRunner([tmp_path], timeout_s=5)
    groups, _ = _groups(runner)
    result = asyncio.run(groups.start(ResourceGroup("alice", (Resource("ghost"),)), "boot"))
    assert not result.ok and "cannot locate resource script 'ghost'" in result.detail
