"""The protocol prober's records: the TCP probe's shape per attempt, the node from the protocol's own
answer, and the SQL read-back at the end."""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lab.node import app_probe


def test_each_attempt_is_one_record_of_the_probe_shape_and_the_readback_comes_last() -> None:
    out = io.StringIO()
    calls: list[int] = []

    def attempt(seq: int) -> dict[str, Any]:
        calls.append(seq)
        return {"ok": True, "answer": "bob", "id": f"r-{seq}"}

    count = app_probe.run(attempt, "sql", 5, out, None, 0.05, finish=lambda: {"ids": ["r-0"], "node": "bob"})
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(calls) >= 5
    probes, last = records[:-1], records[-1]
    assert sorted(r["id"] for r in probes) == [f"r-{seq}" for seq in sorted(calls)]
    for r in probes:
        assert r["source"] == "probe" and r["event"] == "probe" and r["protocol"] == "sql"
        assert r["sent_mono"] <= r["mono"] and r["rtt_ms"] >= 0 and r["ok"] and r["answer"] == "bob"
    assert last["event"] == "sql.rows" and last["ids"] == ["r-0"] and last["mono"] >= probes[-1]["mono"]


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/" else 404
        self.send_response(status)
        self.send_header("X-Served-By", "bobek")
        self.end_headers()
        self.wfile.write(b"page")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Page)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_answer_is_the_served_by_header(web: int) -> None:
    assert app_probe.http_attempt("127.0.0.1", web, 2.0, 0) == {"ok": True, "answer": "bobek"}


def test_http_refused_is_an_error_without_a_node() -> None:
    with socket.socket() as idle:  # bound, never listening: connections are refused
        idle.bind(("127.0.0.1", 0))
        rec = app_probe.http_attempt("127.0.0.1", idle.getsockname()[1], 1.0, 0)
    assert rec["ok"] is False and rec["answer"] is None and rec["error"]
