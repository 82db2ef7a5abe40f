"""hbd's rtnetlink client against the kernel, in a lab namespace (root)."""

import errno
import os
import socket

import pytest

from hbd.netlink import NetlinkError, RtNetlink
from tests.integration.hbl_netns import inside, netns_pair, sh

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


def test_add_list_delete_and_the_kernels_refusals() -> None:
    with netns_pair("10.77.4") as pair, inside(pair.a), RtNetlink() as nl:
        index = socket.if_nametoindex(pair.if_a)
        nl.add_address(index, "10.77.4.100", 24, "10.77.4.255", f"{pair.if_a}:v")
        shown = sh("ip", "-n", pair.a, "-4", "-o", "addr", "show", "dev", pair.if_a)
        assert "10.77.4.100/24 brd 10.77.4.255" in shown and f"{pair.if_a}:v" in shown
        mine = [a for a in nl.addresses(index) if a.address == "10.77.4.100"]
        assert [(a.prefixlen, a.broadcast, a.label) for a in mine] == [(24, "10.77.4.255", f"{pair.if_a}:v")]
        with pytest.raises(NetlinkError) as exists:
            nl.add_address(index, "10.77.4.100", 24)
        assert exists.value.errno == errno.EEXIST
        nl.del_address(index, "10.77.4.100", 24)
        assert "10.77.4.100" not in sh("ip", "-n", pair.a, "-4", "-o", "addr")
        with pytest.raises(NetlinkError) as gone:
            nl.del_address(index, "10.77.4.100", 24)
        assert gone.value.errno == errno.EADDRNOTAVAIL
        with pytest.raises(NetlinkError) as no_device:
            nl.add_address(999_999, "10.77.4.101", 24)
        assert no_device.value.errno == errno.ENODEV


def test_a_dump_longer_than_one_read_is_complete() -> None:
    with netns_pair("10.77.5") as pair, inside(pair.a), RtNetlink() as nl:
        index = socket.if_nametoindex(pair.if_a)
        wanted = {f"10.78.{i // 250}.{i % 250 + 1}" for i in range(600)}  # ~60 KB of messages: several reads
        for ip in wanted:
            nl.add_address(index, ip, 16)
        found = {a.address for a in nl.addresses()}
        assert wanted <= found
        assert {a.address for a in nl.addresses(index)} >= wanted
        assert not {a.address for a in nl.addresses(index + 1000)}
