"""The local control socket: one JSON request per line, one JSON answer per line (used by hbctl)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

# A handler answers at once, or with an awaitable when the answer needs I/O first (reload).
Handler = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]
SCOPES = ("all", "local", "foreign")
MAX_REQUEST = 64 * 1024
SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes with the NUL


@contextlib.contextmanager
def _addressable(path: Path) -> Iterator[str]:
    """A name for `path` that fits sun_path: deep state dirs (the lab's, pytest's) exceed 107 bytes, so bind
    or connect relative to the socket's directory instead."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield str(path)
        return
    cwd = os.open(".", os.O_RDONLY)
    try:
        os.chdir(path.parent)
        yield path.name
    finally:
        os.fchdir(cwd)
        os.close(cwd)


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        # The socket is born 0600 (umask during bind) in a 0700 directory (hbd.statefile): a chmod after
        # bind left a window where anyone could connect, and chmod by name follows a planted symlink.
        old_umask = os.umask(0o177)
        try:
            with _addressable(self.path) as name:
                self._server = await asyncio.start_unix_server(self._serve, path=name, limit=MAX_REQUEST)
        finally:
            os.umask(old_umask)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("request must be a JSON object")
                answer = self.handler(request)
                if inspect.isawaitable(answer):
                    answer = await answer
            except (ValueError, KeyError) as exc:
                answer = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def request(path: Path, payload: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """Blocking client call (hbctl, the lab)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        with _addressable(path) as name:
            sock.connect(name)
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise ValueError("malformed answer from hbd")
    return answer
