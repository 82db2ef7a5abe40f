import asyncio
import os

import pytest

from hbd.config.model import AuthConfig, AuthKey, ClusterConfig, Config, Resource
from hbd.resources.runner import FakeRunner, RunContext, ScriptRunner, status_rc


def _ctx():
    return RunContext("alice", "10.0.0.5", "test")


def test_status_output_saying_not_running_wins_over_rc_zero():
    assert status_rc(0, "httpd is not running") == 3
    assert status_rc(0, "Running OK") == 0
    assert status_rc(3, "stopped") == 3
    assert status_rc(1, "oops") == 1


def test_builtin_ip_bad_arguments_fail_without_touching_the_network():
    runner = ScriptRunner([], timeout_s=1)
    result = asyncio.run(runner.run(Resource("IPaddr2", ("10.0.0.5/99",)), "start", _ctx()))
    assert not result.ok and result.rc == 2 and "prefix '99'" in result.detail


def test_builtin_off_runs_the_ipaddr_script(tmp_path):
    script = tmp_path / "IPaddr"
    script.write_text('#!/bin/sh\necho "script $*"\n')
    script.chmod(0o755)
    runner = ScriptRunner([tmp_path], timeout_s=5, builtin_ipaddr=False)
    result = asyncio.run(runner.run(Resource("IPaddr", ("10.0.0.5/24",)), "start", _ctx()))
    assert result.ok and result.detail == "script 10.0.0.5/24 start"


def test_script_env_carries_node_group_reason_and_keeps_base_env(tmp_path):
    script = tmp_path / "envdump"
    script.write_text('#!/bin/sh\necho "$HBD_NODE|$HBD_GROUP|$HBD_REASON|$KEEP"\n')
    script.chmod(0o755)
    runner = ScriptRunner([tmp_path], base_env={"PATH": os.environ["PATH"], "KEEP": "yes"})
    result = asyncio.run(runner.run(Resource("envdump"), "start", _ctx()))
    assert result.detail == "alice|10.0.0.5|test|yes"


def test_announce_is_a_no_op_for_scripts(tmp_path):
    runner = ScriptRunner([tmp_path])
    result = asyncio.run(runner.run(Resource("httpd"), "announce", _ctx()))
    assert result.ok and result.detail == "nothing to announce"


def test_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="unknown resource operation 'restart'"):
        asyncio.run(FakeRunner().run(Resource("x"), "restart", _ctx()))


def test_from_config_uses_heartbeat_dirs_and_hbd_directives():
    cluster = ClusterConfig(nodes=("alice", "bob"), media=(), resource_timeout_s=7.0, builtin_ipaddr=False,
                            garp_count=3, garp_interval_s=0.1)
    config = Config("/etc/ha.d", "alice", cluster, (), AuthConfig(1, (AuthKey(1, "sha256", b"k"),)))
    runner = ScriptRunner.from_config(config)
    assert [str(d) for d in runner.dirs] == ["/etc/ha.d/resource.d", "/etc/init.d"]
    assert runner.timeout_s == 7.0 and not runner.builtin_ipaddr
    assert (runner.ipaddr.garp_count, runner.ipaddr.garp_interval_s) == (3, 0.1)


def test_fake_runner_scripted_outcomes_then_state():
    fake = FakeRunner()
    fake.script("x", "start", 1, 0)
    r1 = asyncio.run(fake.run(Resource("x"), "start", _ctx()))
    r2 = asyncio.run(fake.run(Resource("x"), "status", _ctx()))
    r3 = asyncio.run(fake.run(Resource("x"), "start", _ctx()))
    r4 = asyncio.run(fake.run(Resource("x"), "status", _ctx()))
    assert (r1.ok, r2.stopped, r3.ok, r4.running) == (False, True, True, True)
