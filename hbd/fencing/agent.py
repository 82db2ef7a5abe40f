"""A fence agent as a process: where it may come from, and running it so that every failure is an answer.

Lookup: an agent is a bare program name (`fence_ipmilan`), searched in fixed directories only:
`<config-dir>/fence.d` (when it exists), `/usr/sbin`, `/sbin`, `/usr/local/sbin`, then the *absolute*
directories of the daemon's PATH as it was at start (set by whoever starts the daemon as root: systemd's
fixed PATH, or the lab, which puts its fence_lab there). A name with `/` is refused: it used to be looked up
relative to the daemon's working directory, and `../` or a relative PATH entry would let a file nobody vetted
decide whether the peer is dead.

Running: whatever goes wrong (ENOEXEC for a script without `#!`, EACCES on a noexec mount or a file without
an execute bit, the file vanishing, a process group already gone when the timeout kills it) comes back as
an `AgentRun` with an exit code and a reason, never as an exception: the caller turns it into a failed fence
and retries, instead of a fence task dying silently and fencing staying stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/sbin"), Path("/sbin"), Path("/usr/local/sbin"))
OUTPUT_KEEP = 500  # characters of the agent's output kept for the event (the tail: where errors are)
RC_NOT_RUN = -1000  # exit code of an agent that could not be run at all (no real exit code is this low)
RC_TIMED_OUT = -1001  # killed by us after the timeout


class AgentNameError(ValueError):
    """An agent name that could point anywhere (contains `/`, or is empty or a dot name)."""


def agent_dirs(config_dir: str | os.PathLike[str] | None, path_env: str | None = None) -> tuple[Path, ...]:
    """Where agents are looked up, in order (see the module doc)."""
    dirs: list[Path] = []
    if config_dir is not None:
        dirs.append(Path(config_dir) / "fence.d")
    dirs.extend(SYSTEM_DIRS)
    env = os.environ.get("PATH", "") if path_env is None else path_env
    for entry in env.split(os.pathsep):
        # Relative entries ("", ".", "bin") resolve against the working directory: never.
        if entry and os.path.isabs(entry) and Path(entry) not in dirs:
            dirs.append(Path(entry))
    return tuple(dirs)


def check_agent_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise AgentNameError(
            f"fence agent {name!r}: give a program name, not a path (it is looked up in "
            "<config-dir>/fence.d, /usr/sbin, /sbin, /usr/local/sbin, then PATH)"
        )


def find_agent(name: str, dirs: Iterable[Path]) -> Path | None:
    """The first executable regular file called `name` in `dirs`. Raises AgentNameError for a path."""
    check_agent_name(name)
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class AgentRun:
    rc: int  # the agent's exit code; -N: killed by signal N; RC_NOT_RUN, RC_TIMED_OUT
    output: str  # stdout and stderr (tail), or why it could not be run


async def run_agent(agent: Path, options: Mapping[str, str], timeout_s: float) -> AgentRun:
    """Run `agent` with `name=value` lines on stdin, in its own session; kill its group on timeout."""
    stdin = "".join(f"{k}={v}\n" for k, v in options.items()).encode()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(agent),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:  # ENOEXEC, EACCES (noexec, no x bit), ENOENT (removed since lookup), EMFILE...
        return AgentRun(RC_NOT_RUN, f"cannot run {agent}: {exc.strerror or exc} (errno {exc.errno})")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout_s)
    except TimeoutError:
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # the agent left its own group (setsid): at least the process we started
        await proc.wait()
        _close_pipes(proc)
        return AgentRun(RC_TIMED_OUT, f"timed out after {timeout_s:g} s")
    except (OSError, ValueError) as exc:  # a pipe error while talking to it
        _kill_group(proc.pid)
        await proc.wait()
        _close_pipes(proc)
        return AgentRun(RC_NOT_RUN, f"lost contact with {agent}: {exc}")
    rc = proc.returncode if proc.returncode is not None else RC_NOT_RUN
    return AgentRun(rc, out.decode(errors="replace").strip()[-OUTPUT_KEEP:])


def _kill_group(pgid: int) -> None:
    # The group may be gone already (the agent exited, its children too, between the timeout and here):
    # that is fine, and must not turn a timeout into an exception.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _close_pipes(proc: asyncio.subprocess.Process) -> None:
    """A child that escaped the group (setsid) may still hold the agent's stdout: close our end now, not
    at garbage collection (asyncio's Process has no public close; its transport's close is the way)."""
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()
