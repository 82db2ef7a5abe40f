"""Debian's real fence_docker (fence-agents 4.12) fencing lab containers through the Docker API.

Each hbd node gets the engine's socket and a loopback-only mutual-TLS relay (lab/backends/docker/api.py);
fence_docker runs inside the node as hbd runs it. Docker tests need root and the engine; the option
validation and rendering tests at the end need neither.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.backends.docker import dockerd
from lab.backends.docker.api import RELAY_ADDRESS, RELAY_PORT
from lab.backends.docker.backend import DockerBackend
from lab.render import FenceDockerSetup, RenderError, fence_docker_lines, hacf_source
from lab.runner import FENCE_DOCKER_VARIANT, ScenarioRun, run_scenario
from lab.spec.names import new_run_id
from lab.spec.scenario import ScenarioError, parse_scenario
from lab.spec.topology import load_topology, parse_topology

EXIT_ON, EXIT_OFF = 0, 2  # fence-agents' status exit codes

SPLIT_BRAIN: dict[str, Any] = {
    "name": "fence-docker-split-brain",
    "description": "every heartbeat medium cut; the holder fences its peer with Debian's fence_docker",
    "topology": "two-node",
    # fence_docker takes ~3 s per fence here (two agent starts, and it polls status once a second after
    # the kill): the delay of the node without the group must be longer than that.
    "daemon": {
        "keepalive": "50ms",
        "deadtime": "300ms",
        "warntime": "150ms",
        "initdead": "2s",
        "auto_failback": "on",
        "fencing": "fence_docker",
        "fence_delay": "5s",
    },
    "steps": [
        {"boot": ["bob", "bobek"]},
        {"wait_for": {"event": "group.active", "node": "bob", "within": "20s"}},
        {"probe": {"target": "vip", "every_ms": 5}},
        {"sleep": "500ms"},
        {"inject": {"fault": "cut_heartbeat", "how": "drop"}},
        {"wait_for": {"event": "fence.ok", "node": "bob", "within": "20s"}},
        {"sleep": "6s"},  # past bobek's fence delay: a fence back would show by now
    ],
    "expect": [
        {"check": "single_owner"},
        {"check": "no_failover", "fault": "cut_heartbeat"},
        {
            "check": "bad_news",
            "allow": [
                {"event": "peer.dead", "reason": "every heartbeat medium was cut on purpose"},
                {"event": "link.down", "reason": "every heartbeat medium was cut on purpose"},
            ],
        },
    ],
}


@pytest.fixture(scope="session")
def fence_agents_image(engine: dockerd.EngineState) -> str:
    from lab.backends.docker.image import ensure_image

    return ensure_image(FENCE_DOCKER_VARIANT)


@pytest.fixture
def api_lab(fence_agents_image: str, short_runs_root: Path) -> Iterator[DockerBackend]:
    lab = DockerBackend(
        load_topology("two-node"), new_run_id(), short_runs_root / "lab", image=fence_agents_image
    )
    lab.give_nodes_docker_api()
    try:
        lab.create()
        yield lab
    finally:
        lab.destroy()


def _fence_docker(
    lab: DockerBackend, node: str, plug_node: str, action: str, **extra: str
) -> tuple[int, str]:
    """Run Debian's fence_docker in `node` as hbd does (name=value lines on stdin); (exit code, output)."""
    assert lab.docker_api is not None
    options = dict(lab.docker_api.agent_options())
    options.update(plug=lab.container_name(plug_node), action=action, **extra)
    stdin = "".join(f"{k}={v}\n" for k, v in options.items())
    res = lab.exec(node, ["/usr/sbin/fence_docker"], input_text=stdin, check=False, timeout_s=60)
    return res.returncode, res.stdout + res.stderr


def _running(lab: DockerBackend, node: str) -> bool:
    return bool(lab.client.api.inspect_container(lab.container_name(node))["State"]["Running"])


