"""A user's own /etc/ha.d reproduced as-is (issue 13): the topology's `ha_d:` directory reaches every hbd
server unchanged, its resource.d too, and a bad directory is named with the file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.backends.base import NodeDirs
from lab.paths import TOPOLOGY_DIR
from lab.render import ClusterSecret, render_node
from lab.spec.topology import TopologyError, load_topology

ARTICLE_HA_D = TOPOLOGY_DIR / "article-mail" / "ha.d"
FILES = ("ha.cf", "haresources", "authkeys")


def _topology(tmp_path: Path, ha_d: str, extra_node: str = "") -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(
        f"ha_d: {ha_d}\n"
        "nodes:\n  bob: {}\n  bobek: {}\n  client: {role: client}\n" + extra_node + "lans:\n  lan:\n"
        "    members:\n      bob: {iface: eth0, ip: 192.168.0.1/24}\n"
        "      bobek: {iface: eth0, ip: 192.168.0.2/24}\n      client: {iface: eth0, ip: 192.168.0.100/24}\n"
        "links:\n  crossover:\n    ends:\n      bob: {iface: eth1, ip: 10.0.0.1/30}\n"
        "      bobek: {iface: eth1, ip: 10.0.0.2/30}\n"
        "serial:\n  nullmodem:\n    ends: {bob: ttyS0, bobek: ttyS0}\n"
    )
    return path


def test_the_article_topology_runs_every_server_from_the_article_files() -> None:
    topology = load_topology("mail-server-article")
    assert {n.name: n.config_dir for n in topology.nodes} == {
        "bob": ARTICLE_HA_D,
        "bobek": ARTICLE_HA_D,
        "client": None,
    }
    # The article's exact haresources, bare bobek line included.
    article_line = "bob mailer pop3 imapd IPaddr::192.168.0.250/24\n"
    assert (ARTICLE_HA_D / "haresources").read_text() == article_line + "bobek\n"


def test_render_copies_the_files_unchanged_and_the_users_scripts_win(tmp_path: Path) -> None:
    ha_d = tmp_path / "ha.d"
    shutil.copytree(ARTICLE_HA_D, ha_d)
    (ha_d / "resource.d").mkdir()
    (ha_d / "resource.d" / "mailer").write_text("#!/bin/sh\n# the user's own mailer\n")
    topology = load_topology(_topology(tmp_path, "ha.d"))
    dirs = NodeDirs(tmp_path / "nodes" / "bob")
    render_node(topology, "bob", {"keepalive": "50ms"}, dirs, ClusterSecret.fresh())
    for name in FILES:
        assert (dirs.config_dir / name).read_bytes() == (ha_d / name).read_bytes(), name
    assert (dirs.config_dir / "authkeys").stat().st_mode & 0o777 == 0o600
    assert (dirs.config_dir / "resource.d" / "mailer").read_text() == "#!/bin/sh\n# the user's own mailer\n"


@pytest.mark.parametrize(
    ("ha_d", "message"),
    [
        ("nowhere", "is not a directory"),
        ("partial", "has no haresources, authkeys"),
        ("[1]", "expected a path"),
    ],
)
def test_a_bad_ha_d_is_named(tmp_path: Path, ha_d: str, message: str) -> None:
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "ha.cf").write_text("node bob bobek\n")
    path = _topology(tmp_path, ha_d)
    with pytest.raises(TopologyError) as err:
        load_topology(path)
    assert f"{path}: ha_d: " in str(err.value) and message in str(err.value)


def test_a_node_with_its_own_config_dir_keeps_it(tmp_path: Path) -> None:
    shutil.copytree(ARTICLE_HA_D, tmp_path / "ha.d")
    shutil.copytree(ARTICLE_HA_D, tmp_path / "own")
    path = _topology(tmp_path, "ha.d").read_text().replace("  bobek: {}\n", "  bobek: {config_dir: own}\n")
    (tmp_path / "t.yaml").write_text(path)
    topology = load_topology(tmp_path / "t.yaml")
    assert topology.node("bob").config_dir == (tmp_path / "ha.d").resolve()
    assert topology.node("bobek").config_dir == (tmp_path / "own").resolve()


def test_the_mail_server_claims_the_shared_disk_without_the_lab_writer() -> None:
    from lab.render import resource_groups

    topology = load_topology("mail-server")
    assert topology.shared_disk_group == "mail" and not topology.shared_disk_writer
    [group] = resource_groups(topology)
    names = [r.name for r in group.resources]
    assert names == ["hblab-claim", "mailer", "pop3", "imapd", "IPaddr"]


def test_shared_disk_writer_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    text = (TOPOLOGY_DIR / "two-node-shared-disk.yaml").read_text() + "  writer: maybe\n"
    path.write_text(text)
    with pytest.raises(TopologyError, match=r"shared_disk\.writer: expected true or false"):
        load_topology(path)


def test_what_a_users_ha_cf_names_must_exist_on_the_node(tmp_path: Path) -> None:
    """bcast eth3, a second serial device and a ucast peer nobody has: each named with its ha.cf line."""
    from lab.render import RenderError

    ha_d = tmp_path / "ha.d"
    shutil.copytree(ARTICLE_HA_D, ha_d)
    (ha_d / "ha.cf").write_text(
        "keepalive 2\ndeadtime 30\nbcast eth3\nserial /dev/ttyS1\nucast eth0 192.168.0.9\nnode bob bobek\n"
    )
    topology = load_topology(_topology(tmp_path, "ha.d"))
    with pytest.raises(RenderError) as err:
        render_node(topology, "bob", {}, NodeDirs(tmp_path / "nodes" / "bob"), ClusterSecret.fresh())
    message = str(err.value)
    assert f"{ha_d / 'ha.cf'}:3: bcast:eth3: bob has no interface eth3" in message
    assert f"{ha_d / 'ha.cf'}:4: serial:/dev/ttyS1: bob has no serial line at /dev/ttyS1" in message
    assert f"{ha_d / 'ha.cf'}:5: ucast:eth0:192.168.0.9: no other node has 192.168.0.9 on lan" in message


def test_the_article_files_fit_the_article_topology(tmp_path: Path) -> None:
    topology = load_topology("mail-server-article")
    for node in ("bob", "bobek"):
        render_node(topology, node, {}, NodeDirs(tmp_path / node), ClusterSecret.fresh())
