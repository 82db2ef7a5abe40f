import struct

import pytest

from hbd.resources.arp import ARPOP_REPLY, ARPOP_REQUEST, garp_frame
from hbd.resources.ipaddr import IpSpec, parse_ip_spec


@pytest.mark.parametrize(
    ("name", "arg", "expected"),
    [
        ("IPaddr", "10.0.0.5", IpSpec("10.0.0.5")),
        ("IPaddr", "10.0.0.5/24", IpSpec("10.0.0.5", 24)),
        ("IPaddr", "10.0.0.5/255.255.255.0", IpSpec("10.0.0.5", 24)),
        ("IPaddr", "135.9.8.7/24/eth0/135.9.8.210", IpSpec("135.9.8.7", 24, "eth0", None, "135.9.8.210")),
        ("IPaddr", "10.0.0.5/24/10.0.0.255", IpSpec("10.0.0.5", 24, None, None, "10.0.0.255")),
        ("IPaddr2", "10.0.0.5/24/eth0:vip", IpSpec("10.0.0.5", 24, "eth0", "eth0:vip")),
        (
            "IPaddr2",
            "10.0.0.5/24/eth0:vip/10.0.0.255",
            IpSpec("10.0.0.5", 24, "eth0", "eth0:vip", "10.0.0.255"),
        ),
        ("IPaddr2", "10.0.0.5//eth1", IpSpec("10.0.0.5", None, "eth1")),
    ],
)
def test_heartbeat_argument_syntax(name, arg, expected):
    assert parse_ip_spec(name, [arg]) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("IPaddr", ["10.0.0.300"], "address '10.0.0.300' is not an IPv4 address"),
        ("IPaddr", ["10.0.0.5/33"], "prefix '33'"),
        ("IPaddr", ["10.0.0.5/24/eth0/nope"], "broadcast 'nope'"),
        ("IPaddr", ["10.0.0.5/24/eth0/1.1.1.1/x"], "too many"),
        ("IPaddr", [], "expected one argument"),
        ("IPaddr", ["10.0.0.5", "x"], "expected one argument"),
        ("IPaddr2", ["10.0.0.5/24/averyveryverylongname0"], "at most 15"),
        ("IPaddr2", ["10.0.0.5/24/eth0:labeltoolong"], "at most 15"),
        ("Filesystem", ["/dev/sda"], "not an IP address resource"),
        ("IPaddr2", ["10.0.0.5/24/10.0.0.255"], "not a valid interface"),
    ],
)
def test_bad_arguments_name_the_resource(name, args, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_ip_spec(name, args)
    assert str(info.value).startswith("::".join([name, *args]))


def test_garp_frames_match_send_arp():
    mac = bytes.fromhex("02aabbccddee")
    req = garp_frame(mac, "10.0.0.5", ARPOP_REQUEST)
    rep = garp_frame(mac, "10.0.0.5", ARPOP_REPLY)
    vip = bytes([10, 0, 0, 5])
    for frame, op, target_mac in ((req, 1, b"\0" * 6), (rep, 2, mac)):
        assert frame[:6] == b"\xff" * 6 and frame[6:12] == mac and frame[12:14] == b"\x08\x06"
        htype, ptype, hlen, plen, got_op = struct.unpack("!HHBBH", frame[14:22])
        assert (htype, ptype, hlen, plen, got_op) == (1, 0x0800, 6, 4, op)
        assert frame[22:28] == mac and frame[28:32] == vip
        assert frame[32:38] == target_mac and frame[38:42] == vip
        assert len(frame) == 42
