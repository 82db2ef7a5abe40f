"""Read a run's packet capture (<run>/pcap/<segment>.pcap, lab/node/sniffer.py) back as lab records.

Each heartbeat (UDP to or from the run's heartbeat port) becomes {"mono", "link", "src", "t", "hg", "seq",
"key", "verdict", ...}: fields dissected by the scapy layer lab/node/heartbeat.py (classic and netstring),
verdict from hbd.wire's own decoder with the run's authkeys ("accept" or the reason it would be refused).
Each ARP packet about a VIP becomes {"mono", "link", "arp": "garp"|"request"|"reply", "ip", "mac", ...}.

Time: a pcap holds the kernel's wall-clock receive stamps; the recorder wrote time.time() and
time.monotonic() side by side in clock.json, so `mono = stamp - wall + mono` puts every packet on the
clock of the other records (events.jsonl, lab.jsonl, probe.jsonl). Frames are pre-filtered on raw bytes
(Ethernet type, IP protocol, UDP ports) so only heartbeats meet scapy: a run's LAN also carries the
prober's thousands of TCP frames.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.model import AuthConfig

PCAP_DIR = "pcap"
DEFAULT_PORT = 694
ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_VLAN = 0x8100
UDP = 17
_MAGIC = {0xA1B2C3D4: 1e-6, 0xA1B23C4D: 1e-9}


class PcapError(ValueError):
    """A capture file that cannot be read: names the file."""


@dataclass(frozen=True)
class Frame:
    wall: float
    data: bytes


def read_pcap(path: Path) -> Iterator[Frame]:
    """The frames of a classic pcap file (micro- or nanosecond stamps, either byte order). A file cut in
    the middle of a record (the recorder was killed) ends at the last whole one."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise PcapError(f"{path}: not a pcap file (only {len(head)} bytes)")
        for order in ("<", ">"):
            (magic,) = struct.unpack(order + "I", head[:4])
            if magic in _MAGIC:
                break
        else:
            raise PcapError(f"{path}: not a pcap file (magic {head[:4].hex()})")
        resolution = _MAGIC[magic]
        (linktype,) = struct.unpack(order + "I", head[20:24])
        if linktype != 1:
            raise PcapError(f"{path}: link type {linktype}, expected 1 (Ethernet)")
        record = struct.Struct(order + "IIII")
        while True:
            rec = f.read(record.size)
            if len(rec) < record.size:
                return
            sec, frac, incl, _orig = record.unpack(rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield Frame(sec + frac * resolution, data)


def clock_offset(pcap_dir: Path) -> float:
    """mono - wall at the capture's start (clock.json): add it to a pcap stamp to get time.monotonic()."""
    path = pcap_dir / "clock.json"
    try:
        start = json.loads(path.read_text())["start"]
        return float(start["mono"]) - float(start["wall"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PcapError(f"{path}: no clock pair of the capture ({e})") from e


def _l3(data: bytes) -> tuple[int, int] | None:
    """(ethertype, offset of its payload), past one VLAN tag."""
    if len(data) < 14:
        return None
    (kind,) = struct.unpack_from("!H", data, 12)
    if kind == ETH_VLAN and len(data) >= 18:
        (kind,) = struct.unpack_from("!H", data, 16)
        return kind, 18
    return kind, 14


def udp_payload(data: bytes, port: int) -> tuple[str, str, bytes] | None:
    """(ip src, ip dst, payload) of an IPv4 UDP datagram from or to `port`; None for anything else."""
    l3 = _l3(data)
    if l3 is None or l3[0] != ETH_IPV4:
        return None
    off = l3[1]
    if len(data) < off + 20 or data[off + 9] != UDP:
        return None
    ihl = (data[off] & 0x0F) * 4
    (frag,) = struct.unpack_from("!H", data, off + 6)
    if frag & 0x1FFF:  # a later fragment carries no UDP header
        return None
    udp = off + ihl
    if len(data) < udp + 8:
        return None
    sport, dport, length = struct.unpack_from("!HHH", data, udp)
    if port not in (sport, dport):
        return None
    src = str(ipaddress.IPv4Address(data[off + 12 : off + 16]))
    dst = str(ipaddress.IPv4Address(data[off + 16 : off + 20]))
    return src, dst, data[udp + 8 : udp + max(length, 8)]


def arp_fields(data: bytes) -> dict[str, Any] | None:
    """An Ethernet/IPv4 ARP packet's operation, sender and target; GARP when sender ip == target ip."""
    l3 = _l3(data)
    if l3 is None or l3[0] != ETH_ARP or len(data) < l3[1] + 28:
        return None
    off = l3[1]
    (op,) = struct.unpack_from("!H", data, off + 6)
    sha, spa = data[off + 8 : off + 14], data[off + 14 : off + 18]
    tpa = data[off + 24 : off + 28]
    ip = str(ipaddress.IPv4Address(spa))
    target = str(ipaddress.IPv4Address(tpa))
    kind = "garp" if spa == tpa else ("request" if op == 1 else "reply" if op == 2 else f"op{op}")
    return {"arp": kind, "ip": ip, "target": target, "mac": sha.hex(":")}


def run_authkeys(run_dir: Path) -> AuthConfig | None:
    """The authkeys the run's daemons used (every node of a run has the same); None if none is found."""
    for path in sorted((run_dir / "nodes").glob("*/ha.d/authkeys")):
        diag = Diagnostics(str(path))
        auth = parse_authkeys(path.read_text(), diag)
        if diag.ok:
            return auth
    return None


def run_vips(run_dir: Path) -> set[str] | None:
    """The VIPs of the run's topology (lab-run.json names it); None when it cannot be loaded."""
    from lab.spec.topology import TopologyError, load_topology

    try:
        meta = json.loads((run_dir / "lab-run.json").read_text())
        topology = load_topology(str(meta["topology"]))
    except (OSError, ValueError, KeyError, TopologyError):
        return None
    return {str(g.vip.ip) for g in topology.groups}


def run_port(run_dir: Path) -> int:
    try:
        meta = json.loads((run_dir / "lab-run.json").read_text())
        return int((meta.get("daemon") or {}).get("udpport", DEFAULT_PORT))
    except (OSError, ValueError, TypeError):
        return DEFAULT_PORT


def packet_records(
    run_dir: Path,
    *,
    auth: AuthConfig | None = None,
    vips: set[str] | None = None,
    port: int | None = None,
) -> list[dict[str, Any]]:
    """Every heartbeat and VIP ARP packet of the run's capture, in time order (see the module doc).
    `auth`, `vips`, `port` default to the run's own (its nodes' authkeys, topology, daemon.udpport)."""
    from lab.node.heartbeat import Heartbeat  # scapy: imported only when a capture is read

    pcap_dir = run_dir / PCAP_DIR
    if not pcap_dir.is_dir():
        raise PcapError(f"{run_dir}: no packet capture (no {PCAP_DIR}/ directory; run with capture on)")
    offset = clock_offset(pcap_dir)
    auth = auth if auth is not None else run_authkeys(run_dir)
    vips = vips if vips is not None else run_vips(run_dir)
    port = port if port is not None else run_port(run_dir)
    records: list[dict[str, Any]] = []
    for path in sorted(pcap_dir.glob("*.pcap")):
        link = path.stem
        for frame in read_pcap(path):
            base = {"mono": frame.wall + offset, "link": link}
            udp = udp_payload(frame.data, port)
            if udp is not None:
                hb = Heartbeat(data=udp[2])
                verdict = hb.verdict(auth) if auth is not None else "no_authkeys"
                records.append(
                    {**base, "kind": "heartbeat", "ip_src": udp[0], "ip_dst": udp[1],
                     **hb.summary_dict(), "verdict": verdict}
                )  # fmt: skip
                continue
            arp = arp_fields(frame.data)
            if arp is not None and (vips is None or arp["ip"] in vips or arp["target"] in vips):
                records.append({**base, "kind": "arp", **arp})
    records.sort(key=lambda r: r["mono"])
    return records


def captured_heartbeats(run_dir: Path) -> list[dict[str, Any]]:
    """The heartbeat records of a run's capture; [] for a run recorded without one (the bench) or whose
    capture cannot be read (the timeline is drawn without heartbeat lanes; `hblab pcap` says why)."""
    try:
        return [r for r in packet_records(run_dir) if r["kind"] == "heartbeat"]
    except PcapError:
        return []


def format_record(rec: dict[str, Any]) -> str:
    """One line of `hblab pcap`."""
    head = f"{rec['mono']:14.6f}  {rec['link']:<12}"
    if rec["kind"] == "arp":
        about = rec["ip"] if rec["arp"] in ("garp", "reply") else f"who-has {rec['target']} tell {rec['ip']}"
        return f"{head} ARP {rec['arp']:<8} {about} {rec['mac']}"
    hg = f"{rec['hg']:#x}" if rec.get("hg") is not None else "-"
    seq = f"{rec['seq']:#x}" if rec.get("seq") is not None else "-"
    key = rec.get("key") if rec.get("key") is not None else "-"
    return (
        f"{head} HB  {rec.get('src') or '-':<10} {rec.get('t') or '-':<14} hg={hg} seq={seq} key={key} "
        f"{rec['verdict']}"
    )


HEADER = f"{'mono':>14}  {'link':<12} kind / fields"
