"""The lab's scapy layer for hbd packets: dissects what hbd.wire really sends, forges what the
hardening scenarios send (junk, wrong-key signatures, byte-exact replays)."""

import random
from pathlib import Path

import pytest

pytest.importorskip("scapy")

from scapy.layers.inet import IP, UDP

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import MAX_MESSAGE_BYTES, decode, encode
from hbd.wire.error import WireError
from hbd.wire.message import Message
from lab.node.heartbeat import (
    HEARTBEAT_PORT,
    Heartbeat,
    forged_status,
    junk,
    packet,
    parse_fields,
    wrong_key,
)

WIRE = Path(__file__).resolve().parents[1] / "data" / "wire"
KEYS = AuthConfig(active=2, keys=(AuthKey(2, "sha256", b"cluster-secret"),))


def on_the_wire(payload: bytes, sport: int = HEARTBEAT_PORT, dport: int = HEARTBEAT_PORT) -> IP:
    """The datagram as bytes and dissected again, as a sniffer would see it."""
    return IP(bytes(IP(src="10.0.0.2", dst="10.0.0.255") / UDP(sport=sport, dport=dport) / payload))


def test_a_real_hbd_status_dissects_into_its_header_fields():
    msg = Message.build("status", st="active", src="bobek", seq=0x2F, hg=0x6B06FBC0, ts=1, dt=300)
    raw = encode(msg, KEYS)
    hb = on_the_wire(raw)[Heartbeat]
    assert (hb.msg_type, hb.src, hb.generation, hb.seq, hb.auth_index) == (
        "status",
        "bobek",
        0x6B06FBC0,
        0x2F,
        2,
    )
    assert hb.encoding == "classic"
    assert bytes(hb.data) == raw  # replays resend exactly these bytes, signature included
    assert "status src=bobek" in hb.mysummary()


@pytest.mark.parametrize("sport, dport", [(HEARTBEAT_PORT, 40000), (40000, HEARTBEAT_PORT)])
def test_bound_to_port_694_either_way(sport, dport):
    assert Heartbeat in on_the_wire(encode(Message.build("status", src="bob"), KEYS), sport, dport)
    assert Heartbeat not in on_the_wire(b">>>\nt=status\n<<<\n", 40000, 40001)


def test_the_golden_classic_and_netstring_packets():
    classic = Heartbeat(WIRE.joinpath("status-sha256.classic").read_bytes())
    assert classic.summary_dict() == {
        "t": "status",
        "src": "bob",
        "hg": 0x6B06FBC0,
        "seq": 0x2F,
        "key": 1,
        "bytes": 146,
    }
    netstring = Heartbeat(WIRE.joinpath("status-306-sha1.netstring").read_bytes())
    assert netstring.encoding == "netstring"
    assert (netstring.msg_type, netstring.src, netstring.seq, netstring.auth_index) == (
        "status",
        "nodea",
        6,
        1,
    )
    assert netstring.heartbeat_fields["outer_auth"].startswith("1 ")


@pytest.mark.parametrize("size", [64, 1000, 8 * 1024, 64 * 1024, 65507])
def test_junk_has_the_size_asked_and_costs_hbd_nothing_to_refuse(size):
    data = junk(size)
    assert len(data) == size
    assert data.startswith(b">>>\n") and data.endswith(b"<<<\n")
    assert data.count(b"a=\n") >= (size - 8) // 3 - 1
    with pytest.raises(WireError) as err:
        decode(data, KEYS)
    assert err.value.reason in (("too_large",) if size > MAX_MESSAGE_BYTES else ("too_large", "no_auth"))


def test_a_status_signed_with_a_wrong_key_is_well_formed_but_refused():
    data = forged_status("bobek", seq=5, generation=0x70000000, auth=wrong_key("sha256", index=2))
    hb = Heartbeat(data)
    assert (hb.msg_type, hb.src, hb.seq, hb.auth_index) == ("status", "bobek", 5, 2)
    with pytest.raises(WireError) as err:
        decode(data, KEYS)
    assert err.value.reason == "bad_auth"
    assert decode(forged_status("bobek", 5, 1, KEYS), KEYS).src == "bobek"  # the same with the real key


def test_packet_forges_the_source_address():
    pkt = IP(bytes(packet(b"x", dst="10.0.0.255", src="10.0.0.9")))
    assert (pkt.src, pkt[UDP].dport, bytes(pkt[Heartbeat].data)) == ("10.0.0.9", HEARTBEAT_PORT, b"x")


def test_any_bytes_dissect_without_an_exception():
    rng = random.Random(11)
    heads = [b"", b">>>\n", b"###\n", b"###\n9999999:", b">>>\nauth=", b"###\n3:(0)a,%%%\n"]
    for _ in range(2000):
        data = rng.choice(heads) + bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        hb = Heartbeat(data)
        hb.summary_dict()
        parse_fields(data)
