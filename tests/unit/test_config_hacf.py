"""ha.cf parsing: heartbeat's rules (heartbeat.md §3.1) and defaults (§3.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.errors import Diagnostics
from hbd.config.hacf import DIRECTIVES, parse_hacf
from hbd.config.model import AutoFailback, ClusterConfig

DATA = Path(__file__).parent.parent / "data" / "config"
MINIMAL = "node bob bobek\nbcast eth1\nauto_failback on\n"


def parse(text: str, local_node: str | None = None) -> tuple[ClusterConfig, Diagnostics]:
    diag = Diagnostics("ha.cf")
    return parse_hacf(text, diag, local_node=local_node), diag


def parse_ok(text: str) -> ClusterConfig:
    cluster, diag = parse(text)
    assert diag.errors == [], [str(p) for p in diag.errors]
    return cluster


def errors(text: str) -> list[str]:
    return [str(p) for p in parse(text)[1].errors]


def warnings(text: str) -> list[str]:
    return [str(p) for p in parse(text)[1].warnings]


def test_heartbeat_sample_with_comments() -> None:
    cluster, diag = parse((DATA / "sample" / "ha.cf").read_text())
    assert diag.errors == []
    assert cluster.nodes == ("ken3", "kathy")
    assert [m.name for m in cluster.media] == [
        "bcast:eth0",
        "bcast:eth1",
        "mcast:eth0:225.0.0.1",
        "ucast:eth0:192.168.1.2",
        "ucast:eth0:192.168.1.3",
        "serial:/dev/ttyS0",
    ]
    assert (cluster.keepalive_s, cluster.deadtime_s, cluster.warntime_s, cluster.initdead_s) == (
        2,
        30,
        10,
        120,
    )
    assert cluster.deadping_s == 30
    assert cluster.logfacility == "local0"
    assert cluster.auto_failback is AutoFailback.ON
    assert cluster.ping_nodes == ("10.10.10.254",)
    mcast = cluster.media[2]
    assert (mcast.iface, mcast.group, mcast.port, mcast.ttl, mcast.loop) == (
        "eth0",
        "225.0.0.1",
        694,
        1,
        False,
    )
    assert cluster.media[5].baud == 19200
    assert cluster.media[2].where is not None and cluster.media[2].where.line == 29
    ignored = [p.message for p in diag.warnings]
    assert any(m.startswith("respawn ignored") for m in ignored)
    assert any(m.startswith("apiauth ignored") for m in ignored)
    assert any(m.startswith("debug ignored") for m in ignored)


def test_stonith_host_params_named_and_positional() -> None:
    cluster = parse_ok((DATA / "sample" / "ha.cf").read_text())
    baytech, ipmi = cluster.stonith_hosts
    assert (baytech.host, baytech.agent) == ("*", "baytech")
    assert baytech.params == (("p1", "10.0.0.3"), ("p2", "mylogin"), ("p3", "mysecretpassword"))
    assert (ipmi.host, ipmi.agent) == ("ken3", "ipmilan")
    assert ipmi.params == (("ipaddr", "10.0.0.13"), ("login", "admin"), ("passwd", "changeme"))


def test_heartbeat_defaults() -> None:
    cluster, diag = parse("node bob\nbcast eth1\n")
    assert diag.errors == []
    assert (cluster.keepalive_s, cluster.deadtime_s, cluster.warntime_s) == (1, 30, 15)
    assert (cluster.initdead_s, cluster.deadping_s, cluster.udpport, cluster.baud) == (30, 30, 694, 19200)
    assert cluster.auto_failback is AutoFailback.LEGACY
    assert [p.message for p in diag.warnings] == ["auto_failback not set: using heartbeat's default, legacy"]
    assert cluster.realtime is True and cluster.builtin_ipaddr is True


@pytest.mark.parametrize(
    ("deadtime", "initdead_s"),
    [
        ("30", 30.0),
        ("10.001", 10.001),
        ("10", 20.0),
        ("6", 12.0),
        ("5.999", 12.0),
        ("1", 12.0),
        ("300ms", 12.0),
    ],
)
def test_initdead_default_follows_heartbeat(deadtime: str, initdead_s: float) -> None:
    cluster = parse_ok(f"{MINIMAL}keepalive 100ms\ndeadtime {deadtime}\n")
    assert cluster.initdead_s == initdead_s
    assert cluster.warntime_s == round(float(cluster.deadtime_s) * 1000) // 2 / 1000


def test_per_token_options_and_commas() -> None:
    cluster = parse_ok("node Bob,BOBEK\nbcast eth1\nauto_failback on\n")
    assert cluster.nodes == ("bob", "bobek")


def test_hash_comment_anywhere() -> None:
    cluster = parse_ok("node bob bobek#carol\nbcast eth1 # eth2\nauto_failback on # off\n")
    assert cluster.nodes == ("bob", "bobek")
    assert [m.name for m in cluster.media] == ["bcast:eth1"]


@pytest.mark.parametrize("word", ["true", "on", "yes", "y", "1", "TRUE", "On", "Y"])
def test_booleans_true(word: str) -> None:
    assert parse_ok(f"{MINIMAL}hbd_builtin_ipaddr {word}\nrealtime {word}\n").realtime is True


@pytest.mark.parametrize("word", ["false", "off", "no", "n", "0", "OFF", "No"])
def test_booleans_false(word: str) -> None:
    cluster = parse_ok(f"{MINIMAL}hbd_builtin_ipaddr {word}\nrealtime {word}\n")
    assert cluster.realtime is False and cluster.builtin_ipaddr is False


def test_udpport_applies_to_media_after_it() -> None:
    cluster, diag = parse(
        "node bob bobek\nauto_failback on\nbcast eth0\nudpport 700\nbcast eth1\nucast eth1 10.0.0.2\n"
    )
    assert diag.errors == []
    assert [m.port for m in cluster.media] == [694, 700, 700]
    assert cluster.udpport == 700
    assert [str(p) for p in diag.warnings] == [
        "ha.cf:4: udpport 700 does not apply to the media above it (bcast:eth0)"
        " (put udpport before the media lines)"
    ]


def test_udpport_after_media_with_same_port_or_mcast_only_does_not_warn() -> None:
    assert warnings("node bob bobek\nauto_failback on\nbcast eth0\nudpport 694\n") == []
    assert warnings("node bob bobek\nauto_failback on\nmcast eth0 225.0.0.1 700 1 0\nudpport 800\n") == []


def test_baud_applies_to_serial_after_it() -> None:
    cluster, diag = parse(
        "node bob bobek\nauto_failback on\nserial /dev/ttyS0\nbaud 115200\nserial /dev/ttyS1\n"
    )
    assert [m.baud for m in cluster.media] == [19200, 115200]
    assert len(diag.warnings) == 1 and "baud 115200 does not apply" in diag.warnings[0].message


def test_udp_is_bcast_with_a_warning() -> None:
    cluster, diag = parse(MINIMAL + "udp eth2\n")
    assert [m.name for m in cluster.media] == ["bcast:eth1", "bcast:eth2"]
    assert ["ha.cf:4: udp is an old name for bcast (write bcast)"] == [str(p) for p in diag.warnings]


def test_ucast_to_own_address_is_parseable() -> None:
    cluster = parse_ok("node bob bobek\nauto_failback on\nucast eth0 10.0.0.1\nucast eth0 10.0.0.2\n")
    assert [m.peer for m in cluster.media] == ["10.0.0.1", "10.0.0.2"]


def test_nice_failback_maps_with_warning() -> None:
    cluster, diag = parse("node bob bobek\nbcast eth1\nnice_failback on\n")
    assert cluster.auto_failback is AutoFailback.OFF
    assert [p.message for p in diag.warnings] == ["nice_failback is obsolete: read as auto_failback off"]
    cluster, diag = parse("node bob bobek\nbcast eth1\nnice_failback off\n")
    assert cluster.auto_failback is AutoFailback.LEGACY


def test_auto_failback_legacy_warns() -> None:
    assert warnings("node bob\nbcast eth1\nauto_failback legacy\n") == [
        "ha.cf:3: auto_failback legacy is deprecated (heartbeat warns too) (set auto_failback on or off)"
    ]


def test_local_node_must_be_listed() -> None:
    assert errors(MINIMAL) == []
    assert parse(MINIMAL, local_node="BOB")[1].errors == []
    assert errors_for_node(MINIMAL, "carol") == [
        "ha.cf:1: this node, carol, is not listed (bob, bobek) "
        "(node names must match `uname -n` or the nodeinfo file)"
    ]


def errors_for_node(text: str, node: str) -> list[str]:
    return [str(p) for p in parse(text, local_node=node)[1].errors]


def test_hbd_directives() -> None:
    cluster = parse_ok(
        MINIMAL
        + "hbd_builtin_ipaddr off\nhbd_resource_path /opt/ha/rsc /etc/init.d\nhbd_resource_path /srv/x\n"
        "hbd_resource_timeout 20\nhbd_fence_delay 1500ms\nhbd_garp_count 3\nhbd_garp_interval 50ms\n"
    )
    assert cluster.builtin_ipaddr is False
    assert cluster.resource_dirs == ("/opt/ha/rsc", "/etc/init.d", "/srv/x")
    assert (cluster.resource_timeout_s, cluster.fence_delay_s) == (20, 1.5)
    assert (cluster.garp_count, cluster.garp_interval_s) == (3, 0.05)


def test_every_directive_is_documented_and_handled() -> None:
    for name, directive in DIRECTIVES.items():
        assert directive.name == name and directive.help
        # no directive may crash on odd input: it records problems instead
        for rest in ("", "x", "1 2 3 4 5 6", "=", "::"):
            parse(f"{MINIMAL}{name} {rest}\n")


def test_the_directive_table_owns_the_defaults() -> None:
    """An ha.cf that sets nothing gets each row's default; help texts show them in ha.cf's units."""
    cluster = parse_ok(MINIMAL.replace("auto_failback on\n", ""))
    keyed = {d.key: d for d in DIRECTIVES.values() if d.key is not None}
    assert cluster.keepalive_s == keyed["keepalive_ms"].default / 1000 == 1
    assert cluster.deadtime_s == keyed["deadtime_ms"].default / 1000 == 30
    assert (cluster.warntime_s, cluster.initdead_s, cluster.deadping_s) == (15, 30, 30)
    assert (cluster.udpport, cluster.baud, cluster.garp_count) == (694, 19200, 5)
    assert (cluster.resource_timeout_s, cluster.fence_delay_s, cluster.garp_interval_s) == (60, 0, 0.2)
    assert (cluster.realtime, cluster.builtin_ipaddr) == (True, True)
    assert cluster.auto_failback is AutoFailback.LEGACY is keyed["auto_failback"].default
    assert cluster.logfile is None
    assert DIRECTIVES["keepalive"].usage == "interval between heartbeats (1)"
    assert DIRECTIVES["warntime"].usage == "late-heartbeat warning (deadtime/2)"
    assert DIRECTIVES["hbd_garp_interval"].usage.endswith("(0.2)")
    assert DIRECTIVES["realtime"].usage.endswith("(on)")
    for key in keyed:  # every setting lands in a field of the model
        field = key.removesuffix("_ms") + "_s" if key.endswith("_ms") else key
        assert field in ClusterConfig.__dataclass_fields__


@pytest.mark.parametrize(("deadtime", "initdead"), [("5", 12), ("6", 12), ("10", 20), ("10.001", 10.001)])
def test_initdead_follows_deadtime_as_in_heartbeat(deadtime: str, initdead: float) -> None:
    assert parse_ok(f"{MINIMAL}deadtime {deadtime}\n").initdead_s == initdead


def test_sub_second_timing_is_accepted() -> None:
    cluster = parse_ok(f"{MINIMAL}keepalive 50ms\ndeadtime 300ms\nwarntime 150ms\ninitdead 2\n")
    assert (cluster.keepalive_s, cluster.deadtime_s, cluster.warntime_s, cluster.initdead_s) == (
        0.05,
        0.3,
        0.15,
        2,
    )


def test_garbage_never_crashes() -> None:
    for text in ("\x00\x01", "node", "   \t  ", "#", "mcast", "stonith_host", "keepalive\n" * 3, "ä ö ü"):
        parse(text)


def test_stonith_host_pcmk_host_map_names_each_nodes_plug() -> None:
    line = "stonith_host * fence_docker ip=::1 pcmk_host_map=Bob:c-1;bobek:c-2"
    cluster = parse_ok(f"node bob\nbcast eth1\n{line}\n")
    (device,) = cluster.stonith_hosts
    assert device.plug_for("bob") == "c-1" and device.plug_for("bobek") == "c-2"
    assert device.plug_for("ken3") is None
    plain = parse_ok("node bob\nbcast eth1\nstonith_host * fence_lab socket=/x\n").stonith_hosts[0]
    assert plain.plug_for("bobek") == "bobek"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("pcmk_host_map=bob", "entry 'bob' is not node:plug"),
        ("pcmk_host_map=bob:;bobek:x", "entry 'bob:' is not node:plug"),
        ("pcmk_host_map=bob:a;BOB:b", "names node BOB twice"),
        ("pcmk_host_map=;", "pcmk_host_map is empty"),
        ("plug=x pcmk_host_map=bob:a", "plug and pcmk_host_map both given"),
    ],
)
def test_stonith_host_bad_host_map_is_an_error_on_its_line(params: str, message: str) -> None:
    _cluster, diag = parse(f"node bob\nbcast eth1\nstonith_host * fence_docker {params}\n")
    assert [(p.line, message in p.message) for p in diag.errors] == [(3, True)], diag.errors


@pytest.mark.parametrize("agent", ["external/ipmi", "../evil", "/usr/sbin/fence_x", "bin/fence_x"])
def test_stonith_host_agent_with_a_slash_is_refused_on_its_line(agent: str) -> None:
    _cluster, diag = parse(f"node bob\nbcast eth1\nstonith_host * {agent} ip=x\n")
    assert [(e.line, e.message) for e in diag.errors] == [(3, f"stonith_host: bad agent name {agent!r}")]


def test_hbd_stall_aware_defaults_on_and_takes_off() -> None:
    assert parse_ok(MINIMAL).stall_aware is True
    assert parse_ok(f"{MINIMAL}hbd_stall_aware off\n").stall_aware is False


def test_hbd_stall_aware_bad_value_names_file_and_line() -> None:
    found = errors(f"{MINIMAL}hbd_stall_aware maybe\n")
    assert len(found) == 1 and found[0].startswith("ha.cf:4:") and "hbd_stall_aware" in found[0], found
