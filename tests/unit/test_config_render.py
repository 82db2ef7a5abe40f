"""render_*: parse(render(x)) == x for valid configurations (hypothesis), and the files we ship."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.model import (
    AuthConfig,
    AuthKey,
    AutoFailback,
    ClusterConfig,
    Medium,
    Monitor,
    Resource,
    ResourceGroup,
    StonithHost,
)
from hbd.config.render import format_time, render_authkeys, render_hacf, render_haresources

DATA = Path(__file__).parent.parent / "data" / "config"


def no_where(value: object) -> object:
    """Line positions differ between a file and its rendering: compare everything else."""
    if isinstance(value, tuple):
        return tuple(no_where(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: no_where(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if "where" in changes:
            changes["where"] = None
        return dataclasses.replace(value, **changes)
    return value


def reparse_hacf(cluster: ClusterConfig) -> ClusterConfig:
    diag = Diagnostics("ha.cf")
    parsed = parse_hacf(render_hacf(cluster), diag)
    assert diag.errors == [], [str(p) for p in diag.errors]
    return parsed


# ---------------------------------------------------------------- strategies

names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
ifaces = st.from_regex(r"(eth|ens|hbl)[0-9]{1,3}", fullmatch=True)
ipv4 = st.integers(0x0A000001, 0x0AFFFFFE).map(lambda n: str(ipaddress.IPv4Address(n)))
mcast_groups = st.integers(0xE1000001, 0xE1FFFFFE).map(lambda n: str(ipaddress.IPv4Address(n)))
ms = st.integers(1, 120_000)


@st.composite
def clusters(draw: st.DrawFn) -> ClusterConfig:
    nodes = tuple(draw(st.lists(names, min_size=1, max_size=2, unique=True)))
    udpport = draw(st.integers(1, 65535))
    baud = draw(st.sampled_from([9600, 19200, 115200]))
    media: dict[str, Medium] = {}
    for kind in draw(
        st.lists(st.sampled_from(["bcast", "ucast", "mcast", "serial"]), min_size=1, max_size=5)
    ):
        if kind == "bcast":
            iface = draw(ifaces)
            medium = Medium("bcast", f"bcast:{iface}", iface=iface, port=udpport)
        elif kind == "ucast":
            iface, peer = draw(ifaces), draw(ipv4)
            medium = Medium("ucast", f"ucast:{iface}:{peer}", iface=iface, port=udpport, peer=peer)
        elif kind == "mcast":
            iface, group = draw(ifaces), draw(mcast_groups)
            medium = Medium(
                "mcast",
                f"mcast:{iface}:{group}",
                iface=iface,
                group=group,
                port=draw(st.integers(1, 65535)),
                ttl=draw(st.integers(0, 4)),
                loop=draw(st.booleans()),
            )
        else:
            device = f"/dev/ttyS{draw(st.integers(0, 9))}"
            medium = Medium("serial", f"serial:{device}", device=device, baud=baud)
        media.setdefault(medium.name, medium)
    keepalive = draw(st.integers(1, 5000))
    deadtime = draw(st.integers(2 * keepalive + 1, 2 * keepalive + 60_000))
    warntime = draw(st.integers(1, deadtime - 1))
    initdead = draw(st.integers(deadtime, deadtime + 120_000))
    deadping = draw(st.integers(2 * keepalive + 1, 2 * keepalive + 60_000))
    secret = st.from_regex(r"[A-Za-z0-9_./=+-]{1,12}", fullmatch=True)
    param_names = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(lambda n: not n.startswith("p"))
    stonith = tuple(
        StonithHost(
            draw(st.sampled_from(["*", *nodes])),
            draw(st.sampled_from(["ipmilan", "fence_ipmilan", "null"])),
            tuple(
                [
                    (f"p{i + 1}", draw(st.from_regex(r"[A-Za-z0-9_./+-]{1,12}", fullmatch=True)))
                    for i in range(draw(st.integers(0, 3)))
                ]
                + [(n, draw(secret)) for n in draw(st.lists(param_names, max_size=3, unique=True))]
            ),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    return ClusterConfig(
        nodes=nodes,
        media=tuple(media.values()),
        keepalive_s=keepalive / 1000,
        deadtime_s=deadtime / 1000,
        warntime_s=warntime / 1000,
        initdead_s=initdead / 1000,
        deadping_s=deadping / 1000,
        udpport=udpport,
        baud=baud,
        auto_failback=draw(st.sampled_from(list(AutoFailback))),
        logfile=draw(st.none() | st.just("/var/log/ha-log")),
        debugfile=draw(st.none() | st.just("/var/log/ha-debug")),
        logfacility=draw(st.none() | st.sampled_from(["local0", "daemon", "none"])),
        ping_nodes=tuple(draw(st.lists(ipv4.filter(lambda a: a not in nodes), max_size=2, unique=True))),
        realtime=draw(st.booleans()),
        stonith_hosts=stonith,
        builtin_ipaddr=draw(st.booleans()),
        stall_aware=draw(st.booleans()),
        resource_dirs=tuple(
            draw(st.lists(st.sampled_from(["/etc/ha.d/resource.d", "/opt/x", "/etc/init.d"]), max_size=3))
        ),
        resource_timeout_s=draw(ms) / 1000,
        fence_delay_s=draw(st.integers(0, 60_000)) / 1000,
        garp_count=draw(st.integers(0, 1000)),
        garp_interval_s=draw(ms) / 1000,
        monitors=tuple(
            Monitor(
                resource,
                draw(ms) / 1000,
                draw(st.none() | ms.map(lambda t: t / 1000)),
                draw(st.integers(0, 1000)),
                draw(ms) / 1000,
            )
            for resource in draw(
                st.lists(st.sampled_from(["mailer", "IPaddr::10.0.0.1/24", "svc::80::www"]), unique=True)
            )
        ),
    )


resources = st.one_of(
    names.map(lambda n: Resource(n.capitalize())),
    st.tuples(
        st.sampled_from(["Filesystem", "drbddisk", "OCF"]),
        st.lists(st.from_regex(r"[A-Za-z0-9/_.-]{1,10}", fullmatch=True), min_size=1, max_size=3),
    ).map(lambda t: Resource(t[0], tuple(t[1]))),
    ipv4.map(lambda a: Resource("IPaddr", (f"{a}/24",))),
    ipv4.map(lambda a: Resource("IPaddr2", (f"{a}/24/eth0:vip",))),
)


@st.composite
def group_lists(draw: st.DrawFn) -> tuple[tuple[str, ...], tuple[ResourceGroup, ...]]:
    nodes = ("bob", "bobek")
    groups = draw(
        st.lists(
            st.builds(
                lambda home, rs: ResourceGroup(home, tuple(rs)),
                st.sampled_from(nodes),
                st.lists(resources, min_size=1, max_size=4, unique=True),
            ),
            max_size=4,
            unique_by=lambda g: g.key,
        )
    )
    return nodes, tuple(groups)


keys = st.from_regex(r"[!-~]{1,40}", fullmatch=True).map(str.encode)


@st.composite
def auths(draw: st.DrawFn) -> AuthConfig:
    indexes = draw(st.lists(st.integers(0, 15), min_size=1, max_size=5, unique=True))
    key_list = []
    for index in sorted(indexes):
        method = draw(st.sampled_from(["crc", "md5", "sha1", "sha256"]))
        key_list.append(AuthKey(index, method, b"" if method == "crc" else draw(keys)))
    return AuthConfig(draw(st.sampled_from(indexes)), tuple(key_list))


# ---------------------------------------------------------------- properties


@settings(max_examples=100, deadline=None)
@given(clusters())
def test_hacf_round_trip(cluster: ClusterConfig) -> None:
    assert no_where(reparse_hacf(cluster)) == cluster


@settings(max_examples=100, deadline=None)
@given(group_lists())
def test_haresources_round_trip(case: tuple[tuple[str, ...], tuple[ResourceGroup, ...]]) -> None:
    nodes, groups = case
    diag = Diagnostics("haresources")
    parsed = parse_haresources(render_haresources(groups), diag, nodes)
    assert diag.errors == []
    assert no_where(parsed) == groups


@settings(max_examples=100, deadline=None)
@given(auths())
def test_authkeys_round_trip(auth: AuthConfig) -> None:
    diag = Diagnostics("authkeys")
    assert parse_authkeys(render_authkeys(auth), diag) == auth
    assert diag.errors == []
    redacted = render_authkeys(auth, redact=True)
    for key in auth.keys:
        if key.key and len(key.key) > 3:
            assert key.key.decode() not in redacted.replace("# authkeys written by hbd", "")


def test_shipped_files_round_trip() -> None:
    for name in ("article", "sample"):
        diag = Diagnostics("ha.cf")
        cluster = parse_hacf((DATA / name / "ha.cf").read_text(), diag)
        assert diag.errors == []
        assert no_where(reparse_hacf(cluster)) == no_where(cluster)


def test_udpport_after_media_round_trips() -> None:
    diag = Diagnostics("ha.cf")
    cluster = parse_hacf("node bob\nauto_failback on\nbcast eth0\nudpport 700\nbcast eth1\n", diag)
    assert [m.port for m in cluster.media] == [694, 700]
    assert no_where(reparse_hacf(cluster)) == no_where(cluster)


@pytest.mark.parametrize(
    ("seconds", "text"), [(1.0, "1"), (30.0, "30"), (1.5, "1500ms"), (0.05, "50ms"), (0, "0")]
)
def test_format_time(seconds: float, text: str) -> None:
    assert format_time(seconds) == text


def test_unrepresentable_values_refused_without_leaking_keys() -> None:
    cluster = ClusterConfig(nodes=("bob",), media=(Medium("bcast", "bcast:eth 1", iface="eth 1", port=694),))
    with pytest.raises(ValueError, match="interface"):
        render_hacf(cluster)
    with pytest.raises(ValueError) as caught:
        render_authkeys(AuthConfig(1, (AuthKey(1, "sha256", b"two words"),)))
    assert "two words" not in str(caught.value)
    mixed_ports = dataclasses.replace(
        cluster,
        media=(
            Medium("bcast", "bcast:eth0", iface="eth0", port=700),
            Medium("bcast", "bcast:eth1", iface="eth1", port=694),
        ),
    )
    with pytest.raises(ValueError, match="udpport"):
        render_hacf(mixed_ports)
