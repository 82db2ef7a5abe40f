"""One shared disk per group (`shared_disk:` as a list; the mail + web pair): the topology's schema and its
errors (file:line), what the lab renders from it (hblab-claim::GROUP, the conf files the scripts read),
and hblab-claim mounting two disks on one node. The one-disk form keeps its layout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hbd.config.render import render_haresources
from lab.backends.base import NodeDirs
from lab.history.shared_disk import install_disk_resources
from lab.paths import TOPOLOGY_DIR
from lab.render import ClusterSecret, disk_mount_lines, render_node, resource_groups
from lab.spec.topology import SharedDisk, TopologyError, load_topology

PAIR = ("mail-web-pair-sync", "mail-web-pair-async")


def _conf(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


@pytest.mark.parametrize("name", PAIR)
def test_the_pair_has_one_disk_per_group_each_claimed_by_name(name: str) -> None:
    topology = load_topology(name)
    assert topology.shared_disks == (SharedDisk("mail", writer=False), SharedDisk("web", writer=False))
    assert topology.disk_dir(Path("/run/shared-disk"), "web") == Path("/run/shared-disk/web")
    mode = name.rsplit("-", 1)[1]
    lines = render_haresources(resource_groups(topology)).splitlines()
    mail = f"hblab-claim::mail pgstandby::10.77.0.2::{mode} mailer pop3 imapd IPaddr::192.168.77.51/24/eth0"
    assert f"bob {mail}" in lines
    assert f"bobek hblab-claim::web pgpromote::{mode} webserver IPaddr::192.168.77.52/24/eth0" in lines


def test_one_disk_topologies_keep_their_layout() -> None:
    """The original form: no claim argument, the disk is the shared-disk dir itself, no MOUNT_ lines."""
    topology = load_topology("web-db-pair")
    assert topology.shared_disks == (SharedDisk("web", writer=True),)
    assert topology.shared_disk_group == "web" and topology.shared_disk_writer
    assert topology.disk_dir(Path("/run/shared-disk"), "web") == Path("/run/shared-disk")
    assert topology.disk_mount("web") == "disk"
    web = next(g for g in resource_groups(topology) if g.home == "bobek")
    assert [(r.name, r.args) for r in web.resources][:2] == [("hblab-claim", ()), ("hblab-writer", ())]
    assert disk_mount_lines(topology, Path("/state")) == ""


def test_rendering_a_node_of_the_pair_tells_each_script_where_its_disk_is(tmp_path: Path) -> None:
    topology = load_topology("mail-web-pair-sync")
    dirs = NodeDirs(tmp_path / "bob")
    disk = tmp_path / "shared-disk"
    daemon = {"keepalive": "100ms", "deadtime": "1s", "initdead": "5s", "auto_failback": "on"}
    secret = ClusterSecret(b"s3cret")
    render_node(topology, "bob", daemon, dirs, secret, {"ttyS0": "/dev/ttyS0"}, shared_disk=disk)
    service = _conf(dirs.config_dir / "hblab-service.conf")
    assert service["MOUNT_mailer"] == str(dirs.state_dir / "disk-mail")
    assert service["MOUNT_webserver"] == service["MOUNT_pgpromote"] == str(dirs.state_dir / "disk-web")
    conf = _conf(dirs.config_dir / "hblab-disk.conf")
    assert conf["DISK_DIR_mail"] == str(disk / "mail") and conf["DISK_DIR_web"] == str(disk / "web")
    assert (disk / "mail").is_dir() and (disk / "web").is_dir()


def test_hblab_claim_mounts_both_groups_disks_on_one_node(tmp_path: Path) -> None:
    cfg, state = tmp_path / "ha.d", tmp_path / "state"
    (cfg / "resource.d").mkdir(parents=True)
    disks = {"mail": tmp_path / "disk" / "mail", "web": tmp_path / "disk" / "web"}
    install_disk_resources(cfg / "resource.d", cfg, "bob", state, tmp_path / "disk", "/py", disks)
    claim = str(cfg / "resource.d" / "hblab-claim")

    def run(*args: str) -> int:
        return subprocess.run([claim, *args], capture_output=True, timeout=10).returncode

    assert run("mail", "start") == 0 and run("web", "start") == 0
    assert (state / "disk-mail").resolve() == disks["mail"] and (state / "disk-web").resolve() == disks["web"]
    assert run("web", "stop") == 0
    assert run("web", "status") == 3 and run("mail", "status") == 0
    assert run("nope", "start") == 6  # no DISK_DIR_nope: not configured (LSB 6)
    assert run("../x", "start") == 2


def _pair_with(tmp_path: Path, shared_disk: str) -> Path:
    text = (TOPOLOGY_DIR / "mail-web-pair-sync.yaml").read_text()
    text = text[: text.index("shared_disk:")] + shared_disk
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("shared_disk", "message"),
    [
        (
            "shared_disk:\n  - {group: mail, writer: false}\n  - {group: mail, writer: false}\n",
            r"t\.yaml:\d+: shared_disk\.1\.group: group 'mail' already has a disk",
        ),
        (
            "shared_disk:\n  - {group: mail, writer: false}\n  - {group: web}\n",
            r"t\.yaml:\d+: shared_disk\.1\.writer: the lab's writer runs only on a topology's one disk",
        ),
        (
            "shared_disk:\n  - {group: mail, writer: false}\n  - {group: www, writer: false}\n",
            r"t\.yaml:\d+: shared_disk\.1\.group: expected the name of a group \(groups: mail, web\)",
        ),
        ("shared_disk: []\n", r"t\.yaml:\d+: shared_disk: expected one or more"),
        ("shared_disk:\n  - mail\n", r"t\.yaml:\d+: shared_disk\.0: expected a mapping, got str"),
    ],
)
def test_bad_disk_lists_are_errors_naming_file_and_line(
    tmp_path: Path, shared_disk: str, message: str
) -> None:
    path = _pair_with(tmp_path, shared_disk)
    with pytest.raises(TopologyError, match=message) as err:
        load_topology(path)
    # The line is the entry's own (or the key's, for the whole list).
    line = int(str(err.value).split(":", 2)[1])
    assert path.read_text().splitlines()[line - 1].lstrip().startswith(("- ", "shared_disk:"))
