"""Topology files: the shipped ones load, and every mistake is reported with file and YAML path."""

from pathlib import Path

import pytest

from lab.render import hacf_source, resource_groups
from lab.spec.names import IFNAME_MAX, RunNames, fit_ifname, new_run_id, run_id_of
from lab.spec.topology import TopologyError, available_topologies, load_topology, parse_topology

GOOD = """
name: t
nodes:
  bob: {}
  bobek: {}
  client: {role: client}
lans:
  lan:
    heartbeat: bcast
    members:
      bob: {iface: eth0, ip: 192.168.77.11/24}
      bobek: {iface: eth0, ip: 192.168.77.12/24}
      client: {iface: eth0, ip: 192.168.77.100/24}
groups:
  www: {home: bob, lan: lan, vip: 192.168.77.50/24, services: [8080]}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(TopologyError) as exc:
        parse_topology(text, Path("bad.yaml"))
    return [str(p) for p in exc.value.problems]


def test_shipped_topologies_load():
    names = available_topologies()
    assert {"two-node", "two-node-lan-only", "active-active"} <= set(names)
    for name in names:
        topo = load_topology(name)
        assert topo.client is not None
        # two service nodes; a Pacemaker topology may add members that only give quorum
        assert len([n for n in topo.servers if not n.quorum_only]) == 2


def test_two_node_has_lan_crossover_serial_and_client():
    topo = load_topology("two-node")
    assert [s.kind for s in topo.segments] == ["lan", "link"]
    assert topo.serial_lines[0].ends == (("bob", "ttyS0"), ("bobek", "ttyS0"))
    assert topo.groups[0].home == "bob"


def test_active_active_each_node_is_home_to_a_group():
    topo = load_topology("active-active")
    assert {g.home for g in topo.groups} == {"bob", "bobek"}
    assert len({g.vip for g in topo.groups}) == 2


def test_haresources_put_services_first_and_the_ip_last():
    groups = resource_groups(load_topology("active-active"))
    for g in groups:
        assert g.resources[-1].name == "IPaddr"
        assert all(r.name == "hblab-service" for r in g.resources[:-1])
    assert groups[1].resources[-1].spec == "IPaddr::192.168.77.52/24/eth0"


def test_media_follow_the_topology():
    topo = load_topology("two-node")
    text, origin = hacf_source(topo, "bob", {"keepalive": "50ms"}, {"ttyS0": "/dev/pts/7"})
    assert "bcast eth0" in text and "bcast eth1" in text and "serial /dev/pts/7" in text
    assert "keepalive 50ms" in text
    assert origin[2] == "daemon.keepalive"


def test_good_topology_parses():
    topo = parse_topology(GOOD, Path("t.yaml"))
    assert topo.node("bob").daemon == "hbd"
    assert topo.node("client").daemon == "none"


def test_unknown_node_is_named_with_its_path():
    text = GOOD.replace("bobek: {iface: eth0", "bobik: {iface: eth0")
    assert any(p.startswith("bad.yaml: lans.lan.members.bobik: unknown node") for p in problems(text))


def test_every_problem_is_reported_at_once():
    text = GOOD.replace("192.168.77.12/24", "192.168.77.999/24").replace(
        "services: [8080]", "services: [99999]"
    )
    found = problems(text)
    assert any("lans.lan.members.bobek.ip" in p for p in found)
    assert any("groups.www.services.0" in p for p in found)


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("vip: 192.168.77.50/24", "vip: 10.1.1.1/24", "groups.www.vip"),
        ("vip: 192.168.77.50/24", "vip: 192.168.77.11/24", "groups.www.vip"),
        ("home: bob", "home: client", "groups.www.home"),
        ("lan: lan, vip", "lan: wan, vip", "groups.www.lan"),
        ("bob: {}", "bob: {daemon: heartbeat}", "nodes.bob.daemon"),
        ("bob: {}", "bob: {daemon: command}", "nodes.bob.command"),
        ("client: {role: client}", "client: {role: client, daemon: hbd}", "nodes.client.daemon"),
        ("heartbeat: bcast", "heartbeat: smoke", "lans.lan.heartbeat"),
        ("{iface: eth0, ip: 192.168.77.11/24}", "{iface: eth0, ip: 8.8.8.8/24}", "lans.lan.members.bob.ip"),
        ("{iface: eth0, ip: 192.168.77.11/24}", "{iface: eth0}", "lans.lan.members.bob.ip"),
        (
            "{iface: eth0, ip: 192.168.77.11/24}",
            "{iface: averyverylongname, ip: 192.168.77.11/24}",
            "lans.lan.members.bob.iface",
        ),
        ("name: t", "name: t\ncolour: blue", "colour"),
        ("bob: {}", "Bob: {}", "nodes.Bob"),
    ],
)
def test_mistakes_name_their_yaml_path(old, new, path):
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    found = problems(text)
    assert any(p.startswith(f"bad.yaml: {path}:") for p in found), found


def test_point_to_point_link_needs_two_ends():
    text = GOOD + "links:\n  hb:\n    ends:\n      bob: {iface: eth1, ip: 10.77.0.1/30}\n"
    assert any("links.hb.ends: a point-to-point link has exactly two ends" in p for p in problems(text))


def test_serial_line_needs_two_ends():
    text = GOOD + "serial:\n  nm:\n    ends: {bob: ttyS0}\n"
    assert any("serial.nm.ends" in p for p in problems(text))


def test_malformed_yaml_gives_a_line():
    found = problems("nodes: [\n")
    assert found[0].startswith("bad.yaml: line ")


def test_not_a_mapping():
    assert problems("- 1\n- 2\n")[0].startswith("bad.yaml: <top>: expected a mapping")


def test_missing_file_lists_known_topologies(tmp_path):
    with pytest.raises(TopologyError) as exc:
        load_topology(tmp_path / "nope.yaml")
    assert "no such topology file" in str(exc.value) and "two-node" in str(exc.value)


def test_names_fit_interface_limits():
    names = RunNames(new_run_id())
    assert len(names.switch_port("abcdefgh", "abcdefgh")) <= IFNAME_MAX
    assert len(fit_ifname("x" * 40)) == IFNAME_MAX
    assert fit_ifname("x" * 40) != fit_ifname("x" * 39 + "y")
    assert names.node_netns("bob").startswith("hbl")
    assert run_id_of(names.node_netns("bob")) == names.run_id
    assert run_id_of("eth0") is None
    with pytest.raises(ValueError):
        RunNames("Bad-Id")


def test_a_service_with_a_script_is_that_init_script_in_haresources():
    text = GOOD.replace("services: [8080]", "services: [{port: 80, label: web, script: webserver}, 8080]")
    topo = parse_topology(text, Path("t.yaml"))
    assert topo.groups[0].services[0].script == "webserver"
    names = [r.spec for r in resource_groups(topo)[0].resources]
    assert names == ["webserver", "hblab-service::8080::www", "IPaddr::192.168.77.50/24/eth0"]


def test_a_script_name_is_a_file_name():
    text = GOOD.replace("services: [8080]", "services: [{port: 80, script: ../etc/passwd}]")
    assert any(p.startswith("bad.yaml: groups.www.services.0.script:") for p in problems(text))


def test_image_names_the_variant_the_nodes_run_from():
    assert parse_topology(GOOD, Path("t.yaml")).image is None
    assert parse_topology(GOOD + "image: webdb\n", Path("t.yaml")).image == "webdb"
    assert any(p.startswith("bad.yaml: image:") for p in problems(GOOD + "image: Web/DB\n"))


def test_a_script_takes_arguments_as_haresources_does():
    text = GOOD.replace("services: [8080]", "services: [{port: 5432, script: pgpromote::sync}]")
    topo = parse_topology(text, Path("t.yaml"))
    assert topo.groups[0].services[0].script_name == "pgpromote"
    [db, _ip] = resource_groups(topo)[0].resources
    assert (db.name, db.args, db.spec) == ("pgpromote", ("sync",), "pgpromote::sync")
