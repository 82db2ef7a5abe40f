"""The lab's power switch: fence agents inside the nodes power lab nodes off, on and query them.

A real cluster's STONITH device is a network power switch or a management board outside the nodes. Here
the runner serves one on a unix socket: `/run/hblab/<run>/power.sock` on netns, `<run dir>/power.sock` on
Docker (the run dir is bind-mounted at the same path in every container). A pathname unix socket lives in
the filesystem, not in a network namespace, so `lab/node/fence_lab` reaches it from inside any node without
any route out of the lab, and no packet leaves the lab's namespaces.

Protocol: one JSON object per connection, one JSON answer.
  request  {"action": "off"|"on"|"reboot"|"status"|"list"|"monitor", "plug": NODE, "by": NODE}
  answer   {"ok": true, "state": "on"|"off"}  or  {"ok": false, "error": "..."};  list: {"ok", "plugs"}
`off` is the lab's power_off fault (every process of the node SIGKILLed at once, its cables dead from the
switch side, runtime addresses gone) and is recorded in lab.jsonl as `fault.inject` with
`fault: power_off, via: fence_lab, by: <requesting node>`, so every check that understands a power-off
understands a fence. `status` looks at the node itself (processes and cables), not at a remembered
state: it also reports "off" for a node powered off by a scenario step.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from lab.backends.base import LabError
from lab.spec.topology import Topology

SOCKET_NAME = "power.sock"
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL
REQUEST_MAX_BYTES = 4096
CLIENT_TIMEOUT_S = 20.0
ACTIONS = ("off", "on", "reboot", "status", "list", "monitor")


class PowerBackend(Protocol):
    """What the switch needs from the backend (NetnsBackend and DockerBackend have all of it)."""

    def power_off(self, node: str) -> float | None: ...  # the kill's time.monotonic(), if it knows

    def power_on(self, node: str) -> None: ...

    def pids(self, node: str) -> list[int]: ...

    def link_state(self, node: str, iface: str) -> Any: ...


class BootDaemons(Protocol):
    def boot(self, nodes: list[str], together: bool = False) -> None: ...

    def forget(self, node: str) -> None: ...


Record = Callable[[dict[str, Any]], None]


class PowerSwitch:
    """Carries out power requests on the lab; `handle` is the whole protocol, `serve` puts it on a socket."""

    def __init__(
        self, backend: PowerBackend, topology: Topology, daemons: BootDaemons, record: Record
    ) -> None:
        self.backend = backend
        self.topology = topology
        self.daemons = daemons
        self.record = record
        self.lock = threading.Lock()  # one power operation at a time, like one switch
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None
        self.path: Path | None = None
        self.closing = False

    # -- the protocol -------------------------------------------------------------------------------

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Answer one request; never raises (a bad request gets {"ok": false, "error": ...})."""
        action = request.get("action")
        if action not in ACTIONS:
            return {"ok": False, "error": f"unknown action {action!r} (known: {', '.join(ACTIONS)})"}
        if action == "list":
            return {"ok": True, "plugs": [n.name for n in self.topology.servers]}
        if action == "monitor":
            return {"ok": True}
        plug = request.get("plug")
        servers = [n.name for n in self.topology.servers]
        if plug not in servers:
            return {"ok": False, "error": f"unknown plug {plug!r} (plugs: {', '.join(servers)})"}
        by = str(request.get("by") or "?")
        with self.lock:
            try:
                state = self._do(str(action), str(plug), by)
            except LabError as e:
                self._mark("power.error", action=action, plug=plug, by=by, error=str(e))
                return {"ok": False, "error": str(e)}
        return {"ok": True, "state": state}

    def _do(self, action: str, plug: str, by: str) -> str:
        if action == "status":
            return self.state(plug)
        if action in ("off", "reboot") and self.state(plug) == "on":
            mono = time.monotonic()
            killed = self.backend.power_off(plug)  # verifies: no process left, no carrier
            mono = killed if killed is not None else mono
            self.daemons.forget(plug)
            self._mark(
                "fault.inject",
                mono=mono,
                fault="power_off",
                node=plug,
                via="fence_lab",
                by=by,
                verified_mono=time.monotonic(),
            )
        if action in ("on", "reboot") and self.state(plug) == "off":
            self.backend.power_on(plug)
            mono = time.monotonic()
            self.daemons.boot([plug])
            self._mark("fault.inject", mono=mono, fault="power_on", node=plug, via="fence_lab", by=by)
        state = self.state(plug)
        wanted = "off" if action == "off" else "on"
        if state != wanted:
            raise LabError(f"{action} {plug}: the node is still {state}")
        return state

    def state(self, node: str) -> str:
        """Off when no process runs in the node and every cable is dead at the switch, else on."""
        if self.backend.pids(node):
            return "on"
        cables = [e.iface for _s, e in self.topology.endpoints_of(node)]
        if any(self.backend.link_state(node, iface).cable_up for iface in cables):
            return "on"
        return "off"

    def _mark(self, event: str, **fields: Any) -> None:
        rec = {"mono": fields.pop("mono", time.monotonic()), "source": "lab", "event": event, **fields}
        self.record(rec)

    # -- the socket ---------------------------------------------------------------------------------

    def serve(self, path: Path) -> None:
        """Listen on `path` in a background thread until `close()`."""
        if len(os.fsencode(path)) > SOCKET_PATH_MAX:
            raise LabError(
                f"power switch socket {path} is longer than a unix socket path may be "
                f"({SOCKET_PATH_MAX} bytes): use a shorter runs directory"
            )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o600)  # root only: the nodes' daemons run as root
        sock.listen(8)
        sock.settimeout(0.2)  # so close() is noticed
        self.sock, self.path = sock, path
        self.thread = threading.Thread(target=self._accept_loop, name="hblab-power", daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        assert self.sock is not None
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(CLIENT_TIMEOUT_S)
                try:
                    answer = self.handle(_read_request(conn))
                except (OSError, ValueError) as e:
                    answer = {"ok": False, "error": f"bad request: {e}"}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(answer).encode() + b"\n")

    def close(self) -> None:
        self.closing = True
        if self.thread is not None:
            self.thread.join(timeout=CLIENT_TIMEOUT_S)
        if self.sock is not None:
            self.sock.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _read_request(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(REQUEST_MAX_BYTES)
        if not chunk:
            break
        data += chunk
        if len(data) > REQUEST_MAX_BYTES:
            raise ValueError(f"request longer than {REQUEST_MAX_BYTES} bytes")
    obj = json.loads(data.decode(errors="replace") or "null")
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    return obj


def request(path: Path | str, obj: Mapping[str, Any], timeout_s: float = CLIENT_TIMEOUT_S) -> dict[str, Any]:
    """Send one request to a power switch and return its answer (raises OSError/ValueError)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        s.connect(str(path))
        s.sendall(json.dumps(dict(obj)).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(REQUEST_MAX_BYTES)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data.decode(errors="replace") or "null")
    if not isinstance(answer, dict):
        raise ValueError(f"power switch answered {answer!r}")
    return answer
