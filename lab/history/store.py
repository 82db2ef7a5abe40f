"""Where runs live: `runs/<scenario>/<utc>-<seed>/`, plus a `runs/<scenario>/latest` symlink (Jepsen's store).

Analysis reads only what is stored here; it never re-runs the lab. `load_run` is the one way to read a
recorded run back: the runner's own checks, `hblab report` and the analysis all see the same history.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from lab.history.records import History, load_history
from lab.history.shared_disk import with_disk_records

LATEST = "latest"
RESULT_FILE = "result.json"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def new_run_dir(scenario_name: str, seed: int, root: Path = Path("runs")) -> Path:
    """Create a fresh run directory and point `latest` at it. Two runs in the same second get `-2`, `-3`..."""
    if not _SAFE.match(scenario_name):
        raise ValueError(f"scenario name {scenario_name!r} cannot name a directory")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    scenario_dir = Path(root) / scenario_name
    scenario_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{stamp}-{seed}"
    for attempt in range(1, 1000):
        run_dir = scenario_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        _point_latest(scenario_dir, run_dir.name)
        return run_dir
    raise RuntimeError(f"{scenario_dir}: could not find a free run directory for {base}")


def _point_latest(scenario_dir: Path, target: str) -> None:
    # Relative link, replaced atomically, so `runs/` can be moved or archived as a whole.
    tmp = scenario_dir / f".{LATEST}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, scenario_dir / LATEST)


def latest_run(scenario_name: str, root: Path = Path("runs")) -> Path | None:
    link = Path(root) / scenario_name / LATEST
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def list_runs(scenario_name: str, root: Path = Path("runs")) -> list[Path]:
    """Every run directory of a scenario, oldest first (the names sort by UTC time)."""
    scenario_dir = Path(root) / scenario_name
    if not scenario_dir.is_dir():
        return []
    return sorted(p for p in scenario_dir.iterdir() if p.is_dir() and not p.is_symlink() and p.name[0] != ".")


def load_run(run_dir: Path | str) -> History:
    """Everything a run recorded, merged by time: lab.jsonl, probe.jsonl, owners.jsonl, every node's
    events.jsonl, and the shared disk's contents and acknowledgements when the topology had one."""
    run_dir = Path(run_dir)
    # A run without a shared disk has neither the disk nor ack journals: nothing is added.
    return with_disk_records(load_history(run_dir), run_dir)


def seed_of(run_dir: Path) -> int | None:
    """The seed encoded in a run directory name (`20250101T120000Z-7` or `...-7-2`)."""
    parts = Path(run_dir).name.split("-")
    try:
        return int(parts[1]) if len(parts) >= 2 else None
    except ValueError:
        return None
