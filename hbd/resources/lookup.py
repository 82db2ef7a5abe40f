"""Finding a resource script by name, the way heartbeat's ResourceManager does (heartbeat.md 5.1).

Heartbeat looks in `$HA_RESOURCEDIR` (`/etc/ha.d/resource.d`) and then `/etc/init.d`; the first regular,
executable file wins. The name comes from haresources, so it must be a plain file name: a `/` or `..`
would let a config line run any program on the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

DEFAULT_SYSTEM_DIR = "/etc/init.d"


def default_dirs(config_dir: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Heartbeat's search path for a node whose config lives in `config_dir`."""
    return (Path(config_dir) / "resource.d", Path(DEFAULT_SYSTEM_DIR))


def is_plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..") and "\0" not in name


def find_script(name: str, dirs: Iterable[str | os.PathLike[str]]) -> Path | None:
    """The first regular executable file called `name` in `dirs`, or None (also for a non-plain name)."""
    if not is_plain_name(name):
        return None
    for directory in dirs:
        candidate = Path(directory) / name
        # is_file() follows symlinks, as the shell's `[ -f ]` heartbeat uses does.
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None
