"""Is stderr the systemd journal? And the syslog priorities journald reads from a `<N>` line prefix.

Standard library only: the supervisor (hbd.supervisor) uses this too, and it must not load the daemon.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TextIO

# syslog(3) priorities by logging level (sd-daemon(3): `<N>` at the start of a line sets its priority).
PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def under_journald(env: Mapping[str, str], stream: TextIO) -> bool:
    """JOURNAL_STREAM is `DEV:INODE` of the journal's stream; it only counts if `stream` still is it
    (systemd.exec(5): a child whose stderr was redirected must not assume the journal)."""
    value = env.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def prefix(level: int, stream: TextIO, env: Mapping[str, str] = os.environ) -> str:
    """`<N>` for a line written to `stream` by hand (before logging is set up), when it is the journal."""
    return f"<{PRIORITY.get(level, 6)}>" if under_journald(env, stream) else ""
