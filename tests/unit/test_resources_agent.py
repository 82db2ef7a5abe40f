import asyncio
import os
import stat
import time
from pathlib import Path

from hbd.resources.agent import RC_CANNOT_EXECUTE, RC_NOT_FOUND, run_agent, wait_drained

ENV = {"PATH": "/usr/bin:/bin"}


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _run(script, args=(), op="start", timeout_s=10.0, env=ENV, **kw):
    return asyncio.run(run_agent(script, args, op, timeout_s, env, **kw))


def test_argv_is_script_args_then_op_with_no_shell_splitting(tmp_path):
    out = tmp_path / "argv"
    script = _script(tmp_path, "r", f'for a in "$@"; do echo "[$a]" >> {out}; done\n')
    result = _run(script, ["/dev/sda1", "a b;echo pwned", "$HOME"], "status")
    assert result.rc == 0 and not result.timed_out
    assert out.read_text().splitlines() == ["[/dev/sda1]", "[a b;echo pwned]", "[$HOME]", "[status]"]


def test_exit_code_and_merged_output(tmp_path):
    script = _script(tmp_path, "r", "echo to-stdout; echo to-stderr >&2; exit 3\n")
    result = _run(script, op="status")
    assert result.rc == 3
    assert "to-stdout" in result.output and "to-stderr" in result.output


def test_env_is_exactly_what_was_given(tmp_path):
    script = _script(tmp_path, "r", 'echo "node=$HBD_NODE home=${HOME:-unset}"\n')
    result = _run(script, env={**ENV, "HBD_NODE": "alice"})
    assert result.output.strip() == "node=alice home=unset"


def test_output_is_a_bounded_tail(tmp_path):
    script = _script(tmp_path, "r", "i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done\n")
    result = _run(script, output_limit=200)
    assert len(result.output) <= 203
    assert result.output.startswith("...") and result.output.rstrip().endswith("line2999")


def test_timeout_kills_the_whole_process_group(tmp_path):
    pids = tmp_path / "pids"
    # The script starts a grandchild that ignores SIGTERM; both must be gone afterwards.
    script = _script(
        tmp_path,
        "r",
        f"(trap '' TERM; sleep 60) & echo $! >> {pids}\necho $$ >> {pids}\nsleep 60\n",
    )
    result = _run(script, timeout_s=0.5, kill_grace_s=0.3)
    assert result.timed_out and result.rc < 0
    assert "timed out" in result.output
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            # a zombie reparented to init counts as dead
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"process {pid} of the timed-out group survived")


def test_a_daemon_holding_stdout_does_not_block_the_result(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    script = _script(tmp_path, "r", f"sleep 30 & echo $! > {pidfile}\necho started\nexit 0\n")

    async def main():
        try:
            result = await run_agent(script, [], "start", 10.0, ENV)
            assert result.rc == 0 and "started" in result.output
            assert result.duration_s < 10  # not a speed assertion: a hang would hit the 30 s sleep
            os.kill(int(pidfile.read_text()), 0)  # the daemon was not killed on a normal exit
            assert not await wait_drained(0.01)  # its stdout is still being drained
        finally:
            try:
                os.kill(int(pidfile.read_text()), 9)
            except (ProcessLookupError, ValueError, FileNotFoundError):
                pass
        assert await wait_drained(10)

    asyncio.run(main())


def test_missing_and_non_executable_scripts_are_results_not_exceptions(tmp_path):
    assert _run(tmp_path / "nope").rc == RC_NOT_FOUND
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\nexit 0\n")
    plain.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.geteuid() != 0:
        assert _run(plain).rc == RC_CANNOT_EXECUTE
    else:  # root may read but still not exec a file without any x bit
        assert _run(plain).rc == RC_CANNOT_EXECUTE
