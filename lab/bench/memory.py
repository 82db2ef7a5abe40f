"""Memory of a daemon's process tree from /proc, sampled at the end of a bench run (idle in `steady`).

A daemon is a tree: hbd's supervisor and its worker, keepalived's parent and its VRRP child. For each
process: VmRSS (what `ps` shows; under mlockall every mapped page of every library counts), PSS (shared
pages divided among the processes that map them) and USS (pages only this process maps: what stopping it
would free). Parsing is pure; `tree_memory` reads /proc.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

PROC = Path("/proc")


def status_fields(text: str) -> dict[str, str]:
    """`Key:\\tvalue` lines of /proc/PID/status (or smaps_rollup) as a dict of stripped values."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def kb(value: str | None) -> int | None:
    """`1234 kB` -> 1234; None when absent or not a number."""
    if not value:
        return None
    head = value.split()[0]
    return int(head) if head.isdigit() else None


def process_memory(status: str, rollup: str | None) -> dict[str, Any]:
    """One process's name and VmRSS / PSS / USS in kB, from its status and smaps_rollup texts."""
    st = status_fields(status)
    out: dict[str, Any] = {"comm": st.get("Name", "?"), "rss_kb": kb(st.get("VmRSS"))}
    out["locked_kb"] = kb(st.get("VmLck"))
    if rollup is not None:
        ro = status_fields(rollup)
        out["pss_kb"] = kb(ro.get("Pss"))
        clean, dirty = kb(ro.get("Private_Clean")), kb(ro.get("Private_Dirty"))
        out["uss_kb"] = None if clean is None or dirty is None else clean + dirty
    return out


def _children(pid: int, proc: Path) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in (proc / str(pid) / "task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                out += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_memory(root: int, proc: Path = PROC, max_depth: int = 3) -> list[dict[str, Any]]:
    """Every process of the tree under `root` (itself included, depth 0), parents first; processes that
    vanish while being read are skipped. `daemon_processes` picks the daemon's own among them."""
    out: list[dict[str, Any]] = []
    frontier = [(root, 0)]
    while frontier:
        pid, depth = frontier.pop(0)
        try:
            status = (proc / str(pid) / "status").read_text()
        except OSError:
            continue
        rollup: str | None = None
        with contextlib.suppress(OSError):
            rollup = (proc / str(pid) / "smaps_rollup").read_text()
        out.append({"pid": pid, "depth": depth, **process_memory(status, rollup)})
        if depth < max_depth:
            frontier += [(c, depth + 1) for c in _children(pid, proc)]
    return out


# Programs that start a daemon and wait for it or exec it later (heartbeat's `unshare ... sh`).
WRAPPERS = frozenset({"sh", "bash", "unshare", "nsenter", "ip", "hbl-spawn", "timeout"})


def daemon_processes(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The daemon's own processes: the first process that is not a wrapper and its descendants running the
    same program (hbd's worker, keepalived's VRRP child), not a resource script or shell it is running."""
    main = next((p for p in tree if p.get("comm") not in WRAPPERS), None)
    if main is None:
        return []
    return [p for p in tree if p is main or (p["depth"] > main["depth"] and p.get("comm") == main["comm"])]


def memory_metrics(nodes: dict[str, list[dict[str, Any]]]) -> dict[str, float | int | None]:
    """The largest RSS / PSS / USS (kB) over the nodes, of the daemon's first process (`parent`: hbd's
    supervisor, keepalived's parent) and of the others (`child`: hbd's worker, keepalived's VRRP child)."""
    out: dict[str, float | int | None] = {}
    for role in ("parent", "child"):
        for key in ("rss_kb", "pss_kb", "uss_kb"):
            values = [
                p[key]
                for procs in nodes.values()
                for i, p in enumerate(procs)
                if (i == 0) == (role == "parent") and isinstance(p.get(key), int)
            ]
            out[f"{key.removesuffix('_kb')}_{role}_kb"] = max(values) if values else None
    return out