@pytest.mark.docker
def test_fence_docker_status_and_off_from_inside_a_node(api_lab: DockerBackend) -> None:
    lab = api_lab
    rc, out = _fence_docker(lab, "bob", "bobek", "status")
    assert rc == EXIT_ON, out
    assert "Status: ON" in out
    lab.power_off("bobek")
    rc, out = _fence_docker(lab, "bob", "bobek", "status")
    assert rc == EXIT_OFF, out
    assert "Status: OFF" in out
    lab.power_on("bobek")  # the relay comes back with the node: bobek can ask about bob again
    rc, out = _fence_docker(lab, "bobek", "bob", "status")
    assert rc == EXIT_ON, out
    # off: the kill endpoint; the engine stops the container and status confirms it
    rc, out = _fence_docker(lab, "bob", "bobek", "off")
    assert rc == 0, out
    assert not _running(lab, "bobek")
    rc, out = _fence_docker(lab, "bob", "bobek", "status")
    assert rc == EXIT_OFF, out


@pytest.mark.docker
def test_relay_is_loopback_only_and_wants_the_client_certificate(api_lab: DockerBackend) -> None:
    lab = api_lab
    listeners = lab.exec("bob", ["ss", "-Hltn"]).stdout.split("\n")
    local = [line.split()[3] for line in listeners if line.strip()]
    assert f"{RELAY_ADDRESS}:{RELAY_PORT}" in local
    assert all(addr.startswith("127.") for addr in local), local  # nothing listens beyond loopback
    # TLS without the client certificate: the relay refuses, fence_docker fails (exit 1, not on/off).
    assert lab.docker_api is not None
    options = {k: v for k, v in lab.docker_api.agent_options() if not k.startswith("tls")}
    stdin = "".join(f"{k}={v}\n" for k, v in {**options, "ssl-insecure": "1", "action": "list"}.items())
    res = lab.exec("bob", ["/usr/sbin/fence_docker"], input_text=stdin, check=False, timeout_s=60)
    assert res.returncode == 1, res.stdout + res.stderr
    # Only hbd's nodes get the engine: the client node has neither the socket nor the relay.
    assert lab.exec("client", ["test", "-e", "/var/run/docker.sock"], check=False).returncode != 0


class ContainerStops:
    """Docker's own record of kill/die events, collected from before the run starts."""

    def __init__(self) -> None:
        self.client = docker.from_env()
        self.stream = self.client.events(decode=True, filters={"type": "container", "event": ["kill", "die"]})
        self.events: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        try:
            for event in self.stream:
                self.events.append(event)
        except Exception:  # the stream ends with close(): nothing more to collect
            return

    def of(self, container: str, action: str) -> list[float]:
        return [
            e["timeNano"] / 1e9
            for e in list(self.events)
            if e.get("Action") == action and e.get("Actor", {}).get("Attributes", {}).get("name") == container
        ]

    def close(self) -> None:
        self.stream.close()
        self.client.close()


def _events(run_dir: Path, node: str) -> list[dict[str, Any]]:
    path = run_dir / "nodes" / node / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.docker
