"""Who may read and change the configuration files (issue 11, item 7).

Whoever can write ha.cf or haresources chooses the scripts hbd runs as root, and whoever can read
authkeys can forge heartbeats. So, checked on the file actually read (its `fstat`):

* authkeys: no permission bits at all for group or others (heartbeat requires 0600; it checked only
  the read bits, so a world-writable 0602 passed);
* every file: not writable by others, and owned by root or by the user running hbd.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hbd.config.errors import Diagnostics

GROUP_OTHER_BITS = stat.S_IRWXG | stat.S_IRWXO


def trusted_owners() -> frozenset[int]:
    """root, and the user running hbd (tests and unprivileged `hbd check` own their files)."""
    return frozenset({0, os.geteuid()})


def check_file(
    info: os.stat_result, path: Path, diag: Diagnostics, *, secret: bool, owners: frozenset[int]
) -> None:
    """Record a whole-file error in `diag` for each rule `info` (the file's stat) breaks."""
    mode = stat.S_IMODE(info.st_mode)
    if secret and mode & GROUP_OTHER_BITS:
        diag.error(
            None,
            f"bad permissions {mode:04o} on the key file: {_access(mode)} by group or others",
            f"heartbeat requires 600: chmod 600 {path}",
        )
    elif mode & stat.S_IWOTH:
        diag.error(None, f"bad permissions {mode:04o}: writable by anyone", f"chmod o-w {path}")
    if info.st_uid not in owners:
        allowed = " or ".join("root" if uid == 0 else f"uid {uid}" for uid in sorted(owners))
        diag.error(None, f"owned by uid {info.st_uid}, not {allowed}", f"chown root {path}")


def _access(mode: int) -> str:
    readable = mode & (stat.S_IRGRP | stat.S_IROTH)
    writable = mode & (stat.S_IWGRP | stat.S_IWOTH)
    if readable and writable:
        return "readable and writable"
    if readable:
        return "readable"
    if writable:
        return "writable"
    return "executable"
