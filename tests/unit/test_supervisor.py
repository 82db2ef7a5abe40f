"""hbd.supervisor: the parent that restarts the daemon's worker, against real child processes.

The workers here are tiny Python programs standing in for `hbd run` (the real daemon under the supervisor
is tested in tests/integration/test_supervisor_netns.py).
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hbd import event_names
from hbd.supervisor import (
    EX_CONFIG,
    RESTARTED,
    Backoff,
    Supervisor,
    describe_exit,
    node_from_events,
)

ROOT = Path(__file__).resolve().parents[2]


def worker(tmp_path: Path, body: str) -> list[str]:
    """A worker program; it sees the supervisor's environment and counts its runs in tmp_path/runs."""
    script = tmp_path / "worker.py"
    script.write_text(
        "import os, signal, sys, time\n"
        f"runs = {str(tmp_path / 'runs')!r}\n"
        "line = os.environ['HBD_RESTARTS'] + ' ' + os.environ['HBD_LAST_EXIT']\n"
        "with open(runs, 'a') as f: f.write(line + '\\n')\n"
        "n = len(open(runs).read().splitlines())\n" + textwrap.dedent(body)
    )
    return [sys.executable, str(script)]


@pytest.fixture(params=["exec", "fork"])
def mode(request: pytest.FixtureRequest) -> str:
    """exec: the worker is `worker_argv` (posix_spawn); fork: a fork of the supervisor runs it (`hbd run`)."""
    return str(request.param)


def body(argv: list[str], mode: str) -> Callable[[], int] | None:
    """The fork_worker that runs the same program as argv inside the forked supervisor."""
    if mode == "exec":
        return None
    return lambda: runpy.run_path(argv[1], run_name="__main__") and 0


def runs(tmp_path: Path) -> list[str]:
    return (tmp_path / "runs").read_text().splitlines()


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_backoff_is_immediate_then_doubles_to_a_cap_and_resets_after_a_stable_run() -> None:
    b = Backoff((0.0, 1.0, 2.0, 4.0), stable_s=60.0)
    assert [b.next_delay(0.1) for _ in range(6)] == [0.0, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.next_delay(61.0) == 0.0
    assert b.next_delay(0.1) == 1.0


def test_exit_descriptions() -> None:
    assert describe_exit(signal.SIGKILL) == "killed by SIGKILL"  # a waitpid status for a signal death
    assert describe_exit(3 << 8) == "exit status 3"


def test_the_event_name_is_the_documented_one() -> None:
    assert RESTARTED == event_names.DAEMON_RESTARTED


def test_a_killed_worker_is_restarted_with_a_critical_event_and_the_count(tmp_path: Path, mode: str) -> None:
    argv = worker(tmp_path, "if n <= 2:\n    os.kill(os.getpid(), signal.SIGKILL)\nsys.exit(0)\n")
    log = tmp_path / "events.jsonl"
    sup = Supervisor(argv, log, "bob", Backoff((0.0, 0.05)), dict(os.environ), fork_worker=body(argv, mode))
    assert sup.run() == 0  # the third run exits cleanly: so does the supervisor
    assert runs(tmp_path) == ["0 ", "1 killed by SIGKILL", "2 killed by SIGKILL"]
    restarted = events(log)
    assert [e["restarts"] for e in restarted] == [1, 2]
    assert [e["delay_s"] for e in restarted] == [0.0, 0.05]
    assert all(e["event"] == "daemon.restarted" and e["level"] == "CRITICAL" for e in restarted)
    assert restarted[0]["signal"] == signal.SIGKILL and restarted[0]["node"] == "bob"
    assert (log.stat().st_mode & 0o777) == 0o600


def test_a_non_zero_exit_is_restarted_too(tmp_path: Path, mode: str) -> None:
    argv = worker(tmp_path, "sys.exit(3 if n == 1 else 0)\n")
    sup = Supervisor(argv, None, "bob", Backoff((0.0,)), dict(os.environ), fork_worker=body(argv, mode))
    assert sup.run() == 0
    assert runs(tmp_path) == ["0 ", "1 exit status 3"]


def test_a_worker_that_refuses_to_start_is_not_restarted(tmp_path: Path, mode: str) -> None:
    argv = worker(tmp_path, f"sys.exit({EX_CONFIG})\n")
    log = tmp_path / "events.jsonl"
    assert Supervisor(argv, log, "bob", Backoff(), dict(os.environ), fork_worker=body(argv, mode)).run() == 1
    assert runs(tmp_path) == ["0 "]
    assert not (tmp_path / "events.jsonl").exists()


def test_a_worker_that_dies_while_stopping_is_restarted_and_told_to_stop(tmp_path: Path, mode: str) -> None:
    # The first worker is asked to stop (SIGTERM to the parent, forwarded) and dies uncleanly meanwhile,
    # as a worker whose group could not be stopped might (OOM, kill -9): its group may still run here.
    code = (
        "if n == 1:\n"
        "    signal.signal(signal.SIGTERM, lambda *a: os.kill(os.getpid(), signal.SIGKILL))\n"
        "    os.kill(os.getppid(), signal.SIGTERM)\n"
        "    time.sleep(10)\n"
        "open(runs + '.stop', 'w').write(os.environ.get('HBD_STOP_PENDING', 'unset'))\n"
        "sys.exit(0)\n"
    )
    log = tmp_path / "events.jsonl"
    argv = worker(tmp_path, code)
    sup = Supervisor(argv, log, "bob", Backoff((0.0,)), dict(os.environ), fork_worker=body(argv, mode))
    assert sup.run() == 0
    assert runs(tmp_path) == ["0 ", "1 killed by SIGKILL"]
    assert (tmp_path / "runs.stop").read_text() == "1"  # told by its environment, not by a signal
    assert [e["restarts"] for e in events(log)] == [1]


def test_a_worker_killed_by_the_forwarded_sigterm_is_not_restarted(tmp_path: Path, mode: str) -> None:
    # No handler: SIGTERM kills it (a forked worker must not keep the parent's forwarding handler).
    argv = worker(tmp_path, "os.kill(os.getppid(), signal.SIGTERM)\ntime.sleep(10)\n")
    sup = Supervisor(argv, None, "bob", Backoff((0.0,)), dict(os.environ), fork_worker=body(argv, mode))
    assert sup.run() == 128 + signal.SIGTERM
    assert runs(tmp_path) == ["0 "]


def test_the_node_name_comes_from_the_workers_last_event(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"node": "bob", "event": "daemon.start"}\n{"node": "bobek", "event": "x"}\nnot json\n')
    assert node_from_events(log, "fallback") == "bobek"
    assert node_from_events(tmp_path / "missing", "fallback") == "fallback"


PARENT = """
import os, sys
from pathlib import Path
from hbd.supervisor import Backoff, Supervisor
argv = [sys.executable, "-c", sys.argv[1]]
fork = (lambda: exec(sys.argv[1], {}) or 0) if sys.argv[2] == "fork" else None
sys.exit(Supervisor(argv, None, "bob", Backoff((0.0,)), dict(os.environ), fork_worker=fork).run())
"""

# A worker like the daemon: asks to die with its parent, exits 0 on SIGTERM, writes its pid when ready.
CHILD = """
import os, signal, sys, time
from hbd.supervisor import die_with_supervisor, supervised_worker
s = supervised_worker()
assert s is not None and die_with_supervisor(s.supervisor_pid)
assert "HBD_SUPERVISOR_PID" not in os.environ  # not inherited by resource scripts
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
open(PIDFILE, "w").write(str(os.getpid()))
time.sleep(60)
"""


def start_parent(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[bytes], int]:
    pidfile = tmp_path / "worker.pid"
    child = CHILD.replace("PIDFILE", repr(str(pidfile)))
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child, mode], cwd=ROOT)
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.02)
    return parent, int(pidfile.read_text())


def gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return True  # exited; its reaper (the parent) is gone or busy
        time.sleep(0.02)
    return False


def test_sigterm_to_the_parent_stops_the_worker_and_then_the_parent(tmp_path: Path, mode: str) -> None:
    parent, pid = start_parent(tmp_path, mode)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(10) == 0
    assert gone(pid)


def test_sighup_to_the_parent_reaches_the_same_worker_and_restarts_nothing(tmp_path: Path, mode: str) -> None:
    # The worker reloads on SIGHUP (hbd.daemon): the supervisor forwards every SIGHUP to it, is not stopped
    # by one, and restarts nothing (a restart would drop the VIP).
    hups = tmp_path / "hups"
    child = CHILD.replace(
        "signal.signal(signal.SIGTERM",
        f"signal.signal(signal.SIGHUP, lambda *a: open({str(hups)!r}, 'a').write('hup\\n'))\n"
        "signal.signal(signal.SIGTERM",
    ).replace("PIDFILE", repr(str(tmp_path / "worker.pid")))
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child, mode], cwd=ROOT)
    deadline = time.monotonic() + 10
    while not (tmp_path / "worker.pid").exists() or not (tmp_path / "worker.pid").read_text():
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.02)
    pid = int((tmp_path / "worker.pid").read_text())
    for _ in range(2):
        parent.send_signal(signal.SIGHUP)
        time.sleep(0.3)
    assert hups.read_text().splitlines() == ["hup", "hup"]
    assert not gone(pid, within_s=0.2) and parent.poll() is None
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(10) == 0


def test_sigkill_of_the_parent_kills_the_worker(tmp_path: Path, mode: str) -> None:
    parent, pid = start_parent(tmp_path, mode)
    parent.kill()
    parent.wait(10)
    assert gone(pid), "the worker outlived its supervisor"


@pytest.mark.parametrize("module", ["hbd.supervisor", "hbd.cli"])
def test_the_parent_side_is_import_light(module: str) -> None:
    code = (
        f"import json, sys, {module}\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('hbd') or m == 'asyncio']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = set(json.loads(done.stdout))
    assert loaded <= {"hbd", "hbd.cli", "hbd.supervisor", "hbd.statefile"}, loaded
