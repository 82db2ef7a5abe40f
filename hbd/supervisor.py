"""`hbd run`'s parent: a small process that restarts the daemon (the worker) when it dies.

Why: when the process sending this node's heartbeats dies (SIGKILL, the OOM killer, a crash), the peer takes
over while this node keeps the VIP and its services: two owners until somebody restarts hbd. keepalived
answers this with a parent that restarts its worker; so does hbd. The new worker reconciles: it releases
what its predecessor left running before it boots (hbd.daemon), and the peer sees a new generation.

The parent stays dumb so that it does not die itself: no event loop, the standard library only (plus
hbd.statefile, itself stdlib-only), never hbd.daemon. It

* starts the worker with HBD_SUPERVISOR_PID, HBD_RESTARTS and HBD_LAST_EXIT in its environment (shown by
  `hbctl status`): a fork of this process that carries on as `hbd run` with the same arguments (`hbd run`
  passes `fork_worker`), so the worker starts without a second interpreter start-up and without importing
  again what the parent already has (the command line, logging, pathlib: ~45 ms of CPU at every boot on a
  2-core node; the daemon's own modules are still imported fresh from disk by each worker). Without
  `fork_worker` it runs `worker_argv` (the tests' stand-in workers);
* restarts it at once when it dies abnormally (a signal, a non-zero exit), with a crash-loop backoff
  (0, 1, 2, 4, ... 30 s, back to 0 after the worker ran STABLE_S), appending a CRITICAL `daemon.restarted`
  to events.jsonl each time;
* forwards SIGTERM, SIGINT and SIGHUP to the worker, and exits with the worker's status once asked to stop,
  or when the worker exits 0 (a clean stop, e.g. SIGTERM sent to the worker itself). A worker that dies
  otherwise while stopping (killed, a crash) is restarted all the same, with HBD_STOP_PENDING=1 instead of
  a signal that could kill it before its handler exists: it may have died holding a group whose stop
  failed, and a node that stops heartbeating lets the peer start that group while it still runs here.
  The new worker boots holding what it cannot stop, then carries on with the shutdown; SIGHUP is a reload:
  the worker re-reads its files and applies them live (hbd.daemon.Daemon.reload); restarting it instead
  would drop the VIP for as long as a restart takes;
* does not restart a worker that refused to start (exit EX_CONFIG: a bad config or an unsafe state dir):
  restarting would only repeat the refusal.

If the parent itself is killed (SIGKILL included), the worker dies with it: the worker asks the kernel for
SIGKILL on its parent's death (PR_SET_PDEATHSIG, `die_with_supervisor`), so the lab's "kill the daemon's
pid" and systemd's stop still end everything.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from hbd.statefile import open_private

ENV_PID = "HBD_SUPERVISOR_PID"
ENV_RESTARTS = "HBD_RESTARTS"
ENV_LAST_EXIT = "HBD_LAST_EXIT"
ENV_STOP = "HBD_STOP_PENDING"  # the worker is a restart during a stop: it boots, then shuts down at once
EX_CONFIG = 78  # sysexits.h: the worker refused to start; restarting would not help
BACKOFF_S: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_S = 60.0  # a worker that ran this long resets the backoff: the next crash restarts at once
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
RESTARTED = "daemon.restarted"  # hbd.event_names.DAEMON_RESTARTED (not imported: the parent stays light)


def describe_exit(status: int) -> str:
    """`killed by SIGKILL` / `exit status 3`, from a waitpid status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"killed by {name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class Backoff:
    """Delays before restarts: immediate, then doubling up to a cap; reset after a stable run."""

    def __init__(self, delays: Sequence[float] = BACKOFF_S, stable_s: float = STABLE_S) -> None:
        self.delays = tuple(delays)
        self.stable_s = stable_s
        self.crashes = 0  # consecutive quick crashes

    def next_delay(self, ran_s: float) -> float:
        if ran_s >= self.stable_s:
            self.crashes = 0
        delay = self.delays[min(self.crashes, len(self.delays) - 1)]
        self.crashes += 1
        return delay


