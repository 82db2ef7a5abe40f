"""Record every gratuitous ARP a client node receives: the GARP bursts of any daemon, seen from the LAN.

    python -m lab.node.arp_watch --iface eth0 --out RUN/arp.jsonl --until-file RUN/.stop [--max-s 600]

One line per gratuitous ARP (sender IP == target IP), flushed every 50 ms:
  {"mono": time.monotonic() when read, "source": "arp", "event": "garp", "ip": "...", "mac": "...",
   "op": 1 request | 2 reply}
The socket takes ARP frames only (the kernel filters by protocol), so the prober's traffic costs it
nothing. Runs at the instruments' low realtime priority (lab/node/probe.py), so its read times stay
within about a millisecond of the frames. Stops when --until-file appears, after --max-s, or at SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ETH_P_ARP = 0x0806
INSTRUMENT_RT_PRIORITY = 5
FLUSH_EVERY_S = 0.05


def parse_garp(frame: bytes) -> dict[str, object] | None:
    """The fields of a gratuitous ARP frame (Ethernet + ARP for IPv4), None for anything else."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    _htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    if ptype != 0x0800 or hlen != 6 or plen != 4:
        return None
    sha, spa, tpa = frame[22:28], frame[28:32], frame[38:42]
    if spa != tpa:
        return None  # an ordinary request or reply, not an announcement
    return {"ip": socket.inet_ntoa(spa), "mac": ":".join(f"{b:02x}" for b in sha), "op": op}


def watch(iface: str, out: Path, until_file: Path | None, max_s: float) -> int:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((iface, 0))
    sock.setblocking(False)
    deadline = time.monotonic() + max_s
    flushed = time.monotonic()
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps({"mono": time.monotonic(), "source": "arp", "event": "arp.watch", "iface": iface}))
        f.write("\n")
        f.flush()
        while time.monotonic() < deadline and not (until_file is not None and until_file.exists()):
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                while True:
                    try:
                        frame = sock.recv(2048)
                    except BlockingIOError:
                        break
                    garp = parse_garp(frame)
                    if garp is not None:
                        record = {"mono": time.monotonic(), "source": "arp", "event": "garp", **garp}
                        f.write(json.dumps(record) + "\n")
            if time.monotonic() - flushed >= FLUSH_EVERY_S:
                f.flush()
                flushed = time.monotonic()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--until-file", type=Path, default=None)
    p.add_argument("--max-s", type=float, default=600.0)
    args = p.parse_args(argv)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(INSTRUMENT_RT_PRIORITY))
    except (OSError, AttributeError):
        pass
    return watch(args.iface, args.out, args.until_file, args.max_s)


if __name__ == "__main__":
    sys.exit(main())
