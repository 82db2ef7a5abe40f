"""`realtime on` (ha.cf): SCHED_FIFO priority and locked memory, as heartbeat does.

A late timer on the heartbeat path is a false failover on the peer; under load only a realtime priority
keeps asyncio's timer lateness in the low milliseconds.
"""

from __future__ import annotations

import ctypes
import os

MCL_CURRENT = 1
MCL_FUTURE = 2


def go_realtime(priority: int | None = None) -> str | None:
    """Try SCHED_FIFO and mlockall. Returns a description of what failed, or None when both worked."""
    problems = []
    try:
        low, high = os.sched_get_priority_min(os.SCHED_FIFO), os.sched_get_priority_max(os.SCHED_FIFO)
        prio = priority if priority is not None else (low + high) // 2
        # Reset on fork: resource scripts must not inherit realtime priority.
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(prio))
    except (OSError, AttributeError) as exc:
        problems.append(f"cannot get SCHED_FIFO priority: {exc}")
    # The C library already in this process (as hbd.supervisor's prctl): ctypes.util.find_library runs
    # ldconfig and imports shutil, tempfile, bz2, lzma, a few ms at every start and stop.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        problems.append(f"cannot lock memory: {os.strerror(ctypes.get_errno())}")
    return "; ".join(problems) or None


def leave_realtime() -> None:
    """Back to a normal process before tearing down: a SCHED_FIFO interpreter freeing hundreds of MB of
    locked memory at exit starved the rest of the machine (the peer's clients included) for ~50 ms."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        pass
    ctypes.CDLL(None, use_errno=True).munlockall()
