"""The lab's shared disk: its resource scripts on each node, and its contents as history records.

A topology with `shared_disk: {group: NAME}` gives that group two resources ahead of its services:
`hblab-claim` (mounts the disk, lab/node/service/hblab-claim) and `hblab-writer` (lab/node/disk_writer.py).
The disk
is `<run dir>/shared-disk/`, one directory every netns node sees, as two hosts see one SCSI/FC array.

After the run the disk and the writers' acknowledgement journals become history records (source `disk`):
  disk.record  one per readable line of data.log (mono: when the writer wrote it)
  disk.torn    a line that is not a record (overwritten by another writer, or cut by a power-off)
  disk.ack     one per acknowledgement in nodes/<node>/state/disk-acks.jsonl
lab/checks/safety.py judges them (acked_records, single_writer).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.history.records import History, record_from_dict
from lab.paths import DISK_WRITER, SERVICE_DIR

WRITER = DISK_WRITER
DISK_DIR_NAME = "shared-disk"
DATA_FILE = "data.log"
ACK_JOURNAL = "disk-acks.jsonl"
WRITE_EVERY_MS = 20


def install_disk_resources(
    resource_dir: Path,
    config_dir: Path,
    node: str,
    state_dir: Path,
    disk_dir: Path,
    python: str,
    group_disks: Mapping[str, Path] | None = None,
) -> None:
    """Copy hblab-claim and hblab-writer into resource.d and write their hblab-disk.conf.

    `group_disks`: with one disk per group, group -> its disk (a directory under `disk_dir`), written as
    DISK_DIR_<group>= for `hblab-claim::<group>`."""
    for name in ("hblab-claim", "hblab-writer"):
        shutil.copyfile(SERVICE_DIR / name, resource_dir / name)
        os.chmod(resource_dir / name, 0o755)
    # The writer beside them: the config dir is a path every node sees (a container does not see the
    # host's source tree); it is a standalone file, run with python -I -S.
    writer = resource_dir / WRITER.name
    shutil.copyfile(WRITER, writer)
    conf = {
        "NODE": node,
        "STATE_DIR": str(state_dir),
        "DISK_DIR": str(disk_dir),
        "PYTHON": python,
        "WRITER": str(writer),
        "EVERY_MS": str(WRITE_EVERY_MS),
    }
    for group, path in (group_disks or {}).items():
        path.mkdir(parents=True, exist_ok=True)
        conf[f"DISK_DIR_{group}"] = str(path)
    (config_dir / "hblab-disk.conf").write_text("".join(f"{k}={v}\n" for k, v in conf.items()))


def disk_records(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The disk's records and every node's acknowledgements as history dicts, plus problems found."""
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    data = run_dir / DISK_DIR_NAME / DATA_FILE
    last_mono = 0.0
    if data.exists():
        raw = data.read_bytes()
        for lineno, line in enumerate(raw.split(b"\n"), start=1):
            if not line:
                continue
            try:
                obj = json.loads(line)
                ok = isinstance(obj, dict) and isinstance(obj.get("seq"), int)
                ok = ok and isinstance(obj.get("mono"), int | float)
            except ValueError:
                obj, ok = None, False
            if not ok or obj is None:
                # Mono of the last good record: keeps the torn line in its place on the timeline.
                shown = line[:80].decode(errors="replace")
                out.append(
                    {"mono": last_mono, "source": "disk", "event": "disk.torn", "line": lineno, "text": shown}
                )
                continue
            last_mono = float(obj["mono"])
            out.append(
                {
                    **obj,
                    "source": "disk",
                    "event": "disk.record",
                    "node": obj.get("writer_node"),
                    "line": lineno,
                }
            )
    nodes_dir = run_dir / "nodes"
    if nodes_dir.is_dir():
        for node_dir in sorted(p for p in nodes_dir.iterdir() if p.is_dir()):
            journal = node_dir / "state" / ACK_JOURNAL
            if not journal.exists():
                continue
            lines = journal.read_text(errors="replace").split("\n")
            for lineno, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    if lineno < len(lines):  # a last line cut by a power-off was never acknowledged
                        problems.append(f"{journal}:{lineno}: not JSON")
                    continue
                if isinstance(obj, dict) and obj.get("event") == "disk.ack":
                    out.append({**obj, "source": "disk"})
    return out, problems


def with_disk_records(history: History, run_dir: Path) -> History:
    """`history` plus the shared disk's records, in time order."""
    objs, problems = disk_records(run_dir)
    records = list(history.records)
    for obj in objs:
        try:
            records.append(record_from_dict(obj, source="disk"))
        except ValueError as e:
            problems.append(f"{run_dir / DISK_DIR_NAME}: {e}")
    records.sort(key=lambda r: r.mono)
    return replace(history, records=tuple(records), problems=(*history.problems, *problems))
