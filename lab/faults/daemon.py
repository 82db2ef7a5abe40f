"""Faults on the daemon's own process, its resources and its state (issue 11 "crashes and hangs"):

  daemon_kill     SIGKILL of the worker only (hbd's supervisor restarts it; services and VIP untouched)
  service_kill    SIGKILL of the lab service's responders; the daemon untouched
  resource_fail   the next start/stop/status of the lab service fails or hangs (a flag file that
                  lab/node/service/hblab-service honours); heal removes it if still unused
  state_dir_full  nothing can be created, renamed or removed in the daemon's state dir (`chattr +i`)
  hbctl           an operator command (standby/takeover) typed on a node: a step, not a fault

Each verifies what it did (the worker is gone, no responder is left, the flag file is in place, a file
cannot be created in the state dir, hbctl answered 0) or raises FaultError.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from lab.faults.base import Fault, FaultContext, FaultError, Given, daemon_pid, node_of, wait_until
from lab.spec import fault_params as fp

APPLIED_LOG = "applied.log"  # written by hblab-service each time an injected failure is used


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _children(pid: int) -> list[int]:
    """Direct children of a host pid, from every thread's children list."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _is_hbd_run(pid: int) -> bool:
    args = _cmdline(pid)
    return "run" in args and ("hbd.cli" in args or any(a.endswith("/hbd") for a in args[:2]))


def worker_of(pid: int) -> tuple[int, int | None]:
    """(worker pid, supervisor pid or None) for the daemon the lab started as `pid`.

    hbd's supervisor keeps the worker as its child (`python -m hbd.cli run` again); without a supervisor
    the lab's pid is the worker. A wrapper between the lab and hbd (a container's exec) is walked through."""
    chain = [pid]
    frontier = [pid]
    while frontier:  # every hbd run process below pid, parents before children
        nxt = [c for p in frontier for c in _children(p)]
        chain += [c for c in nxt if _is_hbd_run(c)]
        frontier = nxt
    hbd = [p for p in chain if _is_hbd_run(p)]
    if not hbd:
        return pid, None
    worker = hbd[-1]
    parent = hbd[-2] if len(hbd) > 1 else None
    return worker, parent


class DaemonKill(Fault[fp.DaemonKill]):
    params = fp.DaemonKill

    def inject(self, ctx: FaultContext, p: fp.DaemonKill, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pid = daemon_pid(ctx, self.name, node)
        worker, supervisor = worker_of(pid)
        mono = time.monotonic()
        ctx.backend.signal(worker, signal.SIGKILL)
        done = wait_until(lambda: not ctx.backend.alive(worker), f"hbd worker {worker} on {node} dies")
        if supervisor is None:
            ctx.daemons.forget(node)  # nothing restarts it: the lab's daemon is gone
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=mono,
            worker_pid=worker,
            supervisor_pid=supervisor,
            verified_mono=done,
        )


def _responders(ctx: FaultContext, node: str, port: int | None) -> list[int]:
    """The hblab-service responders of a node (`... -c <code> hblab-responder PORT NODE LABEL PIDFILE`)."""
    found = []
    for pid in ctx.backend.pids(node):
        args = _cmdline(pid)
        if "hblab-responder" in args:
            at = args.index("hblab-responder")
            if port is None or args[at + 1 : at + 2] == [str(port)]:
                found.append(pid)
    return found


class ServiceKill(Fault[fp.ServiceKill]):
    params = fp.ServiceKill

    def inject(self, ctx: FaultContext, p: fp.ServiceKill, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        pids = _responders(ctx, node, p.port)
        if not pids:
            raise FaultError(
                f"{self.name}: no lab service is running on {node}" + (f" on port {p.port}" if p.port else "")
            )
        mono = time.monotonic()
        for pid in pids:
            with contextlib.suppress(FaultError, OSError):
                ctx.backend.signal(pid, signal.SIGKILL)
        done = wait_until(
            lambda: not any(ctx.backend.alive(x) for x in pids), f"service processes {pids} on {node} die"
        )
        return ctx.emit("fault.inject", self.name, given, mono=mono, pids=pids, verified_mono=done)


class ResourceFail(Fault[fp.ResourceFail]):
    params = fp.ResourceFail

    def _flag(self, ctx: FaultContext, p: fp.ResourceFail) -> tuple[Path, int]:
        node = node_of(ctx, self.name, p.node)
        port = p.port
        if port is None:
            services = [s for g in ctx.topology.groups for s in g.services]
            if not services:
                raise FaultError(f"{self.name}: topology {ctx.topology.name} has no service")
            port = services[0].port
        return ctx.backend.node_dirs(node).config_dir / "faults" / f"{port}.{p.action}", port

    def _applied(self, flag: Path, port: int, action: str) -> int:
        try:
            lines = (flag.parent / APPLIED_LOG).read_text().splitlines()
        except FileNotFoundError:
            return 0
        return sum(1 for line in lines if line.split()[:2] == [str(port), action])

    def inject(self, ctx: FaultContext, p: fp.ResourceFail, given: Given) -> dict[str, Any]:
        flag, port = self._flag(ctx, p)
        flag.parent.mkdir(mode=0o755, exist_ok=True)
        text = f"{p.mode} {p.hang_s:g}{' sticky' if p.sticky else ''}\n"
        mono = time.monotonic()
        tmp = flag.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, flag)  # the script never reads half a line
        if flag.read_text() != text:
            raise FaultError(f"{self.name}: {flag} does not hold {text.strip()!r}")
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=mono,
            port=port,
            flag=str(flag),
            applied_before=self._applied(flag, port, p.action),
        )

    def heal(self, ctx: FaultContext, p: fp.ResourceFail, given: Given) -> dict[str, Any]:
        flag, port = self._flag(ctx, p)
        mono = time.monotonic()
        pending = flag.exists()
        flag.unlink(missing_ok=True)
        if flag.exists():
            raise FaultError(f"{self.name}: {flag} is still there")
        return ctx.emit(
            "fault.heal",
            self.name,
            given,
            mono=mono,
            port=port,
            unused=pending and not p.sticky,
            applied=self._applied(flag, port, p.action),
        )


