"""Both backends keep the same promises (lab/backends/base.py): one set of checks, run on netns and Docker.

Everything above the seam (runner, faults, bench) relies only on what is checked here; a behaviour that
differs between the backends belongs in `Capabilities` or a protocol method, and its check here.
The Docker half uses tests/docker's fixtures (engine started if needed, node image built once) and skips
without a Docker engine.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.backends import make_backend
from lab.backends.base import Backend, LabError
from lab.backends.host import process_state, run_state_dir
from lab.spec.names import new_run_id
from lab.spec.topology import Topology, parse_topology
from tests.docker.conftest import engine, hbd_image  # noqa: F401 (fixtures, for the docker half)

from .conftest import reach

# Two nodes on one point-to-point link and a null-modem cable: the least that exercises every promise.
TOPOLOGY = """
name: conformance
nodes:
  bob: {daemon: none}
  bobek: {daemon: none}
links:
  wire:
    heartbeat: bcast
    ends:
      bob: {iface: eth1, ip: 10.78.0.1/30}
      bobek: {iface: eth1, ip: 10.78.0.2/30}
serial:
  nullmodem:
    ends: {bob: ttyS0, bobek: ttyS0}
"""


def _wait(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def _ping(backend: Backend, node: str, address: str) -> bool:
    """The address answers (a TCP reset counts: no ping on a bare host)."""
    return reach(backend, node, address, timeout_s=0.5) == "refused"


@pytest.fixture(params=["netns", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    topology: Topology = parse_topology(TOPOLOGY, Path("conformance.yaml"))
    # A short lab dir: the docker backend bind-mounts it, and sockets in it must fit AF_UNIX's 108 bytes.
    lab_dir = request.getfixturevalue("short_runs_root") / "lab"
    tag = request.getfixturevalue("hbd_image") if request.param == "docker" else None  # skips without
    made = make_backend(request.param, topology, new_run_id(), lab_dir)
    made.use_node_image("hbd", tag)
    made.create()
    try:
        yield made
    finally:
        made.destroy()


def test_nodes_exist_with_the_topology_addresses(backend: Backend) -> None:
    for node in backend.topology.node_names:
        expected = sorted((e.iface, str(e.ip)) for _s, e in backend.topology.endpoints_of(node))
        assert sorted(backend.addresses(node)) == expected
        assert backend.link_state(node, "eth1").carrier
    assert _ping(backend, "bob", "10.78.0.2")


def test_commands_run_in_the_node(backend: Backend) -> None:
    assert backend.exec("bob", ["echo", "hello"]).stdout == "hello\n"
    assert backend.exec("bob", ["cat"], input_text="from stdin").stdout == "from stdin"
    assert backend.exec("bob", ["false"], check=False).returncode == 1
    with pytest.raises(LabError):
        backend.exec("bob", ["false"])
    # The way the lab launches its node programs and hbd works inside the node.
    assert backend.exec("bob", [*backend.python_argv("hbd.cli"), "--help"]).returncode == 0
    argv = backend.exec_argv("bobek", ["ip", "-br", "link"])
    shown = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0 and "eth1" in shown.stdout
    # The directory the lab serves sockets from is the same path in the node.
    assert backend.exec("bob", ["test", "-d", str(backend.socket_dir())], check=False).returncode == 0


def test_link_down_up_from_either_end(backend: Backend) -> None:
    backend.set_link("bob", "eth1", False)
    state = backend.link_state("bob", "eth1")
    assert not state.admin_up and not state.carrier and state.cable_up and state.attached
    assert not _ping(backend, "bobek", "10.78.0.1")
    backend.set_link("bob", "eth1", True)
    assert _wait(lambda: backend.link_state("bob", "eth1").carrier)
    assert _wait(lambda: _ping(backend, "bobek", "10.78.0.1"))

    backend.set_link("bob", "eth1", False, side="cable")
    state = backend.link_state("bob", "eth1")
    assert state.admin_up and not state.carrier and not state.cable_up
    backend.set_link("bob", "eth1", True, side="cable")
    assert _wait(lambda: backend.link_state("bob", "eth1").carrier)

    backend.attach("bob", "eth1", False)
    assert not backend.link_state("bob", "eth1").attached
    assert not _ping(backend, "bobek", "10.78.0.1")
    backend.attach("bob", "eth1", True)
    assert backend.link_state("bob", "eth1").attached
    assert _wait(lambda: _ping(backend, "bobek", "10.78.0.1"))
    with pytest.raises(LabError):
        backend.set_link("bob", "eth9", False)


def test_serial_device_exists_in_the_node_and_the_line_can_be_cut(backend: Backend) -> None:
    for node in ("bob", "bobek"):
        device = backend.serial_device(node, "ttyS0")
        assert device.startswith("/dev/")
        assert backend.exec(node, ["test", "-c", device], check=False).returncode == 0
    with pytest.raises(LabError):
        backend.serial_device("bob", "ttyS9")
    assert backend.serial_relaying("nullmodem")
    backend.serial_set("nullmodem", False)
    assert not backend.serial_relaying("nullmodem")
    backend.serial_set("nullmodem", True)
    assert backend.serial_relaying("nullmodem")


def test_spawned_processes_are_seen_signalled_and_listed(backend: Backend) -> None:
    log = backend.node_dirs("bob").root / "sleep.log"
    pid = backend.spawn("bob", ["sleep", "600"], log)
    assert backend.alive(pid) and pid in backend.pids("bob") and pid not in backend.pids("bobek")
    backend.signal(pid, signal.SIGSTOP)
    assert _wait(lambda: backend.stopped(pid))
    backend.signal(pid, signal.SIGCONT)
    assert _wait(lambda: not backend.stopped(pid))
    backend.signal(pid, signal.SIGKILL)
    assert _wait(lambda: not backend.alive(pid))


def test_power_off_kills_everything_and_power_on_brings_the_cables_back(backend: Backend) -> None:
    pid = backend.spawn("bob", ["sleep", "600"], backend.node_dirs("bob").root / "sleep.log")
    before = time.monotonic()
    at = backend.power_off("bob")
    assert at is None or before <= at <= time.monotonic()
    assert backend.pids("bob") == [] and not backend.alive(pid)
    state = backend.link_state("bob", "eth1")
    assert not state.carrier and not state.cable_up
    assert not _ping(backend, "bobek", "10.78.0.1")
    backend.power_on("bob")
    assert backend.link_state("bob", "eth1").carrier
    assert _wait(lambda: _ping(backend, "bobek", "10.78.0.1"))


def test_destroy_leaves_nothing(backend: Backend) -> None:
    in_node = backend.spawn("bob", ["sleep", "600"], backend.node_dirs("bob").root / "sleep.log")
    on_host = backend.start_host_process(["sleep", "600"], backend.node_dirs("bob").root / "host.log")
    backend.destroy()
    backend.destroy()  # idempotent
    assert on_host.wait(timeout=5) == -signal.SIGKILL
    assert process_state(in_node) in (None, "Z")
    assert not run_state_dir(backend.run_id).exists()
    for node in backend.topology.node_names:
        assert backend.pids(node) == []
        with pytest.raises(LabError):
            backend.exec(node, ["true"])
