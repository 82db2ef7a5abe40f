"""Delay, jitter, reorder and duplicate the packets of one interface without netem: an NFQUEUE relay.

    python -m lab.node.delay_relay --iface eth1 --direction both --delay-ms 100 --jitter-ms 20 \\
        --reorder-pct 0 --duplicate-pct 0 --seed 7 --max-s 600 --out delay.jsonl

This kernel has no sch_netem; NFQUEUE works, but only as the iptables target (CONFIG_NFT_QUEUE is off
here, so nft's own `queue` statement fails with "No such file or directory"; iptables-nft reaches the
xt NFQUEUE target through nft_compat). The relay binds an NFQUEUE (queue 4200 + the interface's index,
so two delayed interfaces of a node do not share one), then adds an iptables chain that queues the
interface's packets to it (OUTPUT `-o`, INPUT `-i`; IPv4, all the lab uses), and holds each packet for
delay +- jitter (uniform, like netem without a distribution table) before its verdict (accept). netem's
meaning for the other two knobs: `reorder` P% of packets go out at once, overtaking those held (jitter
larger than the packet spacing reorders too); `duplicate` P% of outgoing packets are also sent a second
time, as a copy written to a raw socket with a mark the queue rule skips (an incoming packet cannot be
duplicated from here: the copy is made for output only).

Bounded and clean: at SIGTERM or after --max-s it deletes its chain first (new packets flow
undelayed), then lets every held packet go, and writes `relay.end` with what it did and how late its
releases were (the accuracy of the added delay as far as the relay sees it). The queue rule has
`--queue-bypass`: if the relay dies without cleaning up, packets pass undelayed rather than vanish, and
the lab's heal says the relay was gone. Records (JSON lines, --out): relay.ready, relay.end, relay.failed.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

QUEUE_BASE = 4200
DUP_MARK = 0x4842  # "HB": copies we send ourselves, skipped by the queue rule
MAX_S = 3600.0
MAX_HELD = 10_000  # the kernel queue's length: past it the kernel drops (bypass: passes) new packets
SO_MARK = 36
CHAIN_PREFIX = "HBLAB_DELAY_"


def chain_name(iface: str) -> str:
    return f"{CHAIN_PREFIX}{iface}"  # 12 + at most 15 characters: under iptables' 28


def queue_of(iface: str) -> int:
    return QUEUE_BASE + socket.if_nametoindex(iface)


def _jumps(iface: str, direction: str) -> list[list[str]]:
    """The rules (without -A/-D) that send the interface's packets to our chain."""
    chain = chain_name(iface)
    rules = []
    if direction in ("out", "both"):  # copies we sent ourselves carry DUP_MARK and go straight out
        rules.append(["OUTPUT", "-o", iface, "-m", "mark", "!", "--mark", f"{DUP_MARK:#x}", "-j", chain])
    if direction in ("in", "both"):
        rules.append(["INPUT", "-i", iface, "-j", chain])
    return rules


def iptables(*args: str, check: bool = True) -> bool:
    res = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, timeout=10)
    if check and res.returncode != 0:
        raise RuntimeError(f"iptables {' '.join(args)}: {res.stderr.strip()}")
    return res.returncode == 0


def add_queue_rules(iface: str, direction: str, queue: int) -> None:
    chain = chain_name(iface)
    iptables("-N", chain)
    iptables("-A", chain, "-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass")
    for rule in _jumps(iface, direction):
        iptables("-I", *rule)


def remove_queue_rules(iface: str, direction: str) -> None:
    """Undo add_queue_rules, whatever part of it happened; raises if the chain is still there after."""
    chain = chain_name(iface)
    for rule in _jumps(iface, direction):
        while iptables("-D", *rule, check=False):
            pass
    iptables("-F", chain, check=False)
    iptables("-X", chain, check=False)
    if iptables("-S", chain, check=False):
        raise RuntimeError(f"iptables chain {chain} is still there")


@dataclass
class Plan:
    """What happens to one packet: when it leaves, and whether a copy follows it."""

    release_at: float
    duplicate: bool
    reordered: bool


@dataclass
class Policy:
    """delay +- jitter, reorder and duplicate shares, from a seeded generator (a run can be repeated)."""

    delay_s: float
    jitter_s: float
    reorder_pct: float
    duplicate_pct: float
    rng: random.Random = field(default_factory=random.Random)

    def plan(self, now: float, outgoing: bool) -> Plan:
        if self.reorder_pct and self.rng.random() * 100 < self.reorder_pct:
            hold, reordered = 0.0, True
        else:
            hold = max(0.0, self.delay_s + self.rng.uniform(-self.jitter_s, self.jitter_s))
            reordered = False
        duplicate = outgoing and bool(self.duplicate_pct) and self.rng.random() * 100 < self.duplicate_pct
        return Plan(now + hold, duplicate, reordered)


