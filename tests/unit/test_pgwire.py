"""The SQL probe's PostgreSQL client against a scripted server: rows, errors, a password demand, a close."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from lab.node import pgwire
from lab.node.app_probe import _text_array


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def data_row(*values: str | None) -> bytes:
    body = struct.pack("!H", len(values))
    for v in values:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v.encode())) + v.encode()
    return msg(b"D", body)


READY = msg(b"Z", b"I")
AUTH_OK = msg(b"R", struct.pack("!I", 0))


def serve(replies: list[bytes], seen: list[bytes]) -> Iterator[int]:
    """A one-connection server: after the startup packet it sends replies[0], after each query the next
    (b"": it hangs up instead)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            for reply in replies:
                seen.append(conn.recv(65536))
                if not reply:
                    return  # b"": hang up
                conn.sendall(reply)
            seen.append(conn.recv(65536))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield port
    t.join(5)
    listener.close()


@pytest.fixture
def seen() -> list[bytes]:
    return []


def test_rows_come_back_as_text_and_the_statement_is_sent(seen: list[bytes]) -> None:
    replies = [AUTH_OK + msg(b"S", b"a\0b\0") + READY, msg(b"T", b"\0\0") + data_row("bob", None)]
    replies[1] += msg(b"C", b"INSERT 0 1\0") + READY
    for port in serve(replies, seen):
        assert pgwire.query("127.0.0.1", port, "INSERT x", 2.0) == [["bob", None]]
    assert b"user\0postgres\0database\0postgres\0" in seen[0]
    assert seen[1] == msg(b"Q", b"INSERT x\0")
    assert seen[2].startswith(b"X")  # the connection is closed politely


def test_an_error_response_is_raised_with_its_message(seen: list[bytes]) -> None:
    error = msg(b"E", b"SERROR\0C23505\0Mduplicate key\0\0") + READY
    for port in serve([AUTH_OK + READY, error], seen):
        with pytest.raises(pgwire.PgError, match="ERROR: duplicate key"):
            pgwire.query("127.0.0.1", port, "INSERT x", 2.0)


def test_a_password_demand_is_refused(seen: list[bytes]) -> None:
    for port in serve([msg(b"R", struct.pack("!I", 5) + b"salt")], seen):
        with pytest.raises(pgwire.PgError, match="password"):
            pgwire.query("127.0.0.1", port, "SELECT 1", 2.0)


def test_a_closed_connection_is_an_error(seen: list[bytes]) -> None:
    for port in serve([b""], seen):
        with pytest.raises(pgwire.PgError, match="closed"):
            pgwire.query("127.0.0.1", port, "SELECT 1", 0.5)


def test_text_arrays_of_ids() -> None:
    assert _text_array("{r1-1,r1-2}") == ["r1-1", "r1-2"]
    assert _text_array("{}") == []
