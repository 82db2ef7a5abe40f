"""`daemon: pacemaker` nodes without Docker: the topology key, the backend rule, and the cluster files the lab
renders from hbd's own export (lab/pacemaker.py). tests/docker/test_pacemaker.py runs them for real."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lab.backends.base import NodeDirs
from lab.pacemaker import pacemaker_dir, render_pacemaker_cluster
from lab.paths import SCENARIO_DIR
from lab.render import ClusterSecret, RenderError
from lab.spec.scenario import load_scenario, validate_for_backend
from lab.spec.topology import TopologyError, load_topology, parse_topology

DAEMON = {"keepalive": "100ms", "deadtime": "1s", "auto_failback": "on"}

TOPOLOGY = """
nodes:
  bob: {daemon: pacemaker}
  carol: {daemon: %s, quorum_only: %s}
  client: {role: client}
lans:
  lan:
    members:
      bob: {iface: eth0, ip: 192.168.77.11/24}
      carol: {iface: eth0, ip: 192.168.77.13/24}
      client: {iface: eth0, ip: 192.168.77.100/24}
"""


def test_quorum_only_is_read() -> None:
    topo = parse_topology(TOPOLOGY % ("pacemaker", "true"), Path("t.yaml"))
    assert topo.node("carol").quorum_only and topo.node("carol").daemon == "pacemaker"
    assert not topo.node("bob").quorum_only


@pytest.mark.parametrize(
    ("daemon", "value", "message"),
    [
        ("hbd", "true", "t.yaml: nodes.carol.quorum_only: only a daemon: pacemaker node can be quorum_only"),
        ("pacemaker", "yes please", "t.yaml: nodes.carol.quorum_only: expected true or false"),
    ],
)
def test_quorum_only_refused(daemon: str, value: str, message: str) -> None:
    with pytest.raises(TopologyError) as exc:
        parse_topology(TOPOLOGY % (daemon, value), Path("t.yaml"))
    assert [str(p) for p in exc.value.problems] == [message]


def test_pacemaker_scenarios_need_docker() -> None:
    scenario = load_scenario(SCENARIO_DIR / "pacemaker-power-off.yaml")
    assert validate_for_backend(scenario, "docker") == []
    [problem] = validate_for_backend(scenario, "netns")
    assert "nodes bob, bobek run daemon: pacemaker, which needs the docker backend" in problem
    assert "try --backend docker" in problem


def render(topology: str, tmp_path: Path, daemon: dict[str, object] = DAEMON) -> dict[str, Path]:
    topo = load_topology(topology)
    members = [n.name for n in topo.servers]
    dirs = {name: NodeDirs(tmp_path / name) for name in members}
    render_pacemaker_cluster(topo, daemon, dirs, ClusterSecret.fresh())
    return {name: pacemaker_dir(d) for name, d in dirs.items()}


def test_two_node_cluster_is_the_export_itself(tmp_path: Path) -> None:
    out = render("pacemaker-two-node", tmp_path)
    conf = (out["bob"] / "corosync.conf").read_text()
    assert "two_node: 1" in conf
    assert f"logfile: {out['bob'] / 'corosync.log'}" in conf  # kept in the run directory
    rings = ["192.168.77.11", "10.77.0.1", "192.168.77.12", "10.77.0.2"]
    assert re.findall(r"ring\d_addr: (\S+)", conf) == rings
    cib = (out["bobek"] / "cib.xml").read_text()
    assert cib == (out["bob"] / "cib.xml").read_text()
    assert 'type="IPaddr2"' in cib and "lsb" not in cib  # only the VIP moves: the responder runs everywhere
    assert (out["bob"] / "authkey").read_bytes() == (out["bobek"] / "authkey").read_bytes()
    assert (out["bob"] / "authkey").stat().st_mode & 0o077 == 0


def test_quorum_node_is_added_as_an_admin_grows_the_cluster(tmp_path: Path) -> None:
    out = render("pacemaker-three-node", tmp_path)
    conf = (out["carol"] / "corosync.conf").read_text()
    assert "two_node" not in conf  # three votes: a plain majority, a lone node is never quorate
    carol = conf.split("name: carol\n", 1)[1].split("}", 1)[0]
    assert re.findall(r"(nodeid|ring\d_addr): (\S+)", carol) == [
        ("nodeid", "3"), ("ring0_addr", "192.168.77.13"), ("ring1_addr", "10.77.0.3"),
    ]  # fmt: skip
    cib = (out["bob"] / "cib.xml").read_text()
    assert '<node id="3" uname="carol" />' in cib
    assert re.search(r'<rsc_location [^>]*rsc="grp-ip-192-168-77-50" node="carol" score="-INFINITY"', cib)
    assert {(d / "cib.xml").read_text() for d in out.values()} == {cib}


@pytest.mark.skipif(shutil.which("crm_verify") is None, reason="crm_verify absent (pacemaker-cli-utils)")
@pytest.mark.parametrize("topology", ["pacemaker-two-node", "pacemaker-three-node"])
def test_crm_verify_accepts_the_lab_cib(topology: str, tmp_path: Path) -> None:
    cib = render(topology, tmp_path)["bob"] / "cib.xml"
    result = subprocess.run(["crm_verify", "-x", str(cib)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fencing_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"daemon\.fencing is not supported there yet"):
        render("pacemaker-two-node", tmp_path, {**DAEMON, "fencing": "on"})


def test_the_migration_experiment_loads_its_own_and_shipped_scenarios() -> None:
    from lab.analysis.experiment import load_experiment, scenario_ref

    experiment = load_experiment("pacemaker-migration")
    scenarios = [load_scenario(scenario_ref(experiment, s)) for s in experiment.scenarios]
    for scenario in scenarios:
        assert validate_for_backend(scenario, "docker") == [], scenario.name
    pacemaker = [s.name for s in scenarios if validate_for_backend(s, "netns")]
    hbd = [s.name for s in scenarios if s.name not in pacemaker]
    assert hbd == ["hbd-power-off", "hbd-soft-stop", "hbd-cut-heal"]
    # side by side: every hbd scenario has its Pacemaker twin with the same steps and timings
    by_name = {s.name: s for s in scenarios}
    for name in hbd:
        twin = by_name[name.replace("hbd-", "pacemaker-")]
        assert [(t.kind, t.args) for t in twin.steps] == [(t.kind, t.args) for t in by_name[name].steps]
        assert twin.daemon == by_name[name].daemon and twin.expect == by_name[name].expect


def owner_run(tmp_path: Path, records: list[tuple[float, list[str]]], mark: float) -> Any:
    """A ScenarioRun with only what _wait_for_owner reads: owners.jsonl, the action mark and lab.jsonl."""
    from lab.runner import RecordLog, ScenarioRun

    run = ScenarioRun.__new__(ScenarioRun)
    run.run_dir = tmp_path
    run.action_mark = mark
    run.log = RecordLog(tmp_path / "lab.jsonl")
    lines = [json.dumps({"mono": mono, "source": "owner", "owners": owners}) for mono, owners in records]
    (tmp_path / "owners.jsonl").write_text("".join(f"{line}\n" for line in lines))
    return run


def test_vip_owner_waits_for_the_node_after_the_last_action(tmp_path: Path) -> None:
    now = time.monotonic()
    run = owner_run(tmp_path, [(now - 5, ["bobek"]), (now - 1, ["bob"]), (now, ["bobek"])], mark=now - 2)
    run._wait_for_owner("vip.owner", "bobek", 1.0)  # bobek before the mark does not count; the last does
    [ok] = [json.loads(line) for line in (tmp_path / "lab.jsonl").read_text().splitlines()]
    assert ok["event"] == "wait_for.ok" and ok["matched_mono"] == now


def test_vip_owner_times_out_with_a_step_error(tmp_path: Path) -> None:
    from lab.runner import StepError

    now = time.monotonic()
    run = owner_run(tmp_path, [(now - 5, ["bobek"]), (now, ["bob"])], mark=now - 2)
    run.topology = load_topology("pacemaker-two-node")
    run.daemons = type("NoDaemons", (), {"pid": staticmethod(lambda node: 1)})()
    with pytest.raises(StepError, match=r"bobek holding the VIP not seen within 0\.2 s"):
        run._wait_for_owner("vip.owner", "bobek", 0.2)


def test_vip_single_needs_one_owner_held_steadily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.runner

    monkeypatch.setattr(lab.runner, "VIP_SINGLE_STEADY_S", 0.3)
    now = time.monotonic()
    records = [(now - 1, ["bob", "bobek"]), (now - 0.5, ["bob"]), (now - 0.1, ["bobek"])]
    run = owner_run(tmp_path, records, mark=now - 2)
    run._wait_for_owner("vip.single", None, 2.0)
    [ok] = [json.loads(line) for line in (tmp_path / "lab.jsonl").read_text().splitlines()]
    assert ok["node"] == "bobek" and ok["matched_mono"] == now - 0.1  # the current owner, held since
