"""A null-modem cable between two nodes: two pty pairs and a relay that can be cut and healed.

Why not socat: `socat pty,link=A pty,link=B` creates fresh ptys each time it starts, so healing a cut
line by restarting socat would hand the daemons new devices while they still hold the old ones. This
relay owns both pty pairs for the whole run and cutting only stops forwarding bytes (what pulling a
serial cable does); the paths the daemons opened stay valid.

Control: SIGUSR1 cuts, SIGUSR2 heals, SIGTERM ends. The relay acknowledges each change in a JSON
status file, which is what `SerialPair.cut()` / `heal()` wait for (a cut that was not acknowledged
fails the run). Run as `python -m lab.backends.serial --a LINK --b LINK --status FILE`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path
from types import FrameType

from lab.paths import PROJECT_ROOT

ACK_TIMEOUT_S = 5.0


class SerialError(Exception):
    pass


def _write_status(path: Path, relaying: bool, a: str, b: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"pid": os.getpid(), "relaying": relaying, "a": a, "b": b, "mono": time.monotonic()})
    )
    os.replace(tmp, path)


def _link(target: str, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(link.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def relay(a_link: Path, b_link: Path, status: Path) -> None:
    """Relay bytes between two pty pairs until SIGTERM."""
    masters: list[int] = []
    names: list[str] = []
    for link in (a_link, b_link):
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass as they are
        # The slave stays open here: reading a master whose slave nobody holds fails with EIO.
        os.set_blocking(master, False)
        masters.append(master)
        names.append(os.ttyname(slave))
        _link(names[-1], link)
    state = {"relaying": True, "running": True}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGTERM:
            state["running"] = False
            return
        state["relaying"] = signum == signal.SIGUSR2
        _write_status(status, state["relaying"], *names)

    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
        signal.signal(sig, on_signal)
    _write_status(status, True, *names)
    other = {masters[0]: masters[1], masters[1]: masters[0]}
    while state["running"]:
        try:
            ready, _, _ = select.select(masters, [], [], 0.5)
        except InterruptedError:
            continue
        for fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EIO):
                    continue
                raise
            if not state["relaying"]:
                continue  # the cable is cut: bytes fall on the floor
            try:
                os.write(other[fd], data)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
                # nobody reads the far end and its buffer is full: a real line loses the bytes too
    for link in (a_link, b_link):
        with contextlib.suppress(FileNotFoundError):
            link.unlink()


class SerialPair:
    """The host side of one relay: start it, cut and heal it, stop it."""

    def __init__(self, name: str, a_link: Path, b_link: Path, status: Path) -> None:
        self.name = name
        self.a_link = a_link
        self.b_link = b_link
        self.status_path = status
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, log_path: Path) -> int:
        with contextlib.suppress(FileNotFoundError):
            self.status_path.unlink()
        argv = [sys.executable, "-m", "lab.backends.serial", "--a", str(self.a_link), "--b", str(self.b_link)]
        argv += ["--status", str(self.status_path)]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": _project_root()},
            )
        self._wait_for(True, "start")
        return self.process.pid

    def status(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def relaying(self) -> bool:
        st = self.status()
        return bool(st and st.get("relaying")) and self.process is not None and self.process.poll() is None

    def cut(self) -> None:
        self._signal(signal.SIGUSR1)
        self._wait_for(False, "cut")

    def heal(self) -> None:
        self._signal(signal.SIGUSR2)
        self._wait_for(True, "heal")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=3)

    def _signal(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            raise SerialError(f"serial line {self.name}: relay is not running")
        self.process.send_signal(sig)

    def _wait_for(self, relaying: bool, what: str) -> None:
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SerialError(
                    f"serial line {self.name}: relay exited ({self.process.returncode}) during {what}"
                )
            st = self.status()
            if st is not None and st.get("relaying") is relaying and self.a_link.is_symlink():
                return
            time.sleep(0.005)
        raise SerialError(
            f"serial line {self.name}: relay did not acknowledge {what} within {ACK_TIMEOUT_S} s"
        )


def _project_root() -> str:
    return str(PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab.backends.serial", description="relay between two pty pairs"
    )
    p.add_argument("--a", required=True, type=Path, help="symlink to create for end A's pty")
    p.add_argument("--b", required=True, type=Path, help="symlink to create for end B's pty")
    p.add_argument("--status", required=True, type=Path, help="JSON status file (acknowledges cut/heal)")
    args = p.parse_args(argv)
    relay(args.a, args.b, args.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
