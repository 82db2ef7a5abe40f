"""The daemon's own files: a private state directory and files written so nobody else can read or redirect
them.

The state directories (/run/hbd, /var/lib/hbd, or `--state-dir`) hold the control socket (root's commands),
events.jsonl (resource scripts' output), the generation and replay state. So:

* a state directory is 0700 and owned by root or by the daemon's own user, else the daemon refuses to start
  (a directory someone else owns could be swapped or filled with symlinks under us);
* files are created 0600 with O_NOFOLLOW (a symlink planted in their place is an error, not a redirect),
  whole-file updates go through a fresh temporary file (O_EXCL) and an atomic rename.

Standard library only: the supervisor parent (hbd.supervisor) uses it too and stays import-light.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


class StateDirError(OSError):
    """A state directory that is not safe to use (owner, type); the daemon does not start."""


def ensure_private_dir(path: Path) -> None:
    """Create `path` 0700 if missing; refuse it unless it is a real directory owned by root or by us;
    tighten its mode to 0700 (what an older hbd, or the umask, left)."""
    old_umask = os.umask(0o077)
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    finally:
        os.umask(old_umask)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
    except OSError as exc:
        raise StateDirError(exc.errno, f"state directory {path}: {exc.strerror} (a symlink?)") from exc
    try:
        st = os.fstat(fd)
        if st.st_uid not in (0, os.geteuid()):
            raise StateDirError(
                f"state directory {path} is owned by uid {st.st_uid}, not by root: refusing to start "
                "(fix: chown root: and chmod 0700, or use another --state-dir)"
            )
        if stat.S_IMODE(st.st_mode) != PRIVATE_DIR:
            os.fchmod(fd, PRIVATE_DIR)
    finally:
        os.close(fd)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open (creating 0600) a file we own, never through a symlink; a wider mode left by an older hbd is
    tightened. Returns the fd."""
    fd = os.open(path, flags | os.O_CREAT | _NOFOLLOW, PRIVATE_FILE)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, data: str | bytes, *, fsync: bool = False) -> None:
    """Replace `path` atomically with `data`, mode 0600: a reader sees the old or the new content, never a
    mix; a symlink at `path` is replaced (rename does not follow it), one at the temporary name refused."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a leftover of a crashed run of this pid; O_EXCL below refuses anything else
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