def test_split_brain_is_fenced_by_fence_docker(fence_agents_image: str, short_runs_root: Path) -> None:
    scenario = parse_scenario(SPLIT_BRAIN, "test_fence_docker.SPLIT_BRAIN")
    stops = ContainerStops()
    try:
        result = run_scenario(scenario, backend_name="docker", runs_root=short_runs_root)
    finally:
        stops.close()
    where = f"(run dir {result.run_dir})"
    assert result.error is None, f"{result.error} {where}"
    failed = [r for r in result.results if not r.ok]
    assert not failed and result.results, f"failed checks {failed} {where}"

    ok = [e for e in _events(result.run_dir, "bob") if e["event"] == "fence.ok"]
    assert len(ok) == 1 and ok[0]["peer"] == "bobek", f"{ok} {where}"
    agent = ok[0].get("agent") or str(ok[0].get("detail", "")).split(" ", 1)[0]
    assert agent == "fence_docker", f"{ok[0]} {where}"
    assert not [e for e in _events(result.run_dir, "bobek") if e["event"].startswith("fence.ok")], where

    # The engine itself stopped bobek's container (fence_docker's kill request), before hbd called the
    # fence confirmed; bob's container only died at teardown, after its fence was done.
    run_id = json.loads((result.run_dir / "lab-run.json").read_text())["run_id"]
    bobek, bob = f"hbl{run_id}-bobek", f"hbl{run_id}-bob"
    kills, deaths = stops.of(bobek, "kill"), stops.of(bobek, "die")
    assert kills and deaths, f"no kill/die of {bobek} seen by the engine {where}"
    assert min(kills) <= ok[0]["wall"] and min(deaths) <= ok[0]["wall"], where
    assert all(t > ok[0]["wall"] for t in stops.of(bob, "die")), where

    # Exactly one node owns the VIP at the end (and single_owner said never two at once).
    last = json.loads((result.run_dir / "owners.jsonl").read_text().splitlines()[-1])
    assert last["owners"] == ["bob"], f"{last} {where}"


# ------------------------------------------------------------------------- no Docker needed


def test_fence_docker_on_netns_is_refused_naming_the_yaml_path(tmp_path: Path) -> None:
    scenario = parse_scenario(SPLIT_BRAIN, "split.yaml")
    with pytest.raises(ScenarioError, match=r"daemon\.fencing: fence_docker needs the docker backend"):
        ScenarioRun(scenario, backend_name="netns", runs_root=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was made


def test_unknown_fencing_value_is_a_scenario_error() -> None:
    raw = {**SPLIT_BRAIN, "daemon": {**SPLIT_BRAIN["daemon"], "fencing": "fence_ipmi"}}
    with pytest.raises(ScenarioError, match=r"daemon\.fencing: expected one of on, off, fence_docker"):
        parse_scenario(raw, "bad.yaml")


def test_fence_docker_line_maps_every_node_to_its_container() -> None:
    topo = load_topology("two-node")
    setup = FenceDockerSetup(
        (("ip", "127.0.0.1"), ("ipport", "2376")), {"bob": "hblx-bob", "bobek": "hblx-bobek"}
    )
    assert fence_docker_lines(topo, setup) == [
        "stonith_host * fence_docker ip=127.0.0.1 ipport=2376 pcmk_host_map=bob:hblx-bob;bobek:hblx-bobek",
    ]
    text, origin = hacf_source(topo, "bob", {"fencing": "fence_docker"}, {"ttyS0": "/dev/ttyS0"}, None, setup)
    assert "stonith_host * fence_docker" in text and "fence_lab" not in text
    assert "daemon.fencing" in origin.values()
    with pytest.raises(RenderError, match=r"daemon\.fencing: fence_docker needs the Docker API"):
        hacf_source(topo, "bob", {"fencing": "fence_docker"}, {"ttyS0": "/dev/ttyS0"})


THREE_NODES = """
name: three-node
nodes: {bob: {daemon: hbd}, bobek: {daemon: hbd}, bobik: {daemon: hbd}}
lans:
  lan:
    heartbeat: bcast
    members:
      bob: {iface: eth0, ip: 192.168.77.11/24}
      bobek: {iface: eth0, ip: 192.168.77.12/24}
      bobik: {iface: eth0, ip: 192.168.77.13/24}
"""


def test_fence_docker_maps_every_node_of_a_bigger_cluster(tmp_path: Path) -> None:
    topo = parse_topology(THREE_NODES, tmp_path / "three-node.yaml")
    setup = FenceDockerSetup((), {n.name: f"hblx-{n.name}" for n in topo.servers})
    (line,) = fence_docker_lines(topo, setup)
    assert line.endswith("pcmk_host_map=bob:hblx-bob;bobek:hblx-bobek;bobik:hblx-bobik")