class Relay:
    def __init__(self, args: argparse.Namespace, out: IO[str]) -> None:
        from netfilterqueue import NetfilterQueue  # C extension: imported where it is used

        self.args = args
        self.out = out
        self.policy = Policy(
            args.delay_ms / 1000,
            args.jitter_ms / 1000,
            args.reorder_pct,
            args.duplicate_pct,
            random.Random(args.seed),
        )
        self.queue = queue_of(args.iface)
        self.nfq = NetfilterQueue()
        self.nfq.bind(self.queue, self._arrived, max_len=MAX_HELD)
        self.held: list[tuple[float, int, Any, bytes | None]] = []
        self.n = 0
        self.counts = {"packets": 0, "held": 0, "reordered": 0, "duplicated": 0, "released": 0}
        self.late_s: list[float] = []  # release time minus planned release time
        self.raw: socket.socket | None = None
        if args.duplicate_pct and args.direction != "in":
            self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self.raw.setsockopt(socket.SOL_SOCKET, SO_MARK, DUP_MARK)
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.iface.encode())

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps({"mono": time.monotonic(), **record}) + "\n")
        self.out.flush()

    def _arrived(self, pkt: Any) -> None:
        now = time.monotonic()
        outgoing = pkt.hook == 3  # NF_INET_LOCAL_OUT
        plan = self.policy.plan(now, outgoing)
        copy = pkt.get_payload() if plan.duplicate else None
        self.counts["packets"] += 1
        self.counts["reordered" if plan.reordered else "held"] += 1
        self.n += 1
        heapq.heappush(self.held, (plan.release_at, self.n, pkt, copy))

    def release_due(self, now: float, everything: bool = False) -> None:
        while self.held and (everything or self.held[0][0] <= now):
            at, _n, pkt, copy = heapq.heappop(self.held)
            pkt.accept()
            self.counts["released"] += 1
            if not everything:
                self.late_s.append(time.monotonic() - at)
            if copy is not None and self.raw is not None:
                dst = socket.inet_ntoa(copy[16:20])
                try:
                    self.raw.sendto(copy, (dst, 0))
                    self.counts["duplicated"] += 1
                except OSError as e:
                    self.write({"event": "relay.duplicate_failed", "error": str(e)})

    def run(self, stop: list[str]) -> str:
        fd = self.nfq.get_fd()
        deadline = time.monotonic() + self.args.max_s
        while not stop:
            now = time.monotonic()
            if now >= deadline:
                return "max_s"
            wait = min(deadline - now, 0.2)
            if self.held:
                wait = max(0.0, min(wait, self.held[0][0] - now))
            try:
                ready, _, _ = select.select([fd], [], [], wait)
            except InterruptedError:
                continue
            if ready:
                self.nfq.run(block=False)
            self.release_due(time.monotonic())
        return stop[0]

    def summary(self) -> dict[str, Any]:
        late_ms = sorted(x * 1000 for x in self.late_s)
        stats: dict[str, Any] = {}
        if late_ms:
            stats = {
                "late_ms_median": round(statistics.median(late_ms), 3),
                "late_ms_p99": round(late_ms[min(len(late_ms) - 1, int(len(late_ms) * 0.99))], 3),
                "late_ms_max": round(late_ms[-1], 3),
            }
        return {**self.counts, **stats}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop: list[str] = []
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.append("sigterm"))
    signal.signal(signal.SIGINT, lambda _s, _f: stop.append("sigint"))
    with open(args.out, "a", encoding="utf-8") as out:
        try:
            relay = Relay(args, out)
            add_queue_rules(args.iface, args.direction, relay.queue)
        except (OSError, RuntimeError) as e:
            with contextlib.suppress(RuntimeError):
                remove_queue_rules(args.iface, args.direction)
            out.write(json.dumps({"mono": time.monotonic(), "event": "relay.failed", "error": str(e)}) + "\n")
            print(f"delay_relay: {e}", file=sys.stderr)
            return 1
        relay.write({"event": "relay.ready", "iface": args.iface, "queue": relay.queue, **vars_of(args)})
        why = "error"
        try:
            why = relay.run(stop)
        finally:
            try:  # new packets flow undelayed first, then the held ones go: none is lost
                remove_queue_rules(args.iface, args.direction)
            except (OSError, RuntimeError) as e:
                relay.write({"event": "relay.cleanup_failed", "error": str(e)})
            relay.release_due(time.monotonic(), everything=True)
            relay.nfq.unbind()
            relay.write({"event": "relay.end", "why": why, **relay.summary()})
    return 0


def vars_of(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("direction", "delay_ms", "jitter_ms", "reorder_pct", "duplicate_pct", "seed", "max_s")
    return {k: getattr(args, k) for k in keys}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lab.node.delay_relay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--iface", required=True)
    parser.add_argument("--direction", choices=("in", "out", "both"), default="both")
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--reorder-pct", type=float, default=0.0)
    parser.add_argument("--duplicate-pct", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-s", type=float, default=600.0, help=f"seconds, at most {MAX_S:g}")
    parser.add_argument("--out", required=True, help="JSON lines of what happened")
    args = parser.parse_args(argv)
    if not 0 < args.max_s <= MAX_S:
        parser.error(f"--max-s must be in (0, {MAX_S:g}]")
    if args.delay_ms < 0 or args.jitter_ms < 0:
        parser.error("--delay-ms and --jitter-ms must be >= 0")
    for name in ("reorder_pct", "duplicate_pct"):
        if not 0 <= getattr(args, name) <= 100:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 100]")
    return args


if __name__ == "__main__":
    sys.exit(main())
