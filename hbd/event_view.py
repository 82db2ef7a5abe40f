"""`hbctl events`: the decision log (events.jsonl) one readable line per record, or raw, optionally followed.

    02:41:40.579 bobek WARN peer.dead peer=bob silence_s=0.3 links=bcast:eth0,serial:/dev/ttyS0: no heartbeat
    02:41:40.671 bobek group.active group=IPaddr::10.0.0.10 duration_s=0.08: peer dead

Time (local, from `wall`), node, level when it is not INFO, event, the record's own fields, and after a colon
its cause. Only complete lines are shown: the daemon writes one line per record and flushes it, so a line
without its newline is still being written (or was cut by a crash) and is held back.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HIDDEN = ("mono", "wall", "node", "event", "level", "cause")
MAX_VALUE_CHARS = 80  # a resource script's output can be long: the --json view has all of it
POLL_S = 0.2


def render(record: dict[str, Any]) -> str:
    wall = record.get("wall")
    when = _clock(wall) if isinstance(wall, int | float) else "--:--:--.---"
    level = str(record.get("level", "INFO"))
    words = [when, str(record.get("node", "?"))]
    if level != "INFO":
        words.append(level)
    words.append(str(record.get("event", "?")))
    words += [f"{k}={_value(v)}" for k, v in record.items() if k not in HIDDEN]
    line = " ".join(words)
    cause = record.get("cause")
    return f"{line}: {cause}" if cause else line


def _clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall * 1000) % 1000:03d}"


def _value(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, list | tuple):
        text = ",".join(_value(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, separators=(",", ":"), default=str)
    else:
        text = str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def line_view(raw: str) -> str:
    """One complete line of the file as shown: the record rendered, or the line marked as unreadable."""
    try:
        record = json.loads(raw)
    except ValueError:
        return f"?? not JSON: {raw[:MAX_VALUE_CHARS]}"
    if not isinstance(record, dict):
        return f"?? not a record: {raw[:MAX_VALUE_CHARS]}"
    return render(record)


def last_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last `count` complete lines (all with count < 0) and the offset just after them."""
    with path.open("rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1
    lines = data[:end].decode("utf-8", "replace").splitlines()
    kept = lines if count < 0 else list(deque(lines, maxlen=count)) if count else []
    return kept, end


def follow(
    path: Path,
    offset: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[str]:
    """Complete lines written after `offset`, as they come; starts over when the file is replaced or cut
    (logrotate, a fresh state directory). Runs until `stop()` (or Ctrl-C in hbctl)."""
    identity = _identity(path)
    pending = b""
    while not stop():
        current = _identity(path)
        if current is not None and current != identity:
            identity, offset, pending = current, 0, b""
        try:
            with path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < offset:
                    offset, pending = 0, b""
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line.decode("utf-8", "replace")
        if not complete:
            sleep(POLL_S)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
