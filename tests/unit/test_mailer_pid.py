"""lab/node/service/mailer judges "running" by this node's processes, not by the pid file on the shared disk.

Postfix's pid/master.pid lives in the queue, on the shared disk: after a power-off it names the dead node's
master, whose number may be any live process on the survivor (in the mail + web pair it was hbd's own:
`postfix stop` at failback killed it). Fake `postconf` and `postfix` on PATH stand in for Debian's."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.paths import SERVICE_DIR


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """(the mailer script, the queue's pid file, the fake postfix's call log)"""
    resource = tmp_path / "ha.d" / "resource.d"
    resource.mkdir(parents=True)
    for name in ("mailer", "hblab-mail.sh"):
        shutil.copy2(SERVICE_DIR / name, resource / name)
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "ha.d" / "hblab-service.conf").write_text(f"NODE=bob\nSTATE_DIR={state}\n")
    queue = tmp_path / "queue"
    (queue / "pid").mkdir(parents=True)
    calls = tmp_path / "postfix.calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {
        "postconf": f'#!/bin/sh\n[ "$1" = -h ] && [ "$2" = queue_directory ] && echo {queue}\n',
        # Like postfix-script: status and stop trust the pid file.
        "postfix": f'#!/bin/sh\necho "$1" >>{calls}\nkill -0 "$(cat {queue}/pid/master.pid)" 2>/dev/null\n',
    }
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    yield resource / "mailer", queue / "pid" / "master.pid", calls


def _run(mailer: Path, action: str) -> int:
    env = {**os.environ, "PATH": f"{mailer.parents[2] / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run([str(mailer), action], env=env, capture_output=True, timeout=20).returncode


def _process(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """A live process whose command name is `name` (a copy of sleep)."""
    exe = tmp_path / name
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", exe)
    return subprocess.Popen([str(exe), "30"])


def test_a_dead_nodes_pid_naming_another_process_here_is_not_postfix(
    node: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    mailer, pid_file, calls = node
    bystander = _process(tmp_path, "hbd")
    try:
        pid_file.write_text(f"{bystander.pid:>11}\n")
        assert _run(mailer, "status") == 3
        assert _run(mailer, "stop") == 0
        assert not calls.exists() or "stop" not in calls.read_text().split()
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_this_nodes_master_is_running_and_gets_stopped(node: tuple[Path, Path, Path], tmp_path: Path) -> None:
    mailer, pid_file, calls = node
    master = _process(tmp_path, "master")
    try:
        pid_file.write_text(f"{master.pid:>11}\n")
        assert _run(mailer, "status") == 0
        assert _run(mailer, "stop") == 0
        assert "stop" in calls.read_text().split()
    finally:
        master.kill()
        master.wait()
