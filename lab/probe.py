"""The prober: runs inside the client node and contacts the service on the VIP every few ms.

`python -m lab.probe --target IP:PORT --every-ms 5 --out FILE (--until-file STOP | --duration-s N)`

Each attempt writes one line (flushed at least every 50 ms, and at once when the answer changes):
  {"mono": start of the attempt, "source": "probe", "event": "probe", "ok": bool,
   "answer": node name or null, "rtt_ms": float, "error": reason when not ok}
The service answers "<node> <label>\n"; `answer` is the node. Attempts are paced on a fixed grid
(start + k * every) so a slow attempt does not shift every later one; a timed-out attempt simply
skips the grid points it covered.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

FLUSH_EVERY_S = 0.05


def attempt(host: str, port: int, timeout_s: float) -> dict[str, Any]:
    mono = time.monotonic()
    rec: dict[str, Any] = {"mono": mono, "source": "probe", "event": "probe", "ok": False, "answer": None}
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.settimeout(max(timeout_s - (time.monotonic() - mono), 0.001))
            data = b""
            while not data.endswith(b"\n") and len(data) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
        words = data.decode("utf-8", "replace").split()
        if words:
            rec["ok"] = True
            rec["answer"] = words[0]
        else:
            rec["error"] = "empty answer"
    except TimeoutError:
        rec["error"] = "timeout"
    except ConnectionRefusedError:
        rec["error"] = "refused"
    except OSError as e:
        rec["error"] = e.strerror or type(e).__name__
    rec["rtt_ms"] = round((time.monotonic() - mono) * 1000, 3)
    return rec


def run(
    host: str,
    port: int,
    every_ms: float,
    timeout_ms: float,
    out: IO[str],
    until_file: Path | None,
    duration_s: float | None,
) -> int:
    start = time.monotonic()
    parent = os.getppid()  # the runner: if it dies without stopping us, stop too
    every = every_ms / 1000
    last_flush = start
    last_answer: object = object()
    count = 0
    k = 0
    while True:
        now = time.monotonic()
        if duration_s is not None and now - start >= duration_s:
            break
        if until_file is not None and count % 20 == 0 and (until_file.exists() or os.getppid() != parent):
            break
        rec = attempt(host, port, timeout_ms / 1000)
        out.write(json.dumps(rec) + "\n")
        count += 1
        now = time.monotonic()
        if rec["answer"] != last_answer or now - last_flush >= FLUSH_EVERY_S:
            out.flush()
            last_flush = now
            last_answer = rec["answer"]
        k = max(k + 1, int((now - start) / every) + 1)  # next grid point not yet passed
        delay = start + k * every - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    out.flush()
    return count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.probe", description="probe a TCP service every few ms")
    p.add_argument("--target", required=True, help="IP:PORT of the service (the VIP)")
    p.add_argument("--every-ms", type=float, default=5.0, help="interval between attempts (default 5)")
    p.add_argument("--timeout-ms", type=float, default=100.0, help="connect+answer timeout (default 100)")
    p.add_argument("--out", type=Path, required=True, help="JSON lines file to append to")
    stop = p.add_mutually_exclusive_group(required=True)
    stop.add_argument("--until-file", type=Path, help="stop once this file exists")
    stop.add_argument("--duration-s", type=float, help="stop after this many seconds")
    args = p.parse_args(argv)
    host, sep, port_text = args.target.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        p.error(f"--target must be IP:PORT, got {args.target!r}")
    if args.every_ms <= 0 or args.timeout_ms <= 0:
        p.error("--every-ms and --timeout-ms must be positive")
    with open(args.out, "a") as out:
        run(host, int(port_text), args.every_ms, args.timeout_ms, out, args.until_file, args.duration_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
