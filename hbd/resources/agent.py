"""Running one resource script: `script [args...] start|stop|status`, the heartbeat/LSB contract.

The script runs from an argv list (never a shell string) in its own session and process group, so a
timeout can kill everything it started: SIGTERM to the group, then SIGKILL to whatever is left after a
grace period. Output (stdout and stderr together) is kept as a bounded tail for the event log.

A start script often leaves a daemon behind that inherited its stdout. Waiting for end-of-file would then
wait forever, and closing our end would kill that daemon with SIGPIPE at its next write; so the result is
returned when the script itself exits, and the pipe keeps being drained (and thrown away) in the
background until the last writer closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OUTPUT_TAIL_BYTES = 4096
KILL_GRACE_S = 2.0
DRAIN_AFTER_EXIT_S = 0.2  # how long to wait for output still in the pipe once the script has exited
GROUP_POLL_S = 0.05
RC_CANNOT_EXECUTE = 126
RC_NOT_FOUND = 127

# Drains of output pipes still held open by processes a script left behind, kept until end-of-file.
_draining: set[asyncio.Future[None]] = set()


@dataclass(frozen=True)
class AgentResult:
    rc: int  # the exit code; -N when killed by signal N
    output: str  # the last OUTPUT_TAIL_BYTES of stdout+stderr
    duration_s: float
    timed_out: bool = False


class _Tail:
    """The last `limit` bytes written, in bounded memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.truncated = True

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return ("..." + text) if self.truncated else text


def _start_reader(read_fd: int, tail: _Tail) -> asyncio.Future[None]:
    """Read `read_fd` into `tail` from the event loop until end-of-file; the future resolves then.

    A plain pipe with add_reader, not the subprocess transport's pipes: with those, Process.wait()
    itself waits for end-of-file, which a daemon left holding stdout never sends.
    """
    loop = asyncio.get_running_loop()
    eof: asyncio.Future[None] = loop.create_future()
    os.set_blocking(read_fd, False)

    def finish() -> None:
        loop.remove_reader(read_fd)
        os.close(read_fd)
        if not eof.done():
            eof.set_result(None)

    def on_readable() -> None:
        try:
            chunk = os.read(read_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if chunk:
            tail.add(chunk)
        else:
            finish()

    loop.add_reader(read_fd, on_readable)
    return eof


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed credentials: it is still there
        return True
    return True


async def _terminate_group(proc: asyncio.subprocess.Process, grace_s: float) -> int:
    """SIGTERM the script's group; SIGKILL what is left after `grace_s`. Returns the script's exit code."""
    pgid = proc.pid  # start_new_session: the script leads its own group
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if proc.returncode is not None and not _signal_group(pgid, 0):
            break
        await asyncio.sleep(GROUP_POLL_S)
    _signal_group(pgid, signal.SIGKILL)
    return await proc.wait()


async def wait_drained(timeout_s: float) -> bool:
    """Wait until no background drain is left (their writers exited); False on timeout. For shutdown/tests."""
    if _draining:
        _, pending = await asyncio.wait(set(_draining), timeout=timeout_s)
        return not pending
    return True


async def run_agent(
    script: Path,
    args: Sequence[str],
    op: str,
    timeout_s: float,
    env: Mapping[str, str],
    *,
    kill_grace_s: float = KILL_GRACE_S,
    output_limit: int = OUTPUT_TAIL_BYTES,
) -> AgentResult:
    """Run `script *args op` with exactly `env`; never raises for the script's failures."""
    started = time.monotonic()
    argv = [str(script), *args, op]
    read_fd, write_fd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(read_fd)
        rc = RC_CANNOT_EXECUTE if isinstance(exc, PermissionError) else RC_NOT_FOUND
        why = exc.strerror or str(exc)
        return AgentResult(rc, f"cannot execute {script}: {why}", time.monotonic() - started)
    finally:
        os.close(write_fd)  # only the script's side keeps the write end open

    tail = _Tail(output_limit)
    eof = _start_reader(read_fd, tail)
    timed_out = False
    try:
        rc = await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
        rc = await _terminate_group(proc, kill_grace_s)
    except asyncio.CancelledError:
        # The daemon is shutting down mid-operation: do not leave the script running unsupervised.
        _signal_group(proc.pid, signal.SIGKILL)
        raise
    duration_s = time.monotonic() - started
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(eof), DRAIN_AFTER_EXIT_S)
    if not eof.done():
        _draining.add(eof)
        eof.add_done_callback(_draining.discard)
    output = tail.text()
    if timed_out:
        output = f"{output}\n[timed out after {timeout_s:g} s: process group killed]".lstrip("\n")
    return AgentResult(rc, output, duration_s, timed_out)
