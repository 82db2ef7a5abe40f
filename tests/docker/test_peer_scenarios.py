"""The bench's peers on the Docker backend: keepalived (VRRPv3, 100 ms adverts) and Debian's heartbeat 3.0.6
(keepalive 200 ms, deadtime 1 s), each node a container from the daemon's image, through the bench's
power-off and soft-stop; hbd at its article timings through the same two for comparison. One run each.

What must hold: the run and the scenario's checks pass, bob held the VIP before the fault, bobek alone
holds it at the end (owner records), and the client got answers from bobek after the fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.backends.docker import dockerd
from lab.backends.docker.image import ensure_image
from lab.bench.metrics import run_metrics
from lab.bench.peers.base import peer_nodes
from lab.bench.peers.heartbeat import HeartbeatDriver
from lab.bench.run import BenchRun
from lab.bench.suite import bench_scenario, select_settings
from lab.history.records import load_history
from lab.spec.topology import load_topology
from tests.marks import long_unless

SETTINGS = ("keepalived v3 100ms", "heartbeat 200ms/1s", "hbd 50/300ms")
SCENARIOS = ("power-off", "soft-stop")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.docker
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("label", long_unless(SETTINGS, kept=["keepalived v3 100ms", "hbd 50/300ms"]))
def test_survivor_takes_the_vip_in_containers(
    label: str, scenario: str, engine: dockerd.EngineState, short_runs_root: Path
) -> None:
    setting = select_settings([label])[0]
    image = ensure_image(setting.kind)
    run = BenchRun(
        bench_scenario(scenario, setting),
        setting,
        runs_root=short_runs_root,
        seed=7,
        backend_name="docker",
        image=image,
    )
    result = run.execute()
    where = f"{label} {scenario} (run dir {result.run_dir})"
    assert result.error is None, f"{where}: {result.error}"
    failed = [r for r in result.results if not r.ok]
    assert result.results and not failed, f"{where}: failed checks {failed}"
    assert json.loads((result.run_dir / "bench-setting.json").read_text())["image"] == image

    fault = next(r for r in _jsonl(result.run_dir / "lab.jsonl") if r.get("event") == "fault.inject")
    owners = [r for r in _jsonl(result.run_dir / "owners.jsonl") if r.get("event") == "vip.owners"]
    before = [r["owners"] for r in owners if r["mono"] < fault["mono"]]
    assert before and before[-1] == ["bob"], f"{where}: bob did not hold the VIP before the fault"
    assert owners[-1]["owners"] == ["bobek"], f"{where}: owners at the end {owners[-1]['owners']}"
    answers = [p["answer"] for p in _jsonl(result.run_dir / "probe.jsonl") if p.get("ok")]
    after = [
        p["answer"]
        for p in _jsonl(result.run_dir / "probe.jsonl")
        if p.get("ok") and p["mono"] > fault["mono"]
    ]
    assert "bob" in answers and after and after[-1] == "bobek", (
        f"{where}: client answers after the fault {after[-5:]}"
    )

    m = run_metrics(load_history(result.run_dir), scenario)
    assert m["acquisitions"] == 1 and m["false_failovers"] == 0 and m["dual_owner_s"] == 0, f"{where}: {m}"
    if setting.kind != "hbd":
        log = result.run_dir / "nodes" / "bobek" / "hbd.log"
        assert log.stat().st_size > 0, f"{where}: the peer wrote nothing to {log}"
    # Teardown removed the run's containers (found by the run's label).
    import docker

    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"hbd.lab={run.run_id}"})
    finally:
        client.close()
    assert not left, f"{where}: containers left: {[c.name for c in left]}"


def test_heartbeat_in_a_container_copies_its_config_instead_of_unsharing(tmp_path: Path) -> None:
    """No engine needed: what the driver renders when the node is a machine of its own."""
    topology = load_topology("bench-two-node")
    roots = {n.name: tmp_path / n.name for n in topology.servers}
    node = peer_nodes(topology, roots, own_machine=True)["bob"]
    driver = HeartbeatDriver()
    driver.render(node, {"keepalive": "200ms", "deadtime": "1s"}, "s3cret")
    argv = driver.argv(node, {})
    assert argv == ["sh", str(node.peer_dir / "start-heartbeat")]
    script = (node.peer_dir / "start-heartbeat").read_text()
    assert "unshare" not in script and "mount" not in script and "hostname" not in script
    assert f"cp {node.peer_dir / 'ha.d' / 'ha.cf'} " in script and "/etc/ha.d/" in script
    assert "exec /usr/libexec/heartbeat/heartbeat -f" in script
    # Only the lab's three files: the image's own resource.d is used, nothing is copied from the host.
    assert sorted(p.name for p in (node.peer_dir / "ha.d").iterdir()) == ["authkeys", "ha.cf", "haresources"]
    assert not (node.peer_dir / "lib").exists()
    assert "keepalive 200ms" in (node.peer_dir / "ha.d" / "ha.cf").read_text()
