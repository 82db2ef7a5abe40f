"""The prober: runs inside the client node and contacts the service on the VIP every few ms.

`python -m lab.node.probe --target IP:PORT --every-ms 5 --out FILE (--until-file STOP | --duration-s N)`

Each attempt writes one line (flushed at least every 50 ms, and at once when the answer changes):
  {"mono": when the answer (or the error, or the timeout) came, "sent_mono": start of the attempt,
   "source": "probe", "event": "probe", "ok": bool, "answer": node name or null, "rtt_ms": float,
   "error": reason when not ok}
The service answers "<node> <label>\n"; `answer` is the node. Attempts are paced on a fixed grid
(start + k * every) and overlap: a new attempt starts on every grid point whatever the earlier ones are
doing, so the first answer after an outage is seen within one interval, not one timeout.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

FLUSH_EVERY_S = 0.05
# The prober is a measuring instrument: at a low realtime priority (below every daemon under test: hbd
# and keepalived use 50) its own scheduling delays stay around a millisecond instead of the ~10 ms a
# busy 2-core machine adds, and it still never delays the daemons.
INSTRUMENT_RT_PRIORITY = 5


class _Attempt:
    """One non-blocking connect + read; attempts overlap, so a SYN lost to a dead MAC does not hide the
    moment the service comes back (a sequential prober would be blind for a whole timeout)."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.mono = time.monotonic()
        self.deadline = self.mono + timeout_s
        self.data = b""
        self.connected = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.error: str | None = None
        code = self.sock.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            self.error = os.strerror(code)

    def record(self, error: str | None = None) -> dict[str, Any]:
        self.sock.close()
        # `mono` is when the outcome was known: an attempt sent during the outage may be answered much
        # later (its SYN waits in the client's ARP queue until the new owner's GARP), and the client was
        # served at the answer, not at the send.
        done = time.monotonic()
        rec: dict[str, Any] = {"mono": done, "source": "probe", "event": "probe", "sent_mono": self.mono}
        rec.update(ok=False, answer=None)
        words = self.data.decode("utf-8", "replace").split()
        error = error or self.error
        if error is None and words:
            rec["ok"] = True
            rec["answer"] = words[0]
        else:
            rec["error"] = error or "empty answer"
        rec["rtt_ms"] = round((done - self.mono) * 1000, 3)
        return rec

    def on_ready(self) -> bool:
        """Progress the attempt; True when it is finished."""
        if not self.connected:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.error = "refused" if code == errno.ECONNREFUSED else os.strerror(code)
                return True
            self.connected = True
            return False
        try:
            chunk = self.sock.recv(256)
        except BlockingIOError:
            return False
        except OSError as e:
            self.error = e.strerror or type(e).__name__
            return True
        self.data += chunk
        return not chunk or self.data.endswith(b"\n") or len(self.data) >= 256


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
    sel = selectors.DefaultSelector()
    pending: list[_Attempt] = []

    def finish(a: _Attempt, error: str | None = None) -> None:
        nonlocal count, last_flush, last_answer
        if a in pending:
            pending.remove(a)
            sel.unregister(a.sock)
        rec = a.record(error)
        out.write(json.dumps(rec) + "\n")
        count += 1
        now = time.monotonic()
        if rec["answer"] != last_answer or now - last_flush >= FLUSH_EVERY_S:
            out.flush()
            last_flush = now
            last_answer = rec["answer"]

    stopping = False
    while not stopping or pending:
        now = time.monotonic()
        if not stopping:
            if duration_s is not None and now - start >= duration_s:
                stopping = True
            elif until_file is not None and k % 20 == 0 and (until_file.exists() or os.getppid() != parent):
                stopping = True
        if not stopping and now >= start + k * every:
            a = _Attempt(host, port, timeout_ms / 1000)
            if a.error is not None:
                pending.append(a)
                sel.register(a.sock, selectors.EVENT_WRITE, a)
                finish(a)
            else:
                pending.append(a)
                sel.register(a.sock, selectors.EVENT_WRITE, a)
            k = max(k + 1, int((now - start) / every) + 1)  # next grid point not yet passed
        for a in [a for a in pending if a.deadline <= now]:
            finish(a, "timeout")
        wake = min([a.deadline for a in pending] + ([] if stopping else [start + k * every]), default=now)
        for key, _mask in sel.select(max(wake - time.monotonic(), 0)):
            a = key.data
            was_connected = a.connected
            if a.on_ready():
                finish(a)
            elif a.connected and not was_connected:
                sel.modify(a.sock, selectors.EVENT_READ, a)
    out.flush()
    sel.close()
    return count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab.node.probe", description="probe a TCP service every few ms"
    )
    p.add_argument("--target", required=True, help="IP:PORT of the service (the VIP)")
    p.add_argument("--every-ms", type=float, default=5.0, help="interval between attempts (default 5)")
    p.add_argument("--timeout-ms", type=float, default=100.0, help="connect+answer timeout (default 100)")
    p.add_argument("--out", type=Path, required=True, help="JSON lines file to append to")
    p.add_argument(
        "--rt-priority",
        type=int,
        default=INSTRUMENT_RT_PRIORITY,
        help=f"SCHED_FIFO priority of the prober (default {INSTRUMENT_RT_PRIORITY}; 0: normal scheduling)",
    )
    stop = p.add_mutually_exclusive_group(required=True)
    stop.add_argument("--until-file", type=Path, help="stop once this file exists")
    stop.add_argument("--duration-s", type=float, help="stop after this many seconds")
    args = p.parse_args(argv)
    host, sep, port_text = args.target.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        p.error(f"--target must be IP:PORT, got {args.target!r}")
    if args.every_ms <= 0 or args.timeout_ms <= 0:
        p.error("--every-ms and --timeout-ms must be positive")
    if args.rt_priority > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(args.rt_priority))
        except OSError as exc:  # not root: measure anyway, with a coarser floor
            print(
                f"lab.node.probe: no realtime priority ({exc}); answers may be late by the machine's noise",
                file=sys.stderr,
            )
    with open(args.out, "a") as out:
        run(host, int(port_text), args.every_ms, args.timeout_ms, out, args.until_file, args.duration_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
