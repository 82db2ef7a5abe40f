"""The lab service's `status` tells the truth (hbd's monitor acts on it): running while its responder
answers, stopped (LSB 3) once the responder was killed, even though the pidfile is still there."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.paths import SERVICE_SCRIPT


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    scripts = tmp_path / "ha.d" / "resource.d"
    scripts.mkdir(parents=True)
    script = scripts / "hblab-service"
    shutil.copyfile(SERVICE_SCRIPT, script)
    script.chmod(0o755)
    state = tmp_path / "state"
    (tmp_path / "ha.d" / "hblab-service.conf").write_text(
        f"NODE=bob\nSTATE_DIR={state}\nPYTHON={sys.executable}\n"
    )
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield script, port
    subprocess.run([str(script), str(port), "www", "stop"], capture_output=True, check=False)


def run(script: Path, port: int, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), str(port), "www", action], capture_output=True, text=True, timeout=20)


def test_status_follows_the_responder(service: tuple[Path, int]) -> None:
    script, port = service
    assert run(script, port, "status").returncode == 3
    assert run(script, port, "start").returncode == 0
    status = run(script, port, "status")
    assert (status.returncode, status.stdout.strip()) == (0, f"hblab-service {port}: running")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        assert conn.recv(100) == b"bob www\n"
    pidfile = script.parent.parent.parent / "state" / f"hblab-service-{port}.pid"
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGKILL)  # the lab's service_kill
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and run(script, port, "status").returncode == 0:
        time.sleep(0.05)
    status = run(script, port, "status")
    assert pidfile.exists()  # the stale pidfile does not fool it
    assert (status.returncode, status.stdout.strip()) == (3, f"hblab-service {port}: not running")
    assert run(script, port, "start").returncode == 0 and run(script, port, "status").returncode == 0
    assert run(script, port, "stop").returncode == 0 and run(script, port, "status").returncode == 3
