"""The rtnetlink messages hbd builds and parses (hbd/netlink.py); the kernel side is in
tests/integration/test_resources_ipaddr_netns.py and test_netlink_netns.py."""

import socket
import struct

from hbd.netlink import (
    IFA_ADDRESS,
    IFA_BROADCAST,
    IFA_LABEL,
    IFA_LOCAL,
    IFADDRMSG,
    Address,
    _attr,
    _attrs,
    address_message,
    parse_address,
)


def test_address_message_is_what_ip_addr_add_sends() -> None:
    body = address_message(7, "10.0.0.50", 24, "10.0.0.255", "eth0:vip")
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(body)
    assert (family, prefixlen, index) == (socket.AF_INET, 24, 7)
    attrs = _attrs(body[IFADDRMSG.size :])
    assert attrs[IFA_LOCAL] == attrs[IFA_ADDRESS] == socket.inet_aton("10.0.0.50")
    assert attrs[IFA_BROADCAST] == socket.inet_aton("10.0.0.255")
    assert attrs[IFA_LABEL] == b"eth0:vip\0"
    assert len(body) % 4 == 0  # every attribute padded to 4 bytes


def test_parse_round_trip_and_optional_fields() -> None:
    bare = parse_address(address_message(3, "192.168.77.50", 24, None, None))
    assert bare == Address(3, "192.168.77.50", 24)
    full = parse_address(address_message(3, "192.168.77.50", 24, "192.168.77.255", "eth0:x"))
    assert full == Address(3, "192.168.77.50", 24, "192.168.77.255", "eth0:x")


def test_parse_ignores_other_families_and_garbage() -> None:
    v6 = IFADDRMSG.pack(socket.AF_INET6, 64, 0, 0, 2) + _attr(IFA_ADDRESS, b"\0" * 16)
    assert parse_address(v6) is None
    assert parse_address(b"\x02\x18") is None  # shorter than ifaddrmsg
    no_address = IFADDRMSG.pack(socket.AF_INET, 24, 0, 0, 2)
    assert parse_address(no_address) is None
    # An attribute claiming a length shorter than its own header ends the walk instead of looping.
    broken = no_address + struct.pack("=HH", 2, IFA_LOCAL) + b"\0" * 8
    assert parse_address(broken) is None
