"""`hblab pcap`'s decoder (lab/analysis/pcap.py) on a capture written the way the recorder writes it
(lab/node/sniffer.py's pcap framing) from real packets: hbd-encoded classic statuses, the golden heartbeat
3.0.6 netstring packet, a wrong-key forgery, junk, a GARP for the VIP and ARP noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("scapy")

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import encode
from hbd.wire.message import Message
from lab.analysis.pcap import PcapError, format_record, packet_records, read_pcap
from lab.cli import main as hblab
from lab.node.heartbeat import forged_status, junk, wrong_key
from lab.node.sniffer import pcap_header, pcap_record

WIRE = Path(__file__).resolve().parents[1] / "data" / "wire"
KEYS = AuthConfig(active=1, keys=(AuthKey(1, "sha1", b"hbd-test-key"),))  # the golden packets' key
VIP = "192.168.77.50"
WALL0 = 1_800_000_000.0
MONO0 = 1000.0


def udp_frame(payload: bytes, src: str = "192.168.77.11", dport: int = 694) -> bytes:
    return bytes(
        Ether(src="02:00:00:00:00:11", dst="ff:ff:ff:ff:ff:ff")
        / IP(src=src, dst="192.168.77.255")
        / UDP(sport=694, dport=dport)
        / payload
    )


def status(src: str, seq: int) -> bytes:
    return encode(Message.build("status", st="active", src=src, seq=seq, hg=0x6B06FBC0, ts=1, dt=300), KEYS)


def garp(ip: str, mac: str) -> bytes:
    return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=ip, pdst=ip))


def write_run(tmp_path: Path, frames: dict[str, list[tuple[float, bytes]]]) -> Path:
    """A run directory as the lab leaves it: nodes/*/ha.d/authkeys, pcap/<link>.pcap, pcap/clock.json."""
    run = tmp_path / "run"
    (run / "nodes" / "bob" / "ha.d").mkdir(parents=True)
    (run / "nodes" / "bob" / "ha.d" / "authkeys").write_text("auth 1\n1 sha1 hbd-test-key\n")
    (run / "pcap").mkdir()
    (run / "pcap" / "clock.json").write_text(json.dumps({"start": {"mono": MONO0, "wall": WALL0}}))
    for link, items in frames.items():
        blob = pcap_header()
        for offset_s, frame in items:
            ns = round((WALL0 + offset_s) * 1e9)
            blob += pcap_record(ns // 1_000_000_000, ns % 1_000_000_000, frame)
        (run / "pcap" / f"{link}.pcap").write_bytes(blob)
    return run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    netstring = WIRE.joinpath("status-306-sha1.netstring").read_bytes()
    forged = forged_status("bob", 99, 0x6B06FBC0, wrong_key("sha1", 1))
    return write_run(
        tmp_path,
        {
            "lan": [
                (0.100, udp_frame(status("bob", 0x2F))),
                (0.150, udp_frame(forged, src="192.168.77.100")),
                (0.200, udp_frame(junk(200), src="192.168.77.100")),
                (0.250, garp(VIP, "02:00:00:00:00:12")),
                (0.260, garp("192.168.77.12", "02:00:00:00:00:12")),  # a node's own address: not shown
                (0.300, bytes(Ether() / IP(dst="192.168.77.50") / TCP(dport=8080))),  # the prober: not shown
            ],
            "crossover": [
                (0.120, udp_frame(status("bobek", 0x30), src="10.0.0.2")),
                (0.220, udp_frame(netstring, src="10.0.0.2")),
                (0.230, udp_frame(status("bob", 0x31), dport=9999)),  # from port 694 counts too
            ],
        },
    )


def test_every_heartbeat_has_its_fields_verdict_and_monotonic_time(run_dir: Path) -> None:
    recs = packet_records(run_dir, vips={VIP})
    hbs = [r for r in recs if r["kind"] == "heartbeat"]
    got = [(r["link"], r["src"], r["t"], r["seq"], r["key"], r["verdict"]) for r in hbs]
    assert got == [
        ("lan", "bob", "status", 0x2F, 1, "accept"),
        ("crossover", "bobek", "status", 0x30, 1, "accept"),
        ("lan", "bob", "status", 99, 1, "bad_auth"),  # signed with a key the cluster does not have
        ("lan", None, None, None, None, "no_auth"),  # junk: no fields, no signature
        ("crossover", "nodea", "status", 6, 1, "accept"),  # 3.0.6 netstring, inner and outer HMAC
        ("crossover", "bob", "status", 0x31, 1, "accept"),
    ]
    assert hbs[0]["hg"] == 0x6B06FBC0
    assert hbs[0]["mono"] == pytest.approx(MONO0 + 0.100, abs=1e-6)
    assert [r["mono"] for r in recs] == sorted(r["mono"] for r in recs)


def test_only_arp_about_the_vip_is_kept_and_a_garp_is_named(run_dir: Path) -> None:
    arps = [r for r in packet_records(run_dir, vips={VIP}) if r["kind"] == "arp"]
    assert [(r["arp"], r["ip"], r["mac"]) for r in arps] == [("garp", VIP, "02:00:00:00:00:12")]
    assert "ARP garp" in format_record(arps[0]) and VIP in format_record(arps[0])


def test_a_wrong_authkeys_turns_every_verdict_to_refused(run_dir: Path) -> None:
    other = AuthConfig(active=1, keys=(AuthKey(1, "sha1", b"another-key"),))
    recs = packet_records(run_dir, auth=other, vips={VIP})
    verdicts = {r["verdict"] for r in recs if r["kind"] == "heartbeat"}
    assert "accept" not in verdicts


def test_hblab_pcap_prints_one_line_per_packet(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hblab(["pcap", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("HB  bob" in ln and "seq=0x2f key=1 accept" in ln for ln in lines)
    assert any("crossover" in ln and "nodea" in ln for ln in lines)
    assert hblab(["pcap", "--json", "--link", "crossover", str(run_dir)]) == 0
    recs = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert len(recs) == 3 and {r["link"] for r in recs} == {"crossover"}


def test_a_capture_cut_mid_record_ends_at_the_last_whole_frame(run_dir: Path) -> None:
    path = run_dir / "pcap" / "lan.pcap"
    path.write_bytes(path.read_bytes()[:-10])
    assert len(list(read_pcap(path))) == 5


def test_a_run_without_capture_says_so(tmp_path: Path) -> None:
    with pytest.raises(PcapError, match="no packet capture"):
        packet_records(tmp_path)
    (tmp_path / "pcap").mkdir()
    (tmp_path / "pcap" / "x.pcap").write_bytes(b"nope")
    with pytest.raises(PcapError, match="clock"):
        packet_records(tmp_path)


def test_the_timeline_gets_a_lane_per_captured_link(run_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    from lab.analysis.pcap import captured_heartbeats
    from lab.analysis.plot import _plot_heartbeats, plot_timeline
    from lab.history.records import History, Record

    hbs = captured_heartbeats(run_dir)
    dead = Record(MONO0 + 0.5, "node", "peer.dead", "bobek", {"event": "peer.dead", "node": "bobek"})
    history = History((dead,))
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    labels = _plot_heartbeats(ax, history, hbs, 1, MONO0, {"bob": "C0", "bobek": "C1"})
    assert labels == ["crossover (heartbeats)", "lan (heartbeats)"]
    # the detection's latency starts at the last heartbeat from bob heard before it (crossover, +0.230)
    (line,) = [c for c in ax.collections if c.get_linestyle() and c.get_linestyle()[0][1] is not None]
    assert line.get_segments()[0][0][0] == pytest.approx(0.230, abs=1e-6)
    plt.close(fig)
    assert plot_timeline(history, run_dir / "t.png", heartbeats=hbs).stat().st_size > 0
    assert captured_heartbeats(run_dir / "nodes") == []  # no capture: no lanes, no error