def _writable(directory: Path) -> bool:
    probe = directory / ".hblab-write-probe"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOSPC):
            return False
        raise FaultError(f"state_dir_full: probing {directory}: {exc}") from exc
    os.close(fd)
    probe.unlink()
    return True


_IMMUTABLE: set[Path] = set()  # state dirs made immutable and not healed yet


@atexit.register
def _clear_immutable() -> None:
    """A run that aborted between inject and heal must not leave a directory nobody can delete."""
    for directory in _IMMUTABLE:
        subprocess.run(["chattr", "-i", str(directory)], capture_output=True, check=False)


def _chattr(flag: str, directory: Path) -> None:
    res = subprocess.run(["chattr", flag, str(directory)], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise FaultError(f"state_dir_full: chattr {flag} {directory}: {res.stderr.strip() or res.returncode}")


class StateDirFull(Fault[fp.StateDirFull]):
    """The state dir is a host directory on both backends (a container sees it through a bind mount), so
    the attribute is set from the host: the daemon cannot clear it from inside a node."""

    params = fp.StateDirFull

    def inject(self, ctx: FaultContext, p: fp.StateDirFull, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        state = ctx.backend.node_dirs(node).state_dir
        mono = time.monotonic()
        _chattr("+i", state)
        _IMMUTABLE.add(state)
        if _writable(state):
            _chattr("-i", state)
            raise FaultError(f"{self.name}: {state} is still writable after chattr +i")
        return ctx.emit("fault.inject", self.name, given, mono=mono, state_dir=str(state))

    def heal(self, ctx: FaultContext, p: fp.StateDirFull, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        state = ctx.backend.node_dirs(node).state_dir
        mono = time.monotonic()
        _chattr("-i", state)
        _IMMUTABLE.discard(state)
        if not _writable(state):
            raise FaultError(f"{self.name}: {state} is still not writable after chattr -i")
        return ctx.emit("fault.heal", self.name, given, mono=mono, state_dir=str(state))


class Hbctl(Fault[fp.Hbctl]):
    params = fp.Hbctl

    def inject(self, ctx: FaultContext, p: fp.Hbctl, given: Given) -> dict[str, Any]:
        node = node_of(ctx, self.name, p.node)
        daemon_pid(ctx, self.name, node)
        dirs = ctx.backend.node_dirs(node)
        what = p.scope if p.command != "cleanup" else p.group or _first_group(dirs.config_dir / "haresources")
        hbctl = [*ctx.backend.python_argv("hbd.control_cli"), "--state-dir", str(dirs.state_dir)]
        argv = [*hbctl, p.command, what]
        mono = time.monotonic()
        res = ctx.backend.exec(node, argv, check=False, timeout_s=10)
        if res.returncode != 0:
            raise FaultError(
                f"{self.name}: `hbctl {p.command} {what}` on {node} exited {res.returncode}: "
                f"{(res.stderr or res.stdout).strip()[-300:]}"
            )
        return ctx.emit("fault.inject", self.name, given, mono=mono, verified_mono=time.monotonic())


def _first_group(haresources: Path) -> str:
    """The key of the first group (its first resource) in a node's rendered haresources."""
    for line in haresources.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            return words[1]
    raise FaultError(f"hbctl: no resource group in {haresources}")


FAULTS: tuple[Fault[Any], ...] = (DaemonKill(), ServiceKill(), ResourceFail(), StateDirFull(), Hbctl())
