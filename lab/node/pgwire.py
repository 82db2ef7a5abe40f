"""A minimal PostgreSQL client (frontend/backend protocol 3.0, simple query, trust authentication only).

The SQL probe speaks it directly: a psql process per attempt cost 1-2 s on the lab's busy 2-core
machine (a probe that loads the machine it measures), a socket costs a few milliseconds. Only what the
probe needs: connect, run one statement outside a transaction block (PostgreSQL commits it before it
answers ReadyForQuery: that answer is the commit's acknowledgement), read the rows as text, close.
"""

from __future__ import annotations

import socket
import struct

PROTOCOL_3_0 = 196608
AUTH_OK = 0


class PgError(Exception):
    """The server refused (an ErrorResponse: its message), or spoke something this client does not."""


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise PgError("the server closed the connection")
        data += chunk
    return data


def _read(sock: socket.socket) -> tuple[bytes, bytes]:
    head = _recv_exact(sock, 5)
    (length,) = struct.unpack("!I", head[1:])
    return head[:1], _recv_exact(sock, length - 4)


def _error_text(body: bytes) -> str:
    """An ErrorResponse's fields: the severity and message (M) are what a record needs."""
    fields = {f[:1]: f[1:].decode("utf-8", "replace") for f in body.split(b"\0") if f}
    return f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', '?')}"


def query(host: str, port: int, sql: str, timeout_s: float, user: str = "postgres") -> list[list[str | None]]:
    """Run `sql` (one statement, autocommit) and return its rows as text; PgError or OSError otherwise."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        params = b"user\0" + user.encode() + b"\0database\0postgres\0\0"
        sock.sendall(struct.pack("!II", len(params) + 8, PROTOCOL_3_0) + params)
        while True:  # authentication, then parameters until ReadyForQuery
            kind, body = _read(sock)
            if kind == b"E":
                raise PgError(_error_text(body))
            if kind == b"R" and struct.unpack("!I", body[:4])[0] != AUTH_OK:
                raise PgError("the server asks for a password: the lab's clients are trusted")
            if kind == b"Z":
                break
        sock.sendall(_message(b"Q", sql.encode() + b"\0"))
        rows: list[list[str | None]] = []
        error: str | None = None
        while True:
            kind, body = _read(sock)
            if kind == b"D":
                (count,) = struct.unpack("!H", body[:2])
                at, row = 2, []
                for _ in range(count):
                    (size,) = struct.unpack("!i", body[at : at + 4])
                    at += 4
                    row.append(None if size < 0 else body[at : at + size].decode("utf-8", "replace"))
                    at += max(size, 0)
                rows.append(row)
            elif kind == b"E":
                error = _error_text(body)
            elif kind == b"Z":  # the statement is over (committed, unless an error came first)
                break
        sock.sendall(_message(b"X", b""))
    if error is not None:
        raise PgError(error)
    return rows
