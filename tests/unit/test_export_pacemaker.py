"""`hbd export pacemaker`: golden outputs (the article's files, a hand-written file with every kind of
setting, the lab's topologies rendered to ha.d files) in every format, Pacemaker's own crm_verify on every
CIB, and the parts with a rule of their own (timing, key derivation, addresses, file modes, bad input)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from hbd.cli import main
from hbd.config.hacf import DIRECTIVES as HACF_DIRECTIVES
from hbd.config.model import AuthConfig, ClusterConfig, Config, ResourceGroup
from hbd.config.render import render_hacf
from hbd.export import corosync
from hbd.export.cib import render as render_cib
from hbd.export.command import AUTHKEY, COROSYNC_CONF, OUTPUT_NAMES
from hbd.export.crm import render as render_crm
from hbd.export.model import header
from hbd.export.pacemaker import DIRECTIVES as EXPORT_DIRECTIVES
from hbd.export.pacemaker import export as pacemaker_export
from tests.unit.test_config_render import auths, clusters, group_lists

DATA = Path(__file__).parent.parent / "data"
EXPORT = DATA / "export"
SHOWN_CONFIG_DIR = "/etc/ha.d"  # golden files name this instead of the test's temporary directory
POWER_SOCKET = "/run/hblab/power.sock"
LAB_SECRET = b"0123456789abcdef0123456789abcdef"  # fixed: the golden authkey depends on it


def install(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for name in ("ha.cf", "haresources"):
        os.chmod(dest / name, 0o644)
    os.chmod(dest / "authkeys", 0o600)
    return dest


def article(tmp: Path) -> tuple[Path, list[str]]:
    return install(DATA / "config" / "article", tmp / "ha.d"), []


def features(tmp: Path) -> tuple[Path, list[str]]:
    return install(EXPORT / "features" / "ha.d", tmp / "ha.d"), ["--node", "alice"]


def lab_case(topology: str, daemon: dict[str, object]) -> Callable[[Path], tuple[Path, list[str]]]:
    """bob's files of a lab topology, rendered as a lab run renders them; the nodes' addresses from it."""

    def make(tmp: Path) -> tuple[Path, list[str]]:
        from lab.backends.base import NodeDirs
        from lab.render import ClusterSecret, render_node
        from lab.spec.topology import load_topology

        topo = load_topology(topology)
        dirs = NodeDirs(tmp / "bob")
        shared = tmp / "disk" if topo.shared_disk_group is not None else None
        render_node(
            topo,
            "bob",
            daemon,
            dirs,
            ClusterSecret(LAB_SECRET),
            {"ttyS0": "/dev/ttyS0"},
            python="/usr/bin/python3",
            power_socket=POWER_SOCKET,
            shared_disk=shared,
        )
        args = ["--node", "bob"]
        for server in topo.servers:
            for seg, end in topo.endpoints_of(server.name):
                if seg.heartbeat:
                    args += ["--address", f"{server.name}:{end.iface}={end.ip.ip}"]
        return dirs.config_dir, args

    return make


CASES: dict[str, Callable[[Path], tuple[Path, list[str]]]] = {
    "article": article,
    "features": features,
    "lab-two-node": lab_case(
        "two-node", {"keepalive": "100ms", "deadtime": "500ms", "auto_failback": "on", "fencing": "on"}
    ),
    "lab-active-active": lab_case(
        "active-active", {"keepalive": "200ms", "deadtime": "1s", "auto_failback": "off", "ping": ["client"]}
    ),
    "lab-two-node-lan-only": lab_case("two-node-lan-only", {"auto_failback": "on"}),
    "lab-bench-two-node": lab_case(
        "bench-two-node",
        {
            "keepalive": "50ms",
            "deadtime": "300ms",
            "auto_failback": "off",
            "garp_count": 10,
            "resource_timeout": "20s",
        },
    ),
    "lab-two-node-shared-disk": lab_case(
        "two-node-shared-disk", {"auto_failback": "off", "fencing": "on", "fence_delay": "1s"}
    ),
}


def export(case: str, fmt: str, tmp: Path) -> Path:
    config_dir, args = CASES[case](tmp / fmt)
    out = tmp / f"out-{fmt}"
    assert (
        main(
            [
                "export",
                "pacemaker",
                "--config-dir",
                str(config_dir),
                "--format",
                fmt,
                "--out",
                str(out),
                *args,
            ]
        )
        == 0
    )
    for path in out.iterdir():
        if path.name != AUTHKEY:
            path.write_text(path.read_text().replace(str(config_dir), SHOWN_CONFIG_DIR))
    return out


def golden(case: str, name: str, got: str) -> None:
    expected = EXPORT / case / "expected" / name
    if os.environ.get("HBD_REGEN_GOLDEN"):
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(got)
    assert got == expected.read_text(), f"{case}/{name} differs (HBD_REGEN_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("fmt", sorted(OUTPUT_NAMES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_outputs(case: str, fmt: str, tmp_path: Path) -> None:
    out = export(case, fmt, tmp_path)
    golden(case, OUTPUT_NAMES[fmt], (out / OUTPUT_NAMES[fmt]).read_text())
    golden(case, COROSYNC_CONF, (out / COROSYNC_CONF).read_text())
    golden(case, "authkey.sha256", hashlib.sha256((out / AUTHKEY).read_bytes()).hexdigest() + "\n")
    assert (out / AUTHKEY).stat().st_mode & 0o777 == 0o400
    assert (out / OUTPUT_NAMES[fmt]).stat().st_mode & 0o077 == 0  # fence parameters may be passwords


# Without a status section every node is "never seen": crm_verify then warns about the runtime state (no
# quorum, nodes it would fence at start-up), which is no fault of the configuration. Anything else fails.
RUNTIME_STATE_WARNINGS = (
    "Fencing and resource management disabled due to lack of quorum",
    "is unclean but cannot be fenced",
    "Warnings found during check: config may not be valid",
)
ONLINE = '<node_state id="{id}" uname="{name}" in_ccm="true" crmd="online" join="member" expected="member"/>'


def crm_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["crm_verify", "-V", "-x", str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(
    shutil.which("crm_verify") is None, reason="crm_verify absent (make setup installs pacemaker-cli-utils)"
)
@pytest.mark.parametrize("case", sorted(CASES))
def test_crm_verify_accepts_every_exported_cib(case: str, tmp_path: Path) -> None:
    assert_crm_verify_accepts(export(case, "cib", tmp_path) / "cib.xml", tmp_path)


def assert_crm_verify_accepts(cib: Path, tmp_path: Path) -> None:
    result = crm_verify(cib)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode in (0, 78), lines
    unexpected = [line for line in lines if not any(w in line for w in RUNTIME_STATE_WARNINGS)]
    assert not unexpected, lines
    # the same document once both nodes are up (as in the running cluster): not one warning
    text = cib.read_text()
    nodes = [line.split('"') for line in text.splitlines() if "<node id=" in line]
    status = "".join(ONLINE.format(id=parts[1], name=parts[3]) for parts in nodes)
    online = tmp_path / "online.xml"
    online.write_text(
        text.replace("<cib ", '<cib have-quorum="1" ').replace("<status />", f"<status>{status}</status>")
    )
    result = crm_verify(online)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stderr


@pytest.mark.skipif(shutil.which("crm_verify") is None, reason="crm_verify absent")
def test_a_resource_in_two_groups_becomes_two_resources(tmp_path: Path) -> None:
    """haresources only warns about it (heartbeat runs the script for each group): ids must not collide."""
    config_dir, _ = article(tmp_path)
    (config_dir / "haresources").write_text("bob 192.168.0.250 apache\nbobek 192.168.0.251 apache\n")
    out = tmp_path / "out"
    assert (
        main(["export", "pacemaker", "--config-dir", str(config_dir), "--format", "cib", "--out", str(out)])
        == 0
    )
    assert_crm_verify_accepts(out / "cib.xml", tmp_path)
    primitives = normalized(out / "cib.xml")["primitives"]
    assert isinstance(primitives, dict)
    assert {k for k, v in primitives.items() if v[2] == "apache"} == {"apache", "apache-2"}


@pytest.mark.skipif(shutil.which("crm_verify") is None, reason="crm_verify absent")
@settings(max_examples=40, deadline=None)
@given(clusters(), group_lists(), auths())
def test_crm_verify_accepts_the_cib_of_any_configuration(
    cluster: ClusterConfig, case: tuple[tuple[str, ...], tuple[ResourceGroup, ...]], auth: AuthConfig
) -> None:
    """Any configuration hbd's parsers can produce (the round-trip strategies of test_config_render) exports
    to a CIB Pacemaker accepts: ids never collide, every value is one Pacemaker reads."""
    nodes, groups = case
    stonith = tuple(dataclasses.replace(s, host="*") for s in cluster.stonith_hosts)
    cluster = dataclasses.replace(cluster, nodes=nodes, stonith_hosts=stonith)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(config_dir=tmp, node="bob", cluster=cluster, groups=groups, auth=auth)
        result = pacemaker_export(config, render_hacf(cluster))
        cib = Path(tmp) / "cib.xml"
        cib.write_text(render_cib(result.configuration, header(tmp, result.notes)))
        assert_crm_verify_accepts(cib, Path(tmp))


@pytest.mark.skipif(shutil.which("crm_verify") is None, reason="crm_verify absent")
def test_crm_verify_refuses_a_broken_cib(tmp_path: Path) -> None:
    """The check above can fail: the same export with a wrong score is refused."""
    cib = export("article", "cib", tmp_path) / "cib.xml"
    cib.write_text(cib.read_text().replace('score="100"', 'score="often"'))
    assert crm_verify(cib).returncode != 0


def normalized(cib: Path) -> dict[str, object]:
    """What a CIB configures, without generated ids of attribute sets, comments or attribute order."""
    conf = ET.parse(cib).getroot().find("configuration")
    assert conf is not None

    def pairs(element: ET.Element, path: str) -> list[tuple[str | None, str | None]]:
        return sorted((nv.get("name"), nv.get("value")) for nv in element.findall(f"{path}/nvpair"))

    def ops(element: ET.Element) -> list[tuple[str | None, ...]]:
        return sorted(
            (o.get("name"), o.get("interval"), o.get("timeout")) for o in element.findall("operations/op")
        )

    def rules(element: ET.Element) -> list[object]:
        return [
            (r.get("score"), r.get("score-attribute"), [(e.get("attribute"), e.get("operation")) for e in r])
            for r in element.findall("rule")
        ]

    return {
        "nodes": [(n.get("id"), n.get("uname")) for n in conf.iter("node")],
        "properties": pairs(conf, "crm_config/cluster_property_set"),
        "primitives": {
            p.get("id"): (
                p.get("class"),
                p.get("provider"),
                p.get("type"),
                pairs(p, "instance_attributes"),
                pairs(p, "meta_attributes"),
                ops(p),
            )
            for p in conf.iter("primitive")
        },
        "groups": {
            g.get("id"): ([p.get("id") for p in g.findall("primitive")], pairs(g, "meta_attributes"))
            for g in conf.iter("group")
        },
        "clones": {c.get("id"): [p.get("id") for p in c.findall("primitive")] for c in conf.iter("clone")},
        "locations": {
            loc.get("id"): (loc.get("rsc"), loc.get("node"), loc.get("score"), rules(loc))
            for loc in conf.iter("rsc_location")
        },
        "rsc_defaults": pairs(conf, "rsc_defaults/meta_attributes"),
        "op_defaults": pairs(conf, "op_defaults/meta_attributes"),
    }


# crmsh checks each agent's meta-data on this machine: the lab's and the article's scripts are not installed
# here, which is no fault of the syntax.
CRMSH_ABSENT_AGENT = ("got no meta-data, does this RA exist?", "no such resource agent")


@pytest.mark.skipif(
    shutil.which("crm") is None or shutil.which("cibadmin") is None,
    reason="crmsh absent (make setup installs it)",
)
@pytest.mark.parametrize("case", sorted(CASES))
def test_crmsh_reads_the_crm_export_as_the_cib_export(case: str, tmp_path: Path) -> None:
    """crmsh loads cluster.crm into an empty CIB; that CIB configures exactly what cib.xml does."""
    crm_file = export(case, "crm", tmp_path) / "cluster.crm"
    cib_file = export(case, "cib", tmp_path) / "cib.xml"
    assert_crmsh_builds(crm_file, cib_file, tmp_path)


@pytest.mark.skipif(
    shutil.which("crm") is None or shutil.which("cibadmin") is None,
    reason="crmsh absent (make setup installs it)",
)
# crmsh takes about a second a file: few examples, and no shrinking (minutes)
@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(clusters(), group_lists(), auths())
def test_crmsh_reads_the_crm_export_of_any_configuration_as_its_cib(
    cluster: ClusterConfig, case: tuple[tuple[str, ...], tuple[ResourceGroup, ...]], auth: AuthConfig
) -> None:
    """Quoting holds for any value the parsers accept (fence secrets, host lists, paths). crmsh's complaints
    about the made-up agents' parameters (it reads the meta-data of those installed here) are not checked:
    a syntax error fails the load itself."""
    nodes, groups = case
    stonith = tuple(dataclasses.replace(s, host="*") for s in cluster.stonith_hosts)
    cluster = dataclasses.replace(cluster, nodes=nodes, stonith_hosts=stonith)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(config_dir=tmp, node="bob", cluster=cluster, groups=groups, auth=auth)
        result = pacemaker_export(config, render_hacf(cluster))
        lines = header(tmp, result.notes)
        crm_file, cib_file = Path(tmp) / "cluster.crm", Path(tmp) / "cib.xml"
        crm_file.write_text(render_crm(result.configuration, lines))
        cib_file.write_text(render_cib(result.configuration, lines))
        assert_crmsh_builds(crm_file, cib_file, Path(tmp), agents_checked=False)


def assert_crmsh_builds(
    crm_file: Path, cib_file: Path, tmp_path: Path, *, agents_checked: bool = True
) -> None:
    loaded = tmp_path / "crmsh-cib.xml"
    empty = subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True, timeout=60)
    loaded.write_text(empty.stdout)
    env = {**os.environ, "CIB_file": str(loaded)}
    result = subprocess.run(
        ["crm", "-F", "configure", "load", "update", str(crm_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    errors = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "ERROR" in line and not any(ok in line for ok in CRMSH_ABSENT_AGENT + RUNTIME_STATE_WARNINGS)
    ]
    assert result.returncode == 0 and not (errors and agents_checked), result.stdout + result.stderr
    assert normalized(loaded) == normalized(cib_file)


@pytest.mark.skipif(
    shutil.which("pcs") is None or shutil.which("cibadmin") is None,
    reason="pcs absent (not installed by make setup: it brings ruby and the pcsd service)",
)
@pytest.mark.parametrize("case", ["features"])  # every construct; pcs runs ~1 s a command, 20 s a case
def test_the_pcs_script_builds_the_cib_export(case: str, tmp_path: Path) -> None:
    """The pcs script, run on an offline CIB (its first and last command talk to a running cluster, so they
    are left out here), configures exactly what the exported cib.xml does. PCS_OPTS=--force: the lab's and
    the article's scripts and agents are not installed on this machine."""
    script = (export(case, "pcs", tmp_path) / "cluster-pcs.sh").read_text().splitlines()
    cib_file = export(case, "cib", tmp_path) / "cib.xml"
    assert script[-1] == 'pcs cluster cib-push "$CIB" --config' and 'pcs cluster cib "$CIB"' in script
    offline = tmp_path / "offline.sh"
    offline.write_text("\n".join(line for line in script if not line.startswith("pcs cluster ")) + "\n")
    built = tmp_path / "pcs-cib.xml"
    empty = subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True, timeout=60)
    built.write_text(empty.stdout)
    env = {**os.environ, "CIB": str(built), "PCS_OPTS": "--force"}
    result = subprocess.run(["sh", str(offline)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    without_nodes = {k: v for k, v in normalized(cib_file).items() if k != "nodes"}
    assert normalized(built) == {**without_nodes, "nodes": []}  # pcs leaves the nodes to corosync.conf


@pytest.mark.skipif(
    shutil.which("corosync") is None,
    reason="corosync absent (make setup installs it with pacemaker-cli-utils)",
)
@pytest.mark.parametrize("case", [c for c in sorted(CASES) if c.startswith("lab-")])
def test_corosync_accepts_the_exported_corosync_conf(case: str, tmp_path: Path) -> None:
    """`corosync -t` parses and checks the file (knet options, crypto, the authkey's size, addresses). It
    also wants this host in the nodelist: the first node's ring addresses become loopback ones here."""
    out = export(case, "cib", tmp_path)
    lines, first_node = [], True
    for line in (out / COROSYNC_CONF).read_text().splitlines():
        if line.strip() == "}" and first_node and any("ring0_addr" in x for x in lines):
            first_node = False
        if first_node and "_addr:" in line:
            link = int(line.split("ring")[1].split("_")[0])
            line = f"\t\tring{link}_addr: 127.0.0.{link + 1}"
        lines.append(line)
    text = "\n".join(lines).replace("totem {", f"totem {{\n\tkeyfile: {out / AUTHKEY}", 1)
    conf = tmp_path / "test.conf"
    conf.write_text(text + "\n")
    result = subprocess.run(["corosync", "-t", "-c", str(conf)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def simulated_moves(cib: Path, up: list[str], running_on: str | None = None) -> dict[str, str]:
    """What Pacemaker's scheduler does with the exported CIB (crm_simulate, quorate, `up` online, the
    article's group running on `running_on`): resource -> `start@NODE` or `move@NODE` (no entry: stays)."""
    args = ["crm_simulate", "-x", str(cib), "-S", "-q", "1"]
    for node in up:
        args += ["--node-up", node]
    if running_on is not None:
        for rsc in ARTICLE_GROUP:
            args += ["-i", f"{rsc}_start_0@{running_on}=0"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    summary = done.stdout.split("Transition Summary:")[1].split("Executing")[0]
    moves: dict[str, str] = {}
    for line in summary.splitlines():
        words = line.replace("(", " ").replace(")", " ").split()
        if len(words) >= 4 and words[0] == "*" and words[1] in ("Start", "Move"):
            moves[words[2]] = f"{words[1].lower()}@{words[-1] if words[1] == 'Move' else words[3]}"
    return moves


ARTICLE_GROUP = ("mailer", "pop3", "imapd", "ip-192-168-0-250")


@pytest.mark.skipif(shutil.which("crm_simulate") is None, reason="crm_simulate absent")
@pytest.mark.parametrize("failback", ["on", "off"])
def test_the_scheduler_places_the_article_group_as_hbd_would(failback: str, tmp_path: Path) -> None:
    """Home node first; the peer when the home node is down; back home only with auto_failback on."""
    config_dir, _ = article(tmp_path)
    hacf = config_dir / "ha.cf"
    hacf.write_text(hacf.read_text().replace("nice_failback on", f"auto_failback {failback}"))
    out = tmp_path / "out"
    assert (
        main(["export", "pacemaker", "--config-dir", str(config_dir), "--format", "cib", "--out", str(out)])
        == 0
    )
    cib = out / "cib.xml"
    assert simulated_moves(cib, ["bob", "bobek"]) == dict.fromkeys(ARTICLE_GROUP, "start@bob")
    assert simulated_moves(cib, ["bobek"]) == dict.fromkeys(ARTICLE_GROUP, "start@bobek")
    back_home = simulated_moves(cib, ["bob", "bobek"], running_on="bobek")
    assert back_home == (dict.fromkeys(ARTICLE_GROUP, "move@bob") if failback == "on" else {})


def test_every_ha_cf_directive_has_a_disposition() -> None:
    """A directive hbd accepts is either mapped or listed with its reason (refused ones never load)."""
    missing = [
        name for name, d in HACF_DIRECTIVES.items() if d.help != "refused" and name not in EXPORT_DIRECTIVES
    ]
    assert not missing, f"add to hbd/export/pacemaker.py DIRECTIVES: {missing}"


def test_an_unknown_directive_is_listed_not_dropped() -> None:
    from hbd.export.pacemaker import directive_notes

    notes = directive_notes("node a b\nhbd_future 1\n", "ha.cf")
    assert [str(n) for n in notes] == ["ha.cf:2: hbd_future 1: the export has no rule for hbd_future"]


def test_bad_input_is_refused_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_dir, _ = article(tmp_path)
    (config_dir / "ha.cf").write_text((config_dir / "ha.cf").read_text() + "deadtime 3 s\n")
    assert main(["export", "pacemaker", "--config-dir", str(config_dir)]) == 1
    assert f"{config_dir}/ha.cf:14: deadtime takes one value" in capsys.readouterr().err


def test_without_out_the_resources_go_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_dir, _ = article(tmp_path)
    assert main(["export", "pacemaker", "--config-dir", str(config_dir), "--format", "crm"]) == 0
    out = capsys.readouterr().out
    assert "group grp-mailer mailer pop3 imapd ip-192-168-0-250" in out
    assert "location loc-grp-mailer-home grp-mailer 100: bob" in out


def test_an_unwritable_out_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_dir, _ = article(tmp_path)
    (tmp_path / "file").write_text("")
    assert (
        main(["export", "pacemaker", "--config-dir", str(config_dir), "--out", str(tmp_path / "file")]) == 1
    )
    assert f"hbd export: cannot write {tmp_path / 'file'}" in capsys.readouterr().err


def test_crc_authkeys_writes_no_authkey_and_says_so(tmp_path: Path) -> None:
    config_dir, _ = article(tmp_path)
    (config_dir / "authkeys").write_text("auth 1\n1 crc\n")
    out = tmp_path / "out"
    assert main(["export", "pacemaker", "--config-dir", str(config_dir), "--out", str(out)]) == 0
    assert not (out / AUTHKEY).exists()
    assert (
        "crc, which has no secret: no authkey written; run corosync-keygen"
        in (out / COROSYNC_CONF).read_text()
    )


def test_ucast_names_the_peer_of_the_local_node_only(tmp_path: Path) -> None:
    config_dir, _ = article(tmp_path)
    hacf = config_dir / "ha.cf"
    hacf.write_text(hacf.read_text().replace("udp eth1", "ucast eth1 10.0.0.2"))
    for node, expected in (("bob", {"bobek": "10.0.0.2"}), ("bobek", {"bob": "10.0.0.2"})):
        out = tmp_path / node
        assert (
            main(["export", "pacemaker", "--config-dir", str(config_dir), "--node", node, "--out", str(out)])
            == 0
        )
        conf = (out / COROSYNC_CONF).read_text()
        ring0 = [line.split(": ")[1] for line in conf.splitlines() if "ring0_addr" in line]
        names = [line.split(": ")[1] for line in conf.splitlines() if line.strip().startswith("name:")]
        got = dict(zip(names, ring0, strict=True))
        peer = next(iter(expected))
        assert got[peer] == expected[peer]
        assert got[node] == corosync.placeholder(node, "eth1")


@pytest.mark.parametrize("sticky", [0, 200])
@pytest.mark.parametrize("members", [1, 4, 5, 12])
def test_one_more_ping_node_outweighs_home_and_a_groups_summed_stickiness(sticky: int, members: int) -> None:
    from hbd.export.pacemaker import HOME_SCORE, ping_multiplier

    assert ping_multiplier(sticky, members) > HOME_SCORE + sticky * members


def test_timing_of_the_article() -> None:
    t = corosync.timing(keepalive_s=2, deadtime_s=10)
    assert (t.token_ms, t.consensus_ms, t.retransmits) == (4545, 5455, 2)


@given(st.integers(3, 120_000), st.integers(1, 60_000))
def test_token_plus_consensus_is_deadtime_and_consensus_is_at_least_corosyncs_minimum(
    deadtime_ms: int, keepalive_ms: int
) -> None:
    t = corosync.timing(keepalive_ms / 1000, deadtime_ms / 1000)
    assert t.token_ms + t.consensus_ms == deadtime_ms
    assert t.consensus_ms >= 1.2 * t.token_ms  # corosync refuses less
    assert t.retransmits >= 2


def test_hkdf_matches_rfc_5869_test_case_1() -> None:
    okm = corosync.hkdf_sha256(
        bytes.fromhex("0b" * 22),
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_authkey_depends_on_secret_and_cluster_name() -> None:
    key = corosync.derive_authkey(b"secret", "hbd")
    assert len(key) == corosync.AUTHKEY_BYTES
    assert key == corosync.derive_authkey(b"secret", "hbd")  # both nodes derive the same key
    assert key != corosync.derive_authkey(b"secret2", "hbd")
    assert key != corosync.derive_authkey(b"secret", "other")
