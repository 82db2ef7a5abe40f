"""Start the Docker engine when it is not running, and stop exactly what we started.

The lab machines have Debian's docker.io installed but the engine is not running. `ensure_running()`
starts `dockerd` in the background (root only), waits for its API socket to answer, and writes a pid file
naming the process *we* started. `stop_if_ours()` reads that file back and stops only that pid, after
checking it still is a dockerd (a pid may be reused) -- an engine someone else started is never touched.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DOCKER_SOCKET = Path("/var/run/docker.sock")
# Our own marker, distinct from dockerd's /var/run/docker.pid: it means "the lab started this engine".
OUR_PID_FILE = Path("/var/run/hbl-dockerd.pid")
LOG_FILE = Path("/var/log/hbl-dockerd.log")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class DockerdError(RuntimeError):
    """The engine is not usable and we cannot make it so; the message says why and what to do."""


@dataclass(frozen=True)
class EngineState:
    """What `ensure_running` found or did: `started_by_us` tells the caller whether to stop it afterwards."""

    socket: Path
    started_by_us: bool
    pid: int | None


class _UnixHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP over the engine's unix socket: enough for /_ping without importing the SDK."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self._path))
        self.sock = sock


def engine_answers(sock_path: Path = DOCKER_SOCKET, timeout_s: float = 2.0) -> bool:
    """True when an engine answers `GET /_ping` with OK on `sock_path`."""
    if not sock_path.exists():
        return False
    conn = _UnixHTTPConnection(sock_path, timeout_s)
    try:
        conn.request("GET", "/_ping")
        response = conn.getresponse()
        return response.status == 200 and response.read().strip() == b"OK"
    except OSError:
        return False
    finally:
        conn.close()


def _is_dockerd(pid: int) -> bool:
    """True when `pid` is alive and its executable is a dockerd (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and os.path.basename(cmdline[0].decode(errors="replace")) == "dockerd"


def our_pid(pid_file: Path = OUR_PID_FILE) -> int | None:
    """The pid of the engine the lab started, if that engine is still running; else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_dockerd(pid) else None


def ensure_running(
    sock_path: Path = DOCKER_SOCKET, timeout_s: float = START_TIMEOUT_S, dockerd: str | None = None
) -> EngineState:
    """Make sure an engine answers on `sock_path`, starting `dockerd` ourselves if none does.

    Raises DockerdError with a hint when the engine cannot be started (not root, no binary, it died:
    the last lines of its log are in the message).
    """
    if engine_answers(sock_path):
        pid = our_pid()
        return EngineState(socket=sock_path, started_by_us=pid is not None, pid=pid)
    binary = dockerd or shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(binary).exists():
        raise DockerdError("dockerd not found; install it with: apt-get install docker.io")
    if os.geteuid() != 0:
        raise DockerdError(
            f"the Docker engine is not running on {sock_path} and only root can start it; "
            "run as root or start it with: sudo dockerd &"
        )
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    # --bridge=none: no default docker0 bridge with NAT to the outside; lab containers only join the
    # --internal networks the lab creates, and image builds run with networking off.
    argv = [binary, "--host", f"unix://{sock_path}", "--bridge=none"]
    with LOG_FILE.open("ab") as log:
        # Its own session: the engine outlives this Python process and ignores our terminal's signals.
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    OUR_PID_FILE.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            OUR_PID_FILE.unlink(missing_ok=True)
            raise DockerdError(
                f"dockerd exited with status {proc.returncode} while starting; last log lines "
                f"({LOG_FILE}):\n{_log_tail()}"
            )
        if engine_answers(sock_path):
            return EngineState(socket=sock_path, started_by_us=True, pid=proc.pid)
        time.sleep(0.2)
    raise DockerdError(
        f"dockerd (pid {proc.pid}) did not answer on {sock_path} within {timeout_s:.0f} s; "
        f"it is left running; see {LOG_FILE}:\n{_log_tail()}"
    )


def stop_if_ours(timeout_s: float = STOP_TIMEOUT_S, pid_file: Path = OUR_PID_FILE) -> bool:
    """Stop the engine the lab started (SIGTERM, then SIGKILL after `timeout_s`). True if one was stopped.

    A pid file naming a process that is not a dockerd (the engine died, the pid was reused) is removed
    and nothing is signalled.
    """
    pid = our_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _is_dockerd(pid):
        time.sleep(0.1)
    if _is_dockerd(pid):
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the engine is our child (it is when started from this process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _log_tail(lines: int = 15) -> str:
    try:
        return "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main_dockerd(action: str) -> int:
    """`hblab docker start|stop|status` (wired from lab/cli.py): prints one line, returns an exit code."""
    try:
        if action == "start":
            state = ensure_running()
            print(
                f"docker engine up on {state.socket}"
                + (f" (started by the lab, pid {state.pid})" if state.started_by_us else "")
            )
        elif action == "stop":
            print(
                "stopped the engine the lab started"
                if stop_if_ours()
                else "no engine started by the lab is running; nothing stopped"
            )
        elif action == "status":
            up = engine_answers()
            pid = our_pid()
            print(
                f"docker engine {'answers' if up else 'is not running'} on {DOCKER_SOCKET}"
                + (f"; started by the lab, pid {pid}" if pid else "")
            )
            return 0 if up else 1
        else:
            print(f"unknown action {action!r}: use start, stop or status")
            return 2
    except DockerdError as exc:
        print(f"error: {exc}")
        return 1
    return 0
