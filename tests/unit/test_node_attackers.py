"""The lab's attacker programs refuse to leave the lab or to run unbounded; replay picks what it is told."""

import pytest

pytest.importorskip("scapy")

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import encode
from hbd.wire.message import Message
from lab.node import flood, replay

KEYS = AuthConfig(active=1, keys=(AuthKey(1, "sha256", b"k"),))


@pytest.mark.parametrize(
    "dst, ok",
    [
        ("192.168.77.255", True),
        ("192.168.77.12", True),
        ("10.77.0.2", True),
        ("8.8.8.8", False),
        ("255.255.255.255", False),
        ("192.168.78.1", False),
    ],
)
def test_the_flood_goes_only_to_lab_networks(dst, ok):
    allow = ["192.168.77.0/24", "10.77.0.0/30"]
    if ok:
        flood.check_destination(dst, allow)
    else:
        with pytest.raises(flood.Refused):
            flood.check_destination(dst, allow)


@pytest.mark.parametrize(
    "extra",
    [["--rate", "0"], ["--rate", "5000"], ["--size", "70000"], ["--duration", "0"], ["--duration", "500"]],
)
def test_the_flood_refuses_unbounded_settings(extra):
    with pytest.raises(SystemExit):
        flood.parse_args(["--dst", "10.0.0.1", "--out", "x", *extra])


def test_flood_payloads():
    assert len(flood.payload("junk", 65507, "bob", 1)) == 65507
    forged = flood.payload("wrong_key", 65507, "bobek", 7)
    assert b"src=bobek\n" in forged and b"\nauth=1 " in forged and len(forged) < 1024


def frame(t: str, src: str, seq: int) -> Ether:
    msg = Message.build(t, src=src, seq=seq, hg=1)
    return (
        Ether()
        / IP(src="192.168.77.12", dst="192.168.77.255")
        / UDP(sport=694, dport=694)
        / encode(msg, KEYS)
    )


def test_replay_selects_by_type_and_source():
    frames = [
        Ether(bytes(f))
        for f in (
            frame("status", "bobek", 1),
            frame("hb_takeover", "bobek", 2),
            frame("status", "bob", 3),
            frame("hb_takeover", "bobek", 4),
            Ether() / IP() / UDP(dport=53) / b"x",
        )
    ]
    last = replay.select(frames, "hb_takeover", "bobek", "last")
    assert [f[replay.Heartbeat].seq for f in last] == [4]
    assert [f[replay.Heartbeat].seq for f in replay.select(frames, None, "bobek", "all")] == [1, 2, 4]
    assert replay.select(frames, "hb_takeover", "bob", "last") == []


def test_replay_refuses_unbounded_counts():
    with pytest.raises(SystemExit):
        replay.parse_args(["send", "--iface", "e", "--pcap", "p", "--out", "o", "--count", "5000"])


def test_a_replayed_frame_gets_correct_checksums_and_the_same_payload():
    captured = Ether(bytes(frame("hb_takeover", "bobek", 4)))
    captured[UDP].chksum = 0x1234  # what a veth capture shows: a partial sum left for checksum offload
    sent = replay.resendable(captured)
    fresh = Ether(bytes(frame("hb_takeover", "bobek", 4)))
    assert sent[UDP].chksum == fresh[UDP].chksum != 0x1234
    assert bytes(sent[replay.Heartbeat].data) == bytes(captured[replay.Heartbeat].data)
    assert (sent.src, sent[IP].src) == (captured.src, captured[IP].src)
