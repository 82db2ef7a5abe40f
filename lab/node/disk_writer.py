"""The shared-disk writer: appends numbered records to the disk and acknowledges each once it is durable.

Run by lab/node/service/hblab-writer on the node that mounted the shared disk (`python -I -S disk_writer.py`:
standard library only). On start it recovers like a database: the next sequence number follows the
highest one on the disk, and it appends at what it believes is the end of the file. It then keeps its
own idea of that end (as a filesystem mounted by one host caches its allocation) and writes there with
pwrite: a second writer on another node overwrites records instead of interleaving politely, which is
exactly the damage a doubly mounted non-cluster filesystem does, and what lab/checks/safety.py detects.

Each record is one JSON line `{"seq", "writer_node", "pid", "mono"}` in <disk>/data.log; after its fsync
the writer appends `{"event": "disk.ack", ...}` to its node's journal (what a client would have been
told: "stored"). SIGTERM stops it between two records.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

DATA_FILE = "data.log"


def last_seq(path: Path) -> int:
    """The highest sequence number among the readable records of the data file (0 if none)."""
    best = 0
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        seq = obj.get("seq") if isinstance(obj, dict) else None
        if isinstance(seq, int) and seq > best:
            best = seq
    return best


def run(mount: Path, node: str, journal: Path, pidfile: Path, every_s: float) -> int:
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    data = mount / DATA_FILE
    fd = os.open(data, os.O_RDWR | os.O_CREAT, 0o644)
    seq = last_seq(data)
    offset = os.fstat(fd).st_size
    pid = os.getpid()
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, pidfile)  # the readiness signal hblab-writer waits for
    with open(journal, "a") as acks:
        while not stopping:
            seq += 1
            mono = time.monotonic()
            line = (json.dumps({"seq": seq, "writer_node": node, "pid": pid, "mono": mono}) + "\n").encode()
            os.pwrite(fd, line, offset)
            os.fsync(fd)
            offset += len(line)
            ack = {"mono": time.monotonic(), "source": "disk", "event": "disk.ack", "node": node}
            ack.update(writer_node=node, pid=pid, seq=seq, offset=offset - len(line), written_mono=mono)
            acks.write(json.dumps(ack) + "\n")
            acks.flush()
            time.sleep(every_s)
    os.close(fd)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mount", type=Path, required=True, help="the mounted shared disk")
    ap.add_argument("--node", required=True)
    ap.add_argument("--journal", type=Path, required=True, help="where acknowledgements go")
    ap.add_argument("--pidfile", type=Path, required=True)
    ap.add_argument("--every-ms", type=float, default=20.0)
    args = ap.parse_args(argv)
    try:
        return run(args.mount, args.node, args.journal, args.pidfile, args.every_ms / 1000)
    except OSError as e:
        print(f"disk_writer: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
