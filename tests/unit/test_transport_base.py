import pytest

from hbd.config.model import Medium
from hbd.transport.base import TransportError, build_transports
from hbd.transport.serial import SerialTransport
from hbd.transport.udp import BcastTransport, McastTransport, UcastTransport


def test_build_transports_by_kind_keeps_order_names_and_ports():
    media = [
        Medium("bcast", "bcast:eth1", iface="eth1"),
        Medium("ucast", "ucast:eth1:10.0.0.2", iface="eth1", peer="10.0.0.2"),
        Medium("mcast", "mcast:eth0:225.0.0.1", iface="eth0", group="225.0.0.1", port=695, ttl=1),
        Medium("serial", "serial:/dev/ttyS0", device="/dev/ttyS0", baud=115200),
    ]
    built = build_transports(media, 694)
    assert [type(t) for t in built] == [BcastTransport, UcastTransport, McastTransport, SerialTransport]
    assert [t.name for t in built] == [m.name for m in media]
    assert built[0].port == 694 and built[2].port == 695
    assert built[3].baud == 115200


def test_unknown_kind_is_an_error_naming_known_kinds():
    with pytest.raises(TransportError, match=r"unknown medium kind 'ping'.*bcast"):
        build_transports([Medium("ping", "ping:1.2.3.4")], 694)


@pytest.mark.parametrize(
    ("medium", "message"),
    [
        (Medium("bcast", "bcast:"), "needs an interface"),
        (Medium("ucast", "ucast:eth0:x", iface="eth0", peer="nohost"), "not an IPv4 address"),
        (Medium("ucast", "ucast:eth0", iface="eth0"), "needs a peer"),
        (Medium("mcast", "mcast:eth0:10.0.0.1", iface="eth0", group="10.0.0.1"), "not a multicast"),
        (Medium("serial", "serial:"), "needs a device"),
    ],
)
def test_bad_medium_fails_at_build_with_its_name(medium, message):
    with pytest.raises(TransportError, match=message) as info:
        build_transports([medium], 694)
    assert medium.name in str(info.value)
