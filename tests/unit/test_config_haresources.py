"""haresources parsing (heartbeat.md §5.1) and the IPaddr/IPaddr2 argument grammar."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.errors import Diagnostics
from hbd.config.haresources import canonical_token, logical_lines, parse_haresources, parse_ip_spec
from hbd.config.model import IpSpec, Resource, ResourceGroup

DATA = Path(__file__).parent.parent / "data" / "config"
NODES = ("bob", "bobek")


def parse(text: str, nodes: tuple[str, ...] = NODES) -> tuple[tuple[ResourceGroup, ...], Diagnostics]:
    diag = Diagnostics("haresources")
    return parse_haresources(text, diag, nodes), diag


def test_article_file_as_is() -> None:
    groups, diag = parse((DATA / "article" / "haresources").read_text())
    assert diag.errors == [] and diag.warnings == []
    (group,) = groups
    assert group.home == "bob"
    assert group.key == "mailer"
    assert group.resources == (
        Resource("mailer"),
        Resource("pop3"),
        Resource("imapd"),
        Resource("IPaddr", ("192.168.0.250/24",)),
    )


def test_bare_ip_means_ipaddr() -> None:
    groups, diag = parse("node1 10.0.0.170 Filesystem::/dev/sda1::/data1::ext2 httpd", ("node1",))
    assert diag.errors == []
    assert groups[0].resources == (
        Resource("IPaddr", ("10.0.0.170",)),
        Resource("Filesystem", ("/dev/sda1", "/data1", "ext2")),
        Resource("httpd"),
    )
    assert groups[0].key == "IPaddr::10.0.0.170"


@pytest.mark.parametrize(
    ("token", "canonical"),
    [
        ("10.0.0.1", "IPaddr::10.0.0.1"),
        ("10.0.0.1/24/eth0", "IPaddr::10.0.0.1/24/eth0"),
        ("1a.2.3.4", "IPaddr::1a.2.3.4"),  # the shell glob is that loose; the IP check then refuses it
        ("httpd", "httpd"),
        ("IPaddr2::10.0.0.1", "IPaddr2::10.0.0.1"),
        ("10.0.0", "10.0.0"),
        ("fe80::1", "fe80::1"),  # IPv6 is not recognized, as in heartbeat
    ],
)
def test_canonical_token(token: str, canonical: str) -> None:
    assert canonical_token(token) == canonical


def test_comments_continuations_whitespace_and_case() -> None:
    text = (
        "# a comment line\n"
        "\n"
        "BOB   10.0.0.100 \\\n"
        "      httpd   # trailing comment\n"
        "bobek\tIPaddr2::10.0.0.101/24/eth0:web \\\n"
        "  smb \\\n"
        "  nmb\n"
    )
    assert logical_lines(text) == [
        (3, "BOB 10.0.0.100 httpd"),
        (5, "bobek IPaddr2::10.0.0.101/24/eth0:web smb nmb"),
    ]
    groups, diag = parse(text)
    assert diag.errors == []
    assert [g.home for g in groups] == ["bob", "bobek"]
    assert [len(g.resources) for g in groups] == [2, 3]
    assert groups[1].where is not None and groups[1].where.line == 5


def test_group_keys_unique_and_shared_resources_warned() -> None:
    groups, diag = parse("bob 10.0.0.1 httpd\nbobek 10.0.0.1 smb\nbobek nfs httpd\n")
    assert [str(p) for p in diag.errors] == [
        "haresources:2: group IPaddr::10.0.0.1 defined twice (first on line 1)"
    ]
    assert [str(p) for p in diag.warnings] == ["haresources:3: httpd is also in the group on line 1"]
    assert len(groups) == 2


def test_unknown_node_skipped_when_nodes_unknown() -> None:
    _, diag = parse("carol httpd\n", nodes=())
    assert diag.errors == []


IP_SPECS = [
    ("IPaddr", "10.0.0.1", IpSpec("10.0.0.1")),
    ("IPaddr", "10.0.0.1/24", IpSpec("10.0.0.1", 24)),
    ("IPaddr", "10.0.0.1/24/eth0", IpSpec("10.0.0.1", 24, "eth0")),
    ("IPaddr", "135.9.8.7/24/eth0/135.9.8.210", IpSpec("135.9.8.7", 24, "eth0", None, "135.9.8.210")),
    ("IPaddr", "10.0.0.1/24/10.0.0.255", IpSpec("10.0.0.1", 24, None, None, "10.0.0.255")),
    ("IPaddr", "10.0.0.1/255.255.255.0", IpSpec("10.0.0.1", 24)),
    ("IPaddr2", "10.0.0.1/16/eth0:web", IpSpec("10.0.0.1", 16, "eth0", "web")),
    ("IPaddr2", "10.0.0.1/32/eth0:0/10.0.0.1", IpSpec("10.0.0.1", 32, "eth0", "0", "10.0.0.1")),
]


@pytest.mark.parametrize(("resource", "arg", "spec"), IP_SPECS)
def test_ip_spec(resource: str, arg: str, spec: IpSpec) -> None:
    assert parse_ip_spec(resource, arg) == spec


BAD_IP_SPECS = [
    ("IPaddr", "10.0.0.256", "bad address '10.0.0.256'"),
    ("IPaddr", "10.0.0.1/0", "bad prefix '0': 1..32"),
    ("IPaddr", "10.0.0.1/33", "bad prefix '33': 1..32"),
    ("IPaddr", "10.0.0.1/24x", "bad prefix '24x'"),
    ("IPaddr", "10.0.0.1/24/eth0:web", "IPaddr takes no :label"),
    ("IPaddr2", "10.0.0.1/24/averyveryverylongname", "bad interface 'averyveryverylongname'"),
    ("IPaddr2", "10.0.0.1/24/eth0:waytoolonglabel", "bad label 'eth0:waytoolonglabel'"),
    ("IPaddr", "10.0.0.1/24/eth0/10.0.0.999", "bad broadcast '10.0.0.999'"),
    ("IPaddr", "10.0.0.1/24/eth0/10.0.0.255/x", "too many '/' parts"),
    ("IPaddr", "", "bad address ''"),
]


@pytest.mark.parametrize(("resource", "arg", "message"), BAD_IP_SPECS)
def test_bad_ip_spec(resource: str, arg: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_ip_spec(resource, arg)


def test_garbage_never_crashes() -> None:
    for text in ("\\", "bob \\", "bob ::", "bob ::x", "bob a::", "\x00", "bob IPaddr", "bob IPaddr2::"):
        parse(text)


def test_a_node_alone_on_its_line_has_no_home_groups() -> None:
    """The article's file, verbatim (issue 11, item 9): `bobek` starts nothing when idle."""
    groups, diag = parse("bob mailer pop3 imapd IPaddr::192.168.0.250/24\nbobek\n")
    assert diag.errors == [] and diag.warnings == []
    assert [(g.home, g.key) for g in groups] == [("bob", "mailer")]


def test_a_node_alone_on_its_line_must_still_be_a_node() -> None:
    _, diag = parse("carol\n")
    assert [p.message for p in diag.errors] == ["carol is not a node of ha.cf"]
