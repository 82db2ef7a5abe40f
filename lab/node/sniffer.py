"""Record every frame crossing a lab switch into one pcap per segment, from the switch side.

    python -m lab.node.sniffer --out-dir RUN/pcap --tap lan=br-lan --tap crossover=br-crossover \\
        --max-s 1800 --until-file RUN/.stop

Runs where the segments' bridges live (netns: the switch namespace; docker: the host), so a node that is
powered off (its namespace's processes killed, its cables taken down) cannot take the recorder with it:
its last heartbeats are on file. One AF_PACKET socket per bridge, in promiscuous mode (a promiscuous
bridge passes every frame it forwards up to itself, so each frame is seen exactly once per segment).

No scapy and no libpcap: a plain socket and a 24-byte file header keep this cheap enough to run in every
scenario (heartbeats, probes and ARP at a few thousand frames a second). Timestamps are the kernel's
(SO_TIMESTAMPNS, CLOCK_REALTIME, taken when the frame arrived, not when Python got to it); `clock.json`
pairs that clock with time.monotonic() at the start and at the end, which is how lab/analysis/pcap.py
puts captured frames on the lab's monotonic timeline.

Bounded: it stops at SIGTERM, when --until-file appears, after --max-s seconds, or when a pcap reaches
--max-bytes; `capture.end` in clock.json says why and how many frames each segment got.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
SO_TIMESTAMPNS = 35
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
MAX_S = 3600.0
POLL_S = 0.2
PCAP_NSEC_MAGIC = 0xA1B23C4D  # pcap with nanosecond timestamps


def clock_pair(samples: int = 5) -> dict[str, float]:
    """time.time() and time.monotonic() read as close together as this process can: the tightest of
    a few tries (the gap bounds the mapping's error)."""
    best: tuple[float, float, float] | None = None
    for _ in range(samples):
        m0 = time.monotonic()
        wall = time.time()
        m1 = time.monotonic()
        if best is None or m1 - m0 < best[2]:
            best = ((m0 + m1) / 2, wall, m1 - m0)
    assert best is not None
    return {"mono": best[0], "wall": best[1], "gap_s": best[2]}


def pcap_header() -> bytes:
    return struct.pack("<IHHiIII", PCAP_NSEC_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)


def pcap_record(sec: int, nsec: int, frame: bytes) -> bytes:
    return struct.pack("<IIII", sec, nsec, len(frame), len(frame)) + frame


def open_tap(iface: str) -> socket.socket:
    """A promiscuous AF_PACKET socket on `iface` with kernel receive timestamps."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    ifindex = socket.if_nametoindex(iface)
    mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setblocking(False)
    return sock


def _stamp(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, int]:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec, nsec
    now = time.time_ns()  # no kernel stamp (should not happen): the receive time is the next best
    return now // 1_000_000_000, now % 1_000_000_000


class Tap:
    """One segment: its socket and its pcap file."""

    def __init__(self, segment: str, iface: str, out_dir: Path) -> None:
        self.segment = segment
        self.iface = iface
        self.sock = open_tap(iface)
        self.path = out_dir / f"{segment}.pcap"
        self.file: BinaryIO = open(self.path, "wb")
        self.file.write(pcap_header())
        self.file.flush()
        self.frames = 0
        self.bytes = 0

    def drain(self) -> None:
        while True:
            try:
                frame, ancdata, _flags, _addr = self.sock.recvmsg(SNAPLEN, socket.CMSG_SPACE(16))
            except BlockingIOError:
                break
            sec, nsec = _stamp(ancdata)
            record = pcap_record(sec, nsec, frame)
            self.file.write(record)
            self.frames += 1
            self.bytes += len(record)
        self.file.flush()  # readers (and a crash) see whole records

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def run(args: argparse.Namespace) -> int:
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stop: list[str] = []
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.append("sigterm"))
    signal.signal(signal.SIGINT, lambda _s, _f: stop.append("sigint"))
    taps = []
    for spec in args.tap:
        segment, _, iface = spec.partition("=")
        taps.append(Tap(segment, iface, out_dir))
    clock = {
        "start": clock_pair(),
        "taps": {t.segment: t.iface for t in taps},
        "pid": os.getpid(),
    }
    (out_dir / "clock.json").write_text(json.dumps(clock, indent=2) + "\n")  # the "ready" signal
    deadline = time.monotonic() + args.max_s
    by_fd = {t.sock.fileno(): t for t in taps}
    why = "max_s"
    while time.monotonic() < deadline:
        if stop:
            why = stop[0]
            break
        if args.until_file is not None and args.until_file.exists():
            why = "until_file"
            break
        if any(t.bytes > args.max_bytes for t in taps):
            why = "max_bytes"
            break
        try:
            ready, _, _ = select.select(list(by_fd), [], [], POLL_S)
        except InterruptedError:
            continue
        for fd in ready:
            by_fd[fd].drain()
    for t in taps:
        t.drain()
        t.close()
    clock["end"] = clock_pair()
    clock["stopped"] = why
    clock["frames"] = {t.segment: t.frames for t in taps}
    (out_dir / "clock.json").write_text(json.dumps(clock, indent=2) + "\n")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lab.node.sniffer", description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--tap", action="append", required=True, help="SEGMENT=IFACE; repeat")
    parser.add_argument("--max-s", type=float, default=1800.0, help=f"seconds, at most {MAX_S:g}")
    parser.add_argument("--max-bytes", type=int, default=200_000_000, help="per pcap file")
    parser.add_argument("--until-file", type=Path, default=None, help="stop when this file exists")
    args = parser.parse_args(argv)
    if not 0 < args.max_s <= MAX_S:
        parser.error(f"--max-s must be in (0, {MAX_S:g}]")
    for spec in args.tap:
        segment, sep, iface = spec.partition("=")
        if not sep or not segment or not iface or "/" in segment:
            parser.error(f"--tap {spec!r}: want SEGMENT=IFACE")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
