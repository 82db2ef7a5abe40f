"""events.jsonl: one JSON object per line, the daemon's structured record (see docs/CONTRACTS.md).

Lines are flushed one by one: the lab tails these files while a scenario runs, and a line is small enough
that a page-cache write does not hold up the heartbeat path.
"""

from __future__ import annotations

import json
import logging
import os
import time
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
        self.logger.log(LEVELS.get(level, logging.INFO), "(%s) %s", self.node, _prose(event, fields))
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _prose(event: str, fields: dict[str, Any]) -> str:
    """Subject first, then the details, then the cause: `peer bobek dead: 0.31 s silence on ...`."""
    cause = fields.get("cause")
    details = " ".join(f"{k}={v}" for k, v in fields.items() if k != "cause")
    text = f"{event} {details}".strip()
    return f"{text}: {cause}" if cause else text
