"""`hblab import PATH/ha.d` (issue 13): a classic Debian-style /etc/ha.d becomes a topology that loads, runs
every hbd from the very files, and fits them; what cannot be mapped is said on stderr and in the YAML."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.backends.base import NodeDirs
from lab.cli import main
from lab.render import ClusterSecret, render_node
from lab.spec.importer import HaDImportError, import_ha_d
from lab.spec.topology import load_topology

DEBIAN_HA_D = Path(__file__).resolve().parents[1] / "data" / "debian-ha.d"


def test_the_debian_directory_imports_into_a_topology_that_fits_it(tmp_path: Path) -> None:
    out = tmp_path / "mail.yaml"
    assert main(["import", str(DEBIAN_HA_D), "--out", str(out)]) == 0
    topology = load_topology(out)
    assert {n.name: (n.role, n.config_dir) for n in topology.nodes} == {
        "bob": ("server", DEBIAN_HA_D),
        "bobek": ("server", DEBIAN_HA_D),
        "client": ("client", None),
    }
    # bcast eth1 -> a crossover link on eth1; the service address's subnet -> a LAN on another interface.
    crossover = topology.segment("crossover")
    assert (crossover.kind, crossover.heartbeat) == ("link", "bcast")
    assert {e.node: e.iface for e in crossover.endpoints} == {"bob": "eth1", "bobek": "eth1"}
    lan = topology.segment("lan")
    assert {e.node: e.iface for e in lan.endpoints} == {"bob": "eth0", "bobek": "eth0", "client": "eth0"}
    assert [(s.ends, s.heartbeat) for s in topology.serial_lines] == [
        ((("bob", "ttyS0"), ("bobek", "ttyS0")), True)
    ]
    (group,) = topology.groups
    assert (group.name, group.home, str(group.vip), group.lan) == ("mailer", "bob", "192.168.0.250/24", "lan")
    assert [(s.port, s.script) for s in group.services] == [(25, "mailer"), (110, "pop3"), (143, "imapd")]
    # hbd runs from the files byte for byte, and render's own check finds every medium ha.cf names.
    for node in ("bob", "bobek"):
        dirs = NodeDirs(tmp_path / "nodes" / node)
        render_node(topology, node, {}, dirs, ClusterSecret.fresh())
        for name in ("ha.cf", "haresources", "authkeys"):
            assert (dirs.config_dir / name).read_bytes() == (DEBIAN_HA_D / name).read_bytes()


def test_the_debian_directory_is_the_issues(tmp_path: Path) -> None:
    hacf = (DEBIAN_HA_D / "ha.cf").read_text().splitlines()
    for line in (
        "keepalive 2",
        "deadtime 30",
        "initdead 120",
        "bcast eth1",
        "serial /dev/ttyS0",
        "baud 19200",
    ):
        assert line in hacf
    assert {"auto_failback on", "node bob", "node bobek"} <= set(hacf)
    article = "bob mailer pop3 imapd IPaddr::192.168.0.250/24\nbobek\n"
    assert (DEBIAN_HA_D / "haresources").read_text() == article
    assert (DEBIAN_HA_D / "authkeys").read_text() == "auth 1\n1 sha1 KEY\n"


def test_what_cannot_be_mapped_is_said_on_stderr_and_in_the_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ha_d = tmp_path / "ha.d"
    shutil.copytree(DEBIAN_HA_D, ha_d)
    (ha_d / "ha.cf").write_text(
        "keepalive 1\ndeadtime 10\nucast eth2 10.1.0.2\nping 192.168.0.254\nnode alpha\nnode beta\n"
    )
    (ha_d / "haresources").write_text("alpha drbddisk::r0 frobnicator apache2 10.9.0.5\n")
    out = tmp_path / "out.yaml"
    assert main(["import", str(ha_d), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    text = out.read_text()
    for said in (
        "ha.cf:3: ucast:eth2:10.1.0.2: the files do not say whose address 10.1.0.2 is: given to alpha",
        "ping 192.168.0.254: the lab has no such hosts",
        "haresources:1: drbddisk::r0: storage or state",
        "haresources:1: frobnicator: no known TCP port",
        "haresources:1: 10.9.0.5 has no prefix",
    ):
        assert said in err, said
        assert said in text, said
    assert text.count("#   TODO: ") == err.count("not mapped: ")
    topology = load_topology(out)
    assert [(s.port, s.script) for s in topology.groups[0].services] == [(80, "apache2")]
    assert {str(e.ip.ip) for e in topology.segment("crossover").endpoints} >= {"10.1.0.2"}


def test_a_broken_directory_is_refused_with_file_and_line(tmp_path: Path) -> None:
    ha_d = tmp_path / "ha.d"
    shutil.copytree(DEBIAN_HA_D, ha_d)
    (ha_d / "ha.cf").write_text("keepalive 2\nbcast eth1\nnode bob\nnode bobek\nfrobnicate yes\n")
    with pytest.raises(HaDImportError, match=rf"{ha_d / 'ha.cf'}.*5"):
        import_ha_d(ha_d)
    (ha_d / "haresources").unlink()
    with pytest.raises(HaDImportError, match="haresources: cannot read"):
        import_ha_d(ha_d)


def test_ucast_on_the_service_lan_keeps_its_subnet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ha_d = tmp_path / "ha.d"
    shutil.copytree(DEBIAN_HA_D, ha_d)
    (ha_d / "ha.cf").write_text(
        "ucast eth0 192.168.0.11\nucast eth0 192.168.0.12\nucast eth0 10.7.7.7\nnode bob\nnode bobek\n"
    )
    out = tmp_path / "out.yaml"
    assert main(["import", str(ha_d), "--out", str(out)]) == 0
    lan = load_topology(out).segment("lan")
    assert lan.heartbeat == "ucast"
    assert {e.node: str(e.ip) for e in lan.endpoints if e.node != "client"} == {
        "bob": "192.168.0.11/24",
        "bobek": "192.168.0.12/24",
    }
    assert "ha.cf:3: ucast:eth0:10.7.7.7: 10.7.7.7 is not on lan (192.168.0.0/24); not mapped" in (
        capsys.readouterr().err
    )
