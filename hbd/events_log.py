"""events.jsonl: one JSON object per line, the daemon's structured record (see docs/CONTRACTS.md).

Lines are flushed one by one: the lab tails these files while a scenario runs, and a line is small enough
that a page-cache write does not hold up the heartbeat path.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from hbd.statefile import open_private

LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


class EventLog:
    def __init__(self, path: Path | None, node: str, logger: logging.Logger) -> None:
        self.node = node
        self.logger = logger
        self._file: TextIO | None = None
        # Called with every record after it is written (hbd.metrics counts here: one place, so the
        # counters and the file agree by construction).
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # 0600 and never through a symlink: the records hold resource scripts' output.
            self._file = os.fdopen(open_private(path), "a", encoding="utf-8")

    def emit(self, event: str, level: str = "INFO", **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "mono": time.monotonic(),
            "wall": time.time(),
            "node": self.node,
            "event": event,
            "level": level,
        }
        record.update(fields)
        if self._file is not None:
            self._file.write(json.dumps(record, default=str) + "\n")
            self._file.flush()
        for observe in self.observers:
            observe(record)
        self.logger.log(LEVELS.get(level, logging.INFO), "(%s) %s", self.node, _prose(event, fields))
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# The field that names what a record is about, in order of preference: it leads the log line.
SUBJECT_FIELDS = ("group", "resource", "peer", "link", "ip", "target")


def _prose(event: str, fields: dict[str, Any]) -> str:
    """Subject first, then what happened and the details, then the cause:
    `peer bobek: peer.dead silence_s=0.31 links=[...]: no heartbeat for deadtime`."""
    cause = fields.get("cause")
    subject = next((k for k in SUBJECT_FIELDS if fields.get(k) not in (None, "")), None)
    details = " ".join(f"{k}={v}" for k, v in fields.items() if k not in ("cause", subject))
    text = f"{event} {details}".strip()
    if subject is not None:
        text = f"{subject} {fields[subject]}: {text}"
    return f"{text}: {cause}" if cause else text
