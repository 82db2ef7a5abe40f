"""CPU time of a daemon's process tree from /proc (utime + stime), for the idle-cost bench.

A daemon here is a tree: hbd's supervisor and its worker, keepalived's parent and its VRRP child. The tree
is read at the start and at the end of a window; a process present at both ends counts its difference,
one that appeared meanwhile counts all it used (it started inside the window). Parsing is pure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    comm: str
    ticks: int  # utime + stime, in clock ticks (all threads)


def parse_stat(text: str) -> ProcStat:
    """One /proc/PID/stat line. The command name is in parentheses and may itself hold spaces and ')',
    so the fields are counted from the last ')'. Raises ValueError on anything else."""
    open_at, close_at = text.find("("), text.rfind(")")
    if open_at < 0 or close_at < open_at:
        raise ValueError(f"not a /proc/PID/stat line: {text[:80]!r}")
    rest = text[close_at + 2 :].split()
    # After the name: state(3) ppid(4) ... utime(14) stime(15); rest[0] is field 3.
    if len(rest) < 13:
        raise ValueError(f"/proc/PID/stat line too short: {text[:80]!r}")
    return ProcStat(
        int(text[:open_at]), int(rest[1]), text[open_at + 1 : close_at], int(rest[11]) + int(rest[12])
    )


def read_all(proc: Path = PROC) -> dict[int, ProcStat]:
    """Every process's stat (processes that vanish while being read are skipped)."""
    out: dict[int, ProcStat] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            out[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError):
            continue
    return out


def tree(root: int, stats: dict[int, ProcStat]) -> dict[int, ProcStat]:
    """`root` and all its descendants among `stats`."""
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    found: dict[int, ProcStat] = {}
    todo = [root] if root in stats else []
    while todo:
        pid = todo.pop()
        found[pid] = stats[pid]
        todo.extend(children.get(pid, ()))
    return found


def ticks_used(before: dict[int, ProcStat], after: dict[int, ProcStat]) -> dict[int, int]:
    """Ticks each process of `after` used since `before` (all of them when it is new)."""
    used = {}
    for pid, s in after.items():
        old = before.get(pid)
        same = old is not None and old.comm == s.comm
        used[pid] = s.ticks - old.ticks if same and old is not None else s.ticks
    return used


def percent_of_core(ticks: int, seconds: float, hz: int = CLOCK_TICKS) -> float:
    """CPU time as a percentage of one core over `seconds`."""
    if seconds <= 0:
        raise ValueError("the window must be longer than zero")
    return 100.0 * ticks / hz / seconds