@dataclass
class Supervisor:
    worker_argv: list[str]
    events_path: Path | None  # events.jsonl, where daemon.restarted goes
    node: str | None  # --node; else the name the worker wrote in its events, else uname
    backoff: Backoff
    env: dict[str, str]
    now: Callable[[], float] = time.monotonic
    restarts: int = 0
    last_exit: str = ""
    worker_pid: int | None = None
    stop_requested: bool = False
    # The worker's body, run in a fork of this process (its return value is the worker's exit status);
    # None: posix_spawn `worker_argv`.
    fork_worker: Callable[[], int] | None = None

    def run(self) -> int:
        for sig in FORWARDED:
            signal.signal(sig, self._forward)
        while True:
            started = self.now()
            stopping = self.stop_requested  # told through its environment: no signal before its handler
            self.worker_pid = self._spawn(stop_pending=stopping)
            if self.stop_requested and not stopping:  # a SIGTERM that came while spawning was not forwarded
                self._forward(signal.SIGTERM, None)
            status = self._wait(self.worker_pid)
            self.worker_pid = None
            code = os.waitstatus_to_exitcode(status)
            if code == 0 or (self.stop_requested and -code in (signal.SIGTERM, signal.SIGINT)):
                return code if code >= 0 else 128 - code
            if code == EX_CONFIG:
                return 1  # the worker said why on stderr; restarting would only repeat the refusal
            self.last_exit = describe_exit(status)
            # A SIGHUP that reached the worker before it installed its handler killed it: it restarts at
            # once with the files it was asked to read, which is what the reload wanted.
            early_hup = code == -signal.SIGHUP
            delay = 0.0 if early_hup else self.backoff.next_delay(self.now() - started)
            self.restarts += 1
            self._record_restart(status, delay, self.now() - started, early_hup)
            if self.stop_requested:
                time.sleep(delay)  # restarting to finish a stop: the crash-loop backoff still applies
            else:
                # A stop request cuts the wait short: the next worker starts at once and is told to stop,
                # so that it releases what the dead one left running before the supervisor exits.
                self._sleep(delay)

    def _spawn(self, stop_pending: bool = False) -> int:
        env = dict(self.env)
        env[ENV_PID] = str(os.getpid())
        env[ENV_RESTARTS] = str(self.restarts)
        env[ENV_LAST_EXIT] = self.last_exit
        env.pop(ENV_STOP, None)
        if stop_pending:
            env[ENV_STOP] = "1"
        if env.get("WATCHDOG_PID") == str(os.getpid()):
            # systemd's watchdog is meant for this service's main pid; the worker's loop is what must ping.
            del env["WATCHDOG_PID"]
        if self.fork_worker is None:
            return os.posix_spawn(self.worker_argv[0], self.worker_argv, env)
        # Signals stay blocked across the fork until the child has dropped our handlers: a SIGTERM for the
        # new worker must not run the parent's forwarding code in it (exec resets them the same way).
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
        pid = os.fork()
        if pid == 0:
            _become_worker(self.fork_worker, env, old_mask)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return pid

    def _wait(self, pid: int) -> int:
        try:
            _, status = os.waitpid(pid, 0)  # retried after our signal handlers run (PEP 475)
        except ChildProcessError:
            return 0
        return status

    def _forward(self, sig: int, _frame: object) -> None:
        if sig != signal.SIGHUP:  # SIGHUP is the worker's to handle (a reload), not a stop
            self.stop_requested = True
        if self.worker_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.worker_pid, sig)

    def _sleep(self, delay_s: float) -> bool:
        """Sleep, waking for a stop request. False when asked to stop."""
        end = self.now() + delay_s
        while not self.stop_requested and self.now() < end:
            time.sleep(min(0.1, max(0.0, end - self.now())))
        return not self.stop_requested

    def _node(self) -> str:
        if self.node:
            return self.node
        fallback = os.uname().nodename.split(".")[0].lower()
        return node_from_events(self.events_path, fallback) if self.events_path else fallback

    def _record_restart(self, status: int, delay_s: float, ran_s: float, reload: bool) -> None:
        cause = (
            "SIGHUP came while the worker was starting: restarted, it reads the configuration again"
            if reload
            else f"the daemon's worker died ({self.last_exit}): restarting it"
        )
        record = {
            "mono": time.monotonic(),
            "wall": time.time(),
            "node": self._node(),
            "event": RESTARTED,
            "level": "WARN" if reload else "CRITICAL",
            "exit": self.last_exit,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "restarts": self.restarts,
            "ran_s": round(ran_s, 3),
            "delay_s": delay_s,
            "supervisor_pid": os.getpid(),
            "cause": cause,
        }
        _say(
            f"({record['node']}) {RESTARTED} restarts={self.restarts} delay_s={delay_s:g}: {cause}",
            logging.WARNING if reload else logging.CRITICAL,
        )
        if self.events_path is None:
            return
        try:
            fd = open_private(self.events_path)
            try:
                os.write(fd, (json.dumps(record) + "\n").encode())
            finally:
                os.close(fd)
        except OSError as exc:
            _say(f"cannot append to {self.events_path}: {exc}", logging.ERROR)


