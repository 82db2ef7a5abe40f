"""Protocol probes: run inside the client node and speak a real service's protocol to the VIP.

`python -m lab.node.app_probe --protocol http|sql --target IP:PORT --every-ms 50 --out FILE
 (--until-file STOP | --duration-s N)`

Each attempt writes one record of the TCP prober's shape (lab/node/probe.py), so takeover_latency and
outage work per protocol:
  {"mono": when the outcome was known, "sent_mono": start, "source": "probe", "event": "probe",
   "protocol": "http"|"sql", "ok": bool, "answer": the node that answered or null, "rtt_ms": float,
   "error": reason when not ok}
  http  GET / (urllib); ok on status 200; the node is the page's X-Served-By header (lab/node/service/
        webserver sets it).
  sql   INSERT of a unique id, autocommit (lab/node/pgwire.py: the server's ReadyForQuery after the INSERT
        is the commit's acknowledgement); the record carries "id"; the node is the server's cluster_name,
        which lab/node/service/pgsql (and pgpromote) set to the node's name. A failed attempt's row is in
        doubt: the commit may have happened with its answer lost.
When told to stop, the sql probe reads every id back from the table, at most READBACK_S long, and writes
  {"mono", "source": "probe", "event": "sql.rows", "ids": [...], "node": who answered} or
  {"mono", "source": "probe", "event": "sql.rows", "error": why}
which lab/checks/rows.py compares with the acknowledged ids (acked_rows).
Attempts overlap on a fixed grid, like the TCP prober: each runs in its own thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lab.node import pgwire

READBACK_S = 3.0
TABLE = "acked"


def _sql(host: str, port: int, sql: str, timeout_s: float) -> tuple[bool, list[list[str | None]], str]:
    """Run one statement on its own connection (autocommit); (ok, rows, error)."""
    try:
        return True, pgwire.query(host, port, sql, timeout_s), ""
    except TimeoutError:
        return False, [], "timeout"
    except (OSError, pgwire.PgError) as e:
        return False, [], (str(e) or type(e).__name__)[:200]


def http_attempt(host: str, port: int, timeout_s: float, _seq: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=timeout_s) as reply:
            reply.read()
            node = reply.headers.get("X-Served-By")
            if reply.status == 200 and node:
                return {"ok": True, "answer": node}
            return {"ok": False, "answer": node, "error": f"HTTP {reply.status}"}
    except urllib.error.HTTPError as e:
        return {"ok": False, "answer": e.headers.get("X-Served-By"), "error": f"HTTP {e.code}"}
    except (OSError, urllib.error.URLError) as e:
        reason = getattr(e, "reason", e)
        return {"ok": False, "answer": None, "error": str(reason)[:200] or type(e).__name__}


def sql_attempt(host: str, port: int, timeout_s: float, seq: int, run_tag: str) -> dict[str, Any]:
    row = f"{run_tag}-{seq}"
    ok, rows, error = _sql(
        host,
        port,
        f"INSERT INTO {TABLE} (id, node) VALUES ('{row}', current_setting('cluster_name')) RETURNING node",
        timeout_s,
    )
    if ok and rows and rows[0][0]:
        return {"ok": True, "answer": rows[0][0], "id": row}
    return {"ok": False, "answer": None, "id": row, "error": error or "empty answer"}


def sql_readback(host: str, port: int, deadline: float) -> dict[str, Any]:
    last = "no attempt"
    while time.monotonic() < deadline:
        sql = f"SELECT current_setting('cluster_name'), array_agg(id) FROM {TABLE}"
        ok, rows, error = _sql(host, port, sql, 2.0)
        if ok and rows:
            node, ids = rows[0]
            return {"node": node, "ids": _text_array(ids or "{}")}
        last = error
        time.sleep(0.1)
    return {"error": f"could not read the table back: {last}"}


def _text_array(text: str) -> list[str]:
    """PostgreSQL's text form of a text[] whose elements need no quoting (the probe's ids: r<hex>-<n>)."""
    inner = text.strip("{}")
    return inner.split(",") if inner else []


def run(
    attempt: Callable[[int], dict[str, Any]],
    protocol: str,
    every_ms: float,
    out: IO[str],
    until_file: Path | None,
    duration_s: float | None,
    finish: Callable[[], dict[str, Any]] | None = None,
) -> int:
    start = time.monotonic()
    parent = os.getppid()
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    count = 0

    def write(rec: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(rec) + "\n")
            out.flush()

    def one(seq: int) -> None:
        sent = time.monotonic()
        rec = attempt(seq)
        done = time.monotonic()
        write(
            {
                "mono": done,
                "sent_mono": sent,
                "source": "probe",
                "event": "probe",
                "protocol": protocol,
                **rec,
                "rtt_ms": round((done - sent) * 1000, 3),
            }
        )

    k = 0
    while True:
        now = time.monotonic()
        if duration_s is not None and now - start >= duration_s:
            break
        if until_file is not None and (until_file.exists() or os.getppid() != parent):
            break
        t = threading.Thread(target=one, args=(k,), daemon=True)
        t.start()
        threads.append(t)
        count += 1
        threads = [t for t in threads if t.is_alive()]
        k = max(k + 1, int((now - start) / (every_ms / 1000)) + 1)
        time.sleep(max(start + k * every_ms / 1000 - time.monotonic(), 0))
    for t in threads:
        t.join()
    if finish is not None:
        write({"mono": time.monotonic(), "source": "probe", "event": f"{protocol}.rows", **finish()})
    return count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.node.app_probe", description="probe a service's protocol")
    p.add_argument("--protocol", choices=("http", "sql"), required=True)
    p.add_argument("--target", required=True, help="IP:PORT of the service (the VIP)")
    p.add_argument("--every-ms", type=float, default=50.0, help="interval between attempts (default 50)")
    p.add_argument("--timeout-ms", type=float, default=2000.0, help="one attempt's timeout (default 2000)")
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
    port, timeout_s = int(port_text), args.timeout_ms / 1000
    # Unique across runs and restarts of the prober: the ids of one table never collide.
    tag = f"r{int(time.time() * 1000):x}"
    finish = None
    if args.protocol == "http":
        attempt: Callable[[int], dict[str, Any]] = lambda seq: http_attempt(host, port, timeout_s, seq)  # noqa: E731
    else:
        attempt = lambda seq: sql_attempt(host, port, timeout_s, seq, tag)  # noqa: E731
        finish = lambda: sql_readback(host, port, time.monotonic() + READBACK_S)  # noqa: E731
    with open(args.out, "a") as out:
        run(attempt, args.protocol, args.every_ms, out, args.until_file, args.duration_s, finish)
    return 0


if __name__ == "__main__":
    sys.exit(main())
