"""Where hbd's log lines go: heartbeat's `logfacility`, `logfile` and `debugfile`, plus the journal.

As in heartbeat: `logfacility F` sends to syslog with facility F (`none`: no syslog), `logfile` receives every
line but DEBUG, `debugfile` every line including DEBUG (so setting it turns debug logging on). Both files
are reopened when logrotate moves them away.

Under systemd (JOURNAL_STREAM names our stderr) stderr lines carry a `<N>` syslog priority prefix and no
timestamp: journald reads the prefix as the priority and stamps the time itself. With a `logfacility` as
well, lines go to the syslog socket only, where journald records them with that facility (writing both
would put every line in the journal twice). Outside systemd, stderr gets timestamped lines.

Every line is `(node) subject: what happened ...: cause` (hbd.events_log); nothing here reformats it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from hbd.config.model import ClusterConfig
from hbd.journal import PRIORITY, under_journald

SYSLOG_SOCKET = "/dev/log"
FILE_FORMAT = "%(asctime)s hbd[%(process)d] %(levelname)s: %(message)s"
SYSLOG_FORMAT = "hbd[%(process)d]: %(message)s"  # syslog adds the time and host


class JournalFormatter(logging.Formatter):
    """`<6>(bob) peer bobek: peer.up ...`: the priority prefix sd-daemon(3) describes, nothing else."""

    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines() or [""])


def configure(
    logger: logging.Logger,
    cluster: ClusterConfig,
    *,
    verbose: bool = False,
    env: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    syslog_socket: str = SYSLOG_SOCKET,
) -> list[str]:
    """Attach the handlers ha.cf asks for. Returns problems worth a warning (a log file that cannot be
    opened does not stop the daemon: its events.jsonl and the other outputs still work)."""
    env = os.environ if env is None else env
    stream = sys.stderr if stderr is None else stderr
    problems: list[str] = []
    console = logging.DEBUG if verbose else logging.INFO
    logger.setLevel(logging.DEBUG if verbose or cluster.debugfile else logging.INFO)
    facility = cluster.logfacility if cluster.logfacility not in (None, "none") else None
    journal = under_journald(env, stream)

    syslog_ok = False
    if facility is not None:
        # logging.handlers only with syslog or a log file: it loads pickle, socket, queue at start-up.
        from logging.handlers import SysLogHandler

        if Path(syslog_socket).exists():
            try:
                handler: logging.Handler = SysLogHandler(syslog_socket, facility=facility)
            except OSError as exc:
                problems.append(f"logfacility {facility}: cannot reach {syslog_socket}: {exc}")
            else:
                _add(logger, handler, logging.Formatter(SYSLOG_FORMAT), console)
                syslog_ok = True
        else:
            problems.append(f"logfacility {facility}: no syslog socket at {syslog_socket}")
    if journal and not syslog_ok:
        _add(logger, logging.StreamHandler(stream), JournalFormatter("%(message)s"), console)
    elif not journal:
        _add(logger, logging.StreamHandler(stream), logging.Formatter(FILE_FORMAT), console)
    for name, path, level in (
        ("logfile", cluster.logfile, logging.INFO),
        ("debugfile", cluster.debugfile, logging.DEBUG),
    ):
        if path is None:
            continue
        try:
            _add(logger, _file_handler(Path(path)), logging.Formatter(FILE_FORMAT), level)
        except OSError as exc:
            problems.append(f"{name} {path}: cannot open: {exc.strerror or exc}")
    return problems


def _add(logger: logging.Logger, handler: logging.Handler, fmt: logging.Formatter, level: int) -> None:
    handler.setFormatter(fmt)
    handler.setLevel(level)
    logger.addHandler(handler)


def _file_handler(path: Path) -> logging.Handler:
    """Appends; reopened when logrotate moves the file. Created 0640 (logs hold no key material, but
    resource scripts' output can be private)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    os.close(fd)
    from logging.handlers import WatchedFileHandler

    return WatchedFileHandler(path, encoding="utf-8")