def _become_worker(body: Callable[[], int], env: dict[str, str], mask: set[int | signal.Signals]) -> NoReturn:
    """In the forked child: the signal dispositions and environment a fresh `hbd run` would have, then the
    worker's body; never returns into the parent's loop."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.environ.clear()
        os.environ.update(env)
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        # os._exit: the parent's atexit handlers and buffers are not the worker's to run twice.
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _say(text: str, level: int) -> None:
    from hbd.journal import PRIORITY, under_journald  # only when there is something to say: a light parent

    if under_journald(os.environ, sys.stderr):  # the journal stamps the time; `<N>` is the priority
        print(f"<{PRIORITY[level]}>supervisor: {text}", file=sys.stderr, flush=True)
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} hbd[{os.getpid()}] supervisor: {text}", file=sys.stderr, flush=True)


def node_from_events(path: Path, fallback: str) -> str:
    """The node name the worker wrote in its last event (the parent never parses the config)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().splitlines()
    except OSError:
        return fallback
    for line in reversed(lines):
        with contextlib.suppress(ValueError, AttributeError):
            node = json.loads(line).get("node")
            if isinstance(node, str) and node:
                return node
    return fallback


def supervise(
    cli_args: Sequence[str],
    events_path: Path | None,
    node: str | None,
    fork_worker: Callable[[], int] | None = None,
) -> int:
    """Run `hbd run <cli_args>` as a supervised worker until it stops cleanly: `fork_worker` in a fork of this
    process, else `python -m hbd.cli <cli_args>`."""
    argv = [sys.executable, "-m", "hbd.cli", *cli_args]
    sup = Supervisor(argv, events_path, node, Backoff(), dict(os.environ), fork_worker=fork_worker)
    return sup.run()


# ---------------------------------------------------------------------------- the worker's side


@dataclass(frozen=True)
class Supervision:
    supervisor_pid: int
    restarts: int
    last_exit: str
    stop_pending: bool = False  # restarted while stopping: shut down right after booting

    def as_dict(self) -> dict[str, object]:
        return {"pid": self.supervisor_pid, "restarts": self.restarts, "last_exit": self.last_exit or None}


def supervised_worker() -> Supervision | None:
    """In the worker: what the parent passed (None when not run by a supervisor). The variables are removed
    from the environment so that resource scripts do not inherit them."""
    pid = os.environ.pop(ENV_PID, None)
    restarts = os.environ.pop(ENV_RESTARTS, "0")
    last_exit = os.environ.pop(ENV_LAST_EXIT, "")
    stop_pending = os.environ.pop(ENV_STOP, "") == "1"
    if pid is None or not pid.isdigit():
        return None
    return Supervision(int(pid), int(restarts) if restarts.isdigit() else 0, last_exit, stop_pending)


def die_with_supervisor(supervisor_pid: int) -> bool:
    """Ask for SIGKILL when the parent dies; False if it is already gone (then the worker must exit)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    # Checked after the prctl: a parent that died before it would otherwise go unnoticed.
    return os.getppid() == supervisor_pid
