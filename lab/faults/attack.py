"""Attacks on the heartbeat port from a lab node without the key (issue 11), run by scapy-based node
programs (lab/node/flood.py, lab/node/replay.py):

  junk_flood  `rate` x `size`-byte datagrams to port 694 for `duration` (junk, or wrong-key statuses);
              ends by itself (a `fault.heal` record with the counts), or earlier at the heal
  capture     sniff heartbeats on one of the node's links into <node dir>/capture.pcap
  replay      send captured frames again, unchanged (e.g. the peer's last hb_takeover after a restart)

Bounded: the programs refuse a destination outside the topology's own subnets (passed as --allow) and
cap rate, size, count and time. Both backends: the Docker node image has scapy too (NODE_LAB_EXTRAS in
lab/backends/docker/image.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

from lab.faults.base import Fault, FaultContext, FaultError, Given, node_of
from lab.spec import fault_params as fp

START_TIMEOUT_S = 10.0  # python + scapy import in a node, on a busy 2-core VM
END_GRACE_S = 5.0


def _attacker(ctx: FaultContext, fault: str, p: fp.AttackFrom) -> tuple[str, str, ipaddress.IPv4Interface]:
    """(node, iface, its address on the link) of the attacking end."""
    if p.node is not None:
        node = node_of(ctx, fault, p.node)
    elif ctx.topology.client is not None:
        node = ctx.topology.client.name
    else:
        raise FaultError(f"{fault}: topology {ctx.topology.name} has no client: name the attacking node")
    ends = list(ctx.topology.endpoints_of(node))
    if p.link is not None:
        ends = [(s, e) for s, e in ends if s.name == p.link]
        if not ends:
            raise FaultError(f"{fault}: node {node} is not on {p.link}")
    else:
        ends = [(s, e) for s, e in ends if s.heartbeat != "none"] or ends
        if not ends:
            raise FaultError(f"{fault}: node {node} has no network interface")
    _seg, end = ends[0]
    return node, end.iface, end.ip


def _lab_networks(ctx: FaultContext) -> list[str]:
    nets = {str(e.ip.network) for s in ctx.topology.segments for e in s.endpoints}
    return sorted(nets)


def _records(path: Path, offset: int) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-5:])
    except OSError:
        return "(no log)"


class _Program:
    """One node program started by a fault: its pid, its JSON-lines output and its log."""

    def __init__(self, ctx: FaultContext, node: str, module: str, args: list[str], out: Path) -> None:
        self.ctx, self.node, self.out = ctx, node, out
        root = ctx.backend.node_dirs(node).root
        root.mkdir(parents=True, exist_ok=True)
        self.log = out.with_suffix(".log")
        self.offset = _size(out)
        argv = [*ctx.backend.python_argv(module), *args, "--out", str(out)]
        self.pid = ctx.backend.spawn(node, argv, self.log)
        self.healed = False

    def wait_for(
        self, events: tuple[str, ...], fault: str, timeout_s: float = START_TIMEOUT_S
    ) -> dict[str, Any]:
        """The first record named in `events`; FaultError if the program exits or is slow without one."""
        deadline = time.monotonic() + timeout_s
        while True:
            for rec in _records(self.out, self.offset):
                if rec.get("event") in events:
                    return rec
            if not self.ctx.backend.alive(self.pid):
                for rec in _records(self.out, self.offset):  # it may have written and exited at once
                    if rec.get("event") in events:
                        return rec
                raise FaultError(
                    f"{fault}: {self.node} program exited without {events[0]}:\n{_tail(self.log)}"
                )
            if time.monotonic() > deadline:
                raise FaultError(f"{fault}: no {events[0]} from {self.node} within {timeout_s:g} s")
            time.sleep(0.01)

    def stop(self, timeout_s: float) -> None:
        if self.ctx.backend.alive(self.pid):
            with contextlib.suppress(FaultError, OSError):
                self.ctx.backend.signal(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.ctx.backend.alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.ctx.backend.alive(self.pid):
            with contextlib.suppress(FaultError, OSError):
                self.ctx.backend.signal(self.pid, signal.SIGKILL)


class JunkFlood(Fault[fp.JunkFlood]):
    params = fp.JunkFlood

    def __init__(self) -> None:
        self.running: dict[tuple[int, str], _Program] = {}

    def inject(self, ctx: FaultContext, p: fp.JunkFlood, given: Given) -> dict[str, Any]:
        node, _iface, addr = _attacker(ctx, self.name, p)
        dst = p.dst or str(addr.network.broadcast_address)
        claim = p.claim_src or ctx.topology.servers[0].name
        args = ["--dst", dst, "--rate", f"{p.rate:g}", "--size", str(p.size), "--duration", f"{p.duration:g}"]
        args += ["--kind", p.kind, "--claim-src", claim]
        args += [a for net in _lab_networks(ctx) for a in ("--allow", net)]
        if p.spoof_src:
            args += ["--spoof-src", p.spoof_src]
        requested = time.monotonic()
        prog = _Program(ctx, node, "lab.node.flood", args, ctx.backend.node_dirs(node).root / "flood.jsonl")
        start = prog.wait_for(("flood.start",), self.name)
        self.running[(id(ctx), node)] = prog
        # The flood ends by itself: record its end and counts then, unless a heal came first.
        timer = threading.Timer(p.duration + 0.5, self._ended, args=(ctx, node, prog, dict(given)))
        timer.daemon = True
        ctx.timers.append(timer)
        timer.start()
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=float(start["first_mono"]),
            requested_mono=requested,
            node=node,
            dst=dst,
            pid=prog.pid,
        )

    def _ended(self, ctx: FaultContext, node: str, prog: _Program, given: Given) -> dict[str, Any] | None:
        if prog.healed:
            return None
        prog.healed = True
        prog.stop(END_GRACE_S)
        end = next((r for r in _records(prog.out, prog.offset) if r.get("event") == "flood.end"), {})
        self.running.pop((id(ctx), node), None)
        return ctx.emit(
            "fault.heal",
            self.name,
            given,
            mono=float(end.get("mono", time.monotonic())),
            node=node,
            sent=end.get("sent"),
            bytes=end.get("bytes"),
            errors=end.get("errors"),
            stopped_early=end.get("stopped_early"),
        )

    def heal(self, ctx: FaultContext, p: fp.JunkFlood, given: Given) -> dict[str, Any]:
        node, _iface, _addr = _attacker(ctx, self.name, p)
        prog = self.running.get((id(ctx), node))
        if prog is None:
            raise FaultError(f"{self.name}: no flood is running from {node}")
        rec = self._ended(ctx, node, prog, given)
        if rec is None:
            raise FaultError(f"{self.name}: the flood from {node} already ended")
        return rec


class Capture(Fault[fp.Capture]):
    params = fp.Capture

    def __init__(self) -> None:
        self.running: dict[tuple[int, str], _Program] = {}

    def inject(self, ctx: FaultContext, p: fp.Capture, given: Given) -> dict[str, Any]:
        node, iface, _addr = _attacker(ctx, self.name, p)
        root = ctx.backend.node_dirs(node).root
        args = [
            "capture",
            "--iface",
            iface,
            "--pcap",
            str(root / "capture.pcap"),
            "--duration",
            f"{p.duration:g}",
        ]
        prog = _Program(ctx, node, "lab.node.replay", args, root / "capture.jsonl")
        ready = prog.wait_for(("capture.ready",), self.name)
        self.running[(id(ctx), node)] = prog
        return ctx.emit("fault.inject", self.name, given, mono=float(ready["mono"]), node=node, iface=iface)

    def heal(self, ctx: FaultContext, p: fp.Capture, given: Given) -> dict[str, Any]:
        node, _iface, _addr = _attacker(ctx, self.name, p)
        prog = self.running.pop((id(ctx), node), None)
        if prog is None:
            raise FaultError(f"{self.name}: no capture is running on {node}")
        mono = time.monotonic()
        prog.stop(END_GRACE_S)
        end = next((r for r in _records(prog.out, prog.offset) if r.get("event") == "capture.end"), {})
        return ctx.emit("fault.heal", self.name, given, mono=mono, node=node, packets=end.get("packets"))


class Replay(Fault[fp.Replay]):
    params = fp.Replay

    def inject(self, ctx: FaultContext, p: fp.Replay, given: Given) -> dict[str, Any]:
        node, iface, _addr = _attacker(ctx, self.name, p)
        root = ctx.backend.node_dirs(node).root
        pcap = root / "capture.pcap"
        if _size(pcap) == 0:
            raise FaultError(f"{self.name}: nothing captured on {node} yet (inject a capture first)")
        args = ["send", "--iface", iface, "--pcap", str(pcap), "--which", p.which, "--count", str(p.count)]
        args += ["--every-ms", f"{p.every_ms:g}", "--duration", f"{p.duration:g}"]
        args += [a for net in _lab_networks(ctx) for a in ("--allow", net)]
        if p.type:
            args += ["--type", p.type]
        if p.src:
            args += ["--src", p.src]
        requested = time.monotonic()
        prog = _Program(ctx, node, "lab.node.replay", args, root / "replay.jsonl")
        first = prog.wait_for(("replay.start",), self.name)
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=float(first["mono"]),
            requested_mono=requested,
            node=node,
            iface=iface,
            replayed={k: first.get(k) for k in ("t", "src", "hg", "seq", "frames")},
        )


FAULTS: tuple[Fault[Any], ...] = (JunkFlood(), Capture(), Replay())
