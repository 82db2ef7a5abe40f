"""Issue 11 bugs 4 and 8: a fence agent that cannot be run is a failed fence (never an exception that kills
the fence task and leaves fencing stuck in FENCING), and agents are found by name in fixed directories only.

Each failure mode runs against a real file: no `#!` (ENOEXEC), no execute bit (EACCES), a noexec mount,
an agent whose process group is gone when the timeout kills it, a name with `/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hbd.config.model import StonithHost, Where
from hbd.fencing import agent as agent_mod
from hbd.fencing.agent import RC_NOT_RUN, RC_TIMED_OUT, AgentNameError, agent_dirs, find_agent, run_agent
from hbd.fencing.fencer import Fencer, FenceResult

GOOD = "#!/bin/sh\ncat >/dev/null\ncase \"$0\" in *) ;; esac\nexit 0\n"


def _write(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _fence(tmp_path: Path, name: str, dirs: list[Path] | None = None) -> FenceResult:
    device = StonithHost("*", name, (), where=Where("/etc/ha.d/ha.cf", 12))
    fencer = Fencer("bob", [device], lambda *a, **k: None, dirs if dirs is not None else [tmp_path])
    return asyncio.run(fencer.fence("bobek", "test"))


def test_a_script_without_shebang_is_a_failed_fence(tmp_path: Path) -> None:
    _write(tmp_path / "fence_noshebang", "exit 0\n")  # the shell would run it; execve says ENOEXEC
    result = _fence(tmp_path, "fence_noshebang")
    assert not result.ok
    assert "Exec format error" in result.detail and "errno 8" in result.detail


def test_an_agent_without_execute_permission_cannot_run(tmp_path: Path) -> None:
    path = _write(tmp_path / "fence_nox", GOOD, mode=0o644)
    run = asyncio.run(run_agent(path, {"action": "off"}, 5.0))  # found earlier, chmod-ed since
    assert run.rc == RC_NOT_RUN and "Permission denied" in run.output
    result = _fence(tmp_path, "fence_nox")  # the lookup skips it: not an agent at all
    assert not result.ok and "not found" in result.detail


def test_an_agent_removed_after_lookup_is_a_failed_fence(tmp_path: Path) -> None:
    run = asyncio.run(run_agent(tmp_path / "fence_gone", {"action": "off"}, 5.0))
    assert run.rc == RC_NOT_RUN and "No such file" in run.output


@pytest.fixture
def noexec_dir(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a noexec tmpfs needs root")
    where = tmp_path / "noexec"
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs", str(where)]
    mounted = subprocess.run(mount, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_an_agent_on_a_noexec_mount_is_a_failed_fence(noexec_dir: Path) -> None:
    path = _write(noexec_dir / "fence_noexec", GOOD)
    run = asyncio.run(run_agent(path, {"action": "off"}, 5.0))
    assert run.rc == RC_NOT_RUN and "Permission denied" in run.output
    result = _fence(noexec_dir, "fence_noexec")
    assert not result.ok


def test_a_timed_out_agent_whose_group_is_gone_is_a_failed_fence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent leaves a child in a new session holding its stdout, then exits: the output never ends,
    # the fence times out, and by then the agent's process group no longer exists (killpg: ESRCH).
    pidfile = tmp_path / "orphan.pid"
    _write(
        tmp_path / "fence_orphan",
        f"#!/bin/sh\ncat >/dev/null\nsetsid sh -c 'echo $$ > {pidfile}; exec sleep 30' &\nexit 0\n",
    )
    monkeypatch.setattr("hbd.fencing.fencer.FENCE_TIMEOUT_S", 0.5)
    try:
        result = _fence(tmp_path, "fence_orphan")
        assert not result.ok and "timed out" in result.detail
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_killpg_of_a_vanished_group_is_not_an_exception(tmp_path: Path) -> None:
    path = _write(tmp_path / "fence_slow", "#!/bin/sh\nexec sleep 30\n")
    run = asyncio.run(run_agent(path, {}, 0.2))
    assert run.rc == RC_TIMED_OUT
    agent_mod._kill_group(2**22 + 12345)  # no such group: ignored


def test_any_unexpected_error_is_a_failed_fence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "fence_ok", GOOD)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("surprise")

    monkeypatch.setattr("hbd.fencing.fencer.run_agent", broken)
    result = _fence(tmp_path, "fence_ok")
    assert not result.ok and "RuntimeError: surprise" in result.detail


@pytest.mark.parametrize("name", ["bin/fence_x", "../fence_x", "/usr/sbin/fence_x", "external/ipmi", ".."])
def test_an_agent_name_with_a_slash_is_refused_with_file_and_line(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file at that path relative to the working directory must not be run.
    (tmp_path / "bin").mkdir(exist_ok=True)
    _write(tmp_path / "bin" / "fence_x", GOOD)
    monkeypatch.chdir(tmp_path)
    result = _fence(tmp_path, name)
    assert not result.ok
    assert f"{name}: /etc/ha.d/ha.cf:12: fence agent" in result.detail and "not a path" in result.detail
    with pytest.raises(AgentNameError):
        find_agent(name, [tmp_path])


def test_agents_are_searched_in_fence_d_then_system_dirs_then_absolute_path_entries(tmp_path: Path) -> None:
    dirs = agent_dirs(tmp_path, path_env=f"/opt/fence:.::bin:{tmp_path}/fence.d:/usr/sbin")
    assert dirs[:4] == (tmp_path / "fence.d", Path("/usr/sbin"), Path("/sbin"), Path("/usr/local/sbin"))
    assert dirs[4:] == (Path("/opt/fence"),)  # relative entries dropped, duplicates once


def test_fence_d_comes_first(tmp_path: Path) -> None:
    fence_d = tmp_path / "fence.d"
    fence_d.mkdir()
    agent = _write(fence_d / "fence_ok", GOOD)
    assert find_agent("fence_ok", agent_dirs(tmp_path, path_env="")) == agent
    assert stat.S_ISREG(agent.stat().st_mode)
