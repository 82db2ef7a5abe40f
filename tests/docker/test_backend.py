"""The Docker backend on real containers: networks, reachability, power, cables, serial, cleanup."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import docker
import pytest

from lab.backends.base import LabError
from lab.backends.docker.backend import LABEL, DockerBackend, clean_docker
from lab.backends.host import run_state_dir
from lab.spec.names import new_run_id

pytestmark = pytest.mark.docker

MakeLab = Callable[..., DockerBackend]


def _ping(lab: DockerBackend, node: str, address: str) -> bool:
    return lab.exec(node, ["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0


def _wait(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_networks_are_internal_and_labelled(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    client = docker.from_env()
    try:
        for seg in lab.topology.segments:
            net = client.networks.get(lab.network_name(seg.name))
            assert net.attrs["Internal"] is True
            assert net.attrs["Labels"].get(LABEL) == lab.run_id
            assert net.name.startswith(f"hbl{lab.run_id}-")
        for node in lab.topology.node_names:
            container = client.containers.get(lab.container_name(node))
            assert container.labels.get(LABEL) == lab.run_id
            assert lab.exec(node, ["uname", "-n"]).stdout.strip() == node  # haresources names match
    finally:
        client.close()


def test_nodes_have_the_topology_interfaces_and_no_route_out(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    for node in lab.topology.node_names:
        expected = sorted((e.iface, str(e.ip)) for _s, e in lab.topology.endpoints_of(node))
        assert sorted(lab.addresses(node)) == expected
        routes = lab.exec(node, ["ip", "-4", "route", "show"]).stdout
        assert "default" not in routes
    assert not _ping(lab, "bob", "192.0.2.1")  # an address outside the lab (the host's gateway here)


def test_two_containers_hear_each_other_on_every_segment(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    assert _ping(lab, "bob", "192.168.77.12")  # LAN
    assert _ping(lab, "bobek", "10.77.0.1")  # crossover /30: no room for Docker's gateway, still works
    assert _ping(lab, "client", "192.168.77.11")
    assert not _ping(lab, "client", "10.77.0.1")  # the client is not on the crossover link


def test_power_off_kills_everything_and_power_on_keeps_the_disk(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    dirs = lab.node_dirs("bob")
    lab.exec("bob", ["sh", "-c", "echo before > /var/lib/survivor"])
    lab.exec("bob", ["ip", "addr", "add", "192.168.77.50/24", "dev", "eth0"])  # a runtime VIP
    pid = lab.spawn(
        "bob",
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"],
        dirs.root / "sleeper.log",
    )
    assert _wait(lambda: "up" in (dirs.root / "sleeper.log").read_text())
    assert lab.alive(pid) and pid in lab.pids("bob")
    assert _ping(lab, "client", "192.168.77.50")

    lab.power_off("bob")
    assert not lab.alive(pid)
    assert lab.pids("bob") == []
    assert lab.addresses("bob") == []
    assert not lab.link_state("bob", "eth0").carrier
    assert not _ping(lab, "client", "192.168.77.50")  # the VIP vanished with the machine
    with pytest.raises(LabError, match="powered off"):
        lab.exec("bob", ["true"])

    lab.power_on("bob")
    assert sorted(lab.addresses("bob")) == [("eth0", "192.168.77.11/24"), ("eth1", "10.77.0.1/30")]
    assert lab.exec("bob", ["cat", "/var/lib/survivor"]).stdout.strip() == "before"
    assert _ping(lab, "bob", "192.168.77.12")


def test_spawn_starts_no_earlier_than_start_at(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    log = lab.node_dirs("bobek").root / "clock.log"
    start_at = time.monotonic() + 1.0
    lab.spawn(
        "bobek",
        [sys.executable, "-c", "import time; print(time.monotonic(), flush=True)"],
        log,
        start_at=start_at,
    )
    assert _wait(lambda: log.exists() and log.read_text().strip() != "")
    assert float(log.read_text().split()[0]) >= start_at  # containers share the host's monotonic clock


def test_cable_down_and_pulled_cut_the_link_and_heal(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    lab.set_link("bob", "eth1", False, side="cable")
    state = lab.link_state("bob", "eth1")
    assert state.admin_up and not state.cable_up and not state.carrier
    assert not _ping(lab, "bobek", "10.77.0.1")
    lab.set_link("bob", "eth1", True, side="cable")
    assert _wait(lambda: lab.link_state("bob", "eth1").carrier)
    assert _ping(lab, "bobek", "10.77.0.1")

    lab.attach("bob", "eth1", False)
    assert not lab.link_state("bob", "eth1").attached
    assert not _ping(lab, "bobek", "10.77.0.1")
    lab.attach("bob", "eth1", True)
    assert lab.link_state("bob", "eth1").attached
    assert _ping(lab, "bobek", "10.77.0.1")

    lab.set_link("bobek", "eth0", False, side="node")
    assert not lab.link_state("bobek", "eth0").admin_up
    assert not _ping(lab, "client", "192.168.77.12")


def test_serial_line_carries_bytes_and_can_be_cut(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    line = lab.topology.serial_lines[0].name
    device = str(lab.node_dirs("bobek").dev_dir / "ttyS0")  # the node-dir path the rendered ha.cf names
    reader = [
        sys.executable,
        "-c",
        "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NOCTTY);"
        "print(os.read(fd, 100).decode(), flush=True)",
        device,
    ]

    def send(text: str) -> None:
        lab.exec("bob", ["sh", "-c", f"printf {text} > /dev/ttyS0"])

    log = lab.node_dirs("bobek").root / "serial.log"
    lab.spawn("bobek", reader, log)
    time.sleep(0.5)
    send("hello")
    assert _wait(lambda: "hello" in log.read_text())

    lab.serial_set(line, False)
    assert not lab.serial_relaying(line)
    cut_log = lab.node_dirs("bobek").root / "serial-cut.log"
    pid = lab.spawn("bobek", reader, cut_log)
    time.sleep(0.5)
    send("lost")
    time.sleep(0.5)
    assert cut_log.read_text() == ""
    lab.serial_set(line, True)
    send("again")
    assert _wait(lambda: "again" in cut_log.read_text())
    assert not lab.alive(pid) or _wait(lambda: not lab.alive(pid))


def _abandon(lab: DockerBackend) -> None:
    """Make the lab look like the leftover of a crashed run: its owner process is dead."""
    meta_path = run_state_dir(lab.run_id) / "lab.json"
    meta = json.loads(meta_path.read_text())
    dead = subprocess.Popen(["true"])
    dead.wait()
    meta["owner_pid"] = dead.pid
    meta_path.write_text(json.dumps(meta))


def test_clean_removes_an_abandoned_lab_by_label_only(make_lab: MakeLab, hbd_image: str) -> None:
    live = make_lab("two-node-lan-only")
    abandoned = make_lab("two-node")
    _abandon(abandoned)
    client = docker.from_env()
    # A bystander with a lab-looking name but no label must survive the cleanup.
    bystander = client.containers.create(hbd_image, name=f"hbl{new_run_id()}-bystander", command=["true"])
    try:
        removed = clean_docker()
        assert f"container {abandoned.container_name('bob')}" in removed
        assert f"network {abandoned.network_name('crossover')}" in removed
        assert client.containers.list(all=True, filters={"label": f"{LABEL}={abandoned.run_id}"}) == []
        assert client.networks.list(filters={"label": f"{LABEL}={abandoned.run_id}"}) == []
        assert (
            f"hbd.lab={abandoned.run_id}"
            not in subprocess.run(
                ["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True, check=True
            ).stdout
        )
        assert not run_state_dir(abandoned.run_id).exists()
        assert not abandoned.serial_relaying("nullmodem")  # its relay process was killed
        bystander.reload()  # raises NotFound if clean removed it
        assert live.exec("bob", ["true"]).returncode == 0  # a run whose owner lives is left alone
        assert not any(live.run_id in item for item in removed)
    finally:
        bystander.remove(force=True)
        client.close()


def test_owner_sampler_drops_a_powered_off_node_and_follows_it_back(make_lab: MakeLab) -> None:
    lab = make_lab("two-node")
    out = lab.lab_dir / "owners.jsonl"
    stop = lab.lab_dir / "owners.stop"
    vip = "192.168.77.50"
    lab.exec("bob", ["ip", "addr", "add", f"{vip}/24", "dev", "eth0"])
    argv = [*lab.owner_sampler_argv(), "--vip", vip, "--out", str(out), "--until-file", str(stop)]
    sampler = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:

        def owners() -> list[str] | None:
            lines = out.read_text().splitlines() if out.exists() else []
            return json.loads(lines[-1])["owners"] if lines else None

        assert _wait(lambda: owners() == ["bob"])
        lab.power_off("bob")
        assert _wait(lambda: owners() == [])  # a dead namespace must not keep "owning" the VIP
        lab.power_on("bob")
        lab.exec("bob", ["ip", "addr", "add", f"{vip}/24", "dev", "eth0"])
        assert _wait(lambda: owners() == ["bob"])  # the sampler found the new namespace
        lab.exec("bobek", ["ip", "addr", "add", f"{vip}/24", "dev", "eth0"])
        assert _wait(lambda: owners() == ["bob", "bobek"])
    finally:
        stop.touch()
        try:
            sampler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()
    assert sampler.returncode == 0, sampler.stderr.read() if sampler.stderr else ""


def test_pause_freezes_every_process_of_the_node(make_lab: MakeLab) -> None:
    lab = make_lab("two-node-lan-only")
    log = lab.node_dirs("bob").root / "ticks.log"
    ticker = "import time\nwhile True:\n    print(time.monotonic(), flush=True)\n    time.sleep(0.01)\n"
    pid = lab.spawn("bob", [sys.executable, "-c", ticker], log)
    assert _wait(lambda: len(log.read_text().splitlines()) > 3)
    lab.pause("bob", True)
    try:
        time.sleep(0.2)  # let a tick that was in flight land
        frozen = log.read_text()
        time.sleep(0.5)
        assert log.read_text() == frozen  # not one tick while frozen
        assert lab.alive(pid)
    finally:
        lab.pause("bob", False)
    assert _wait(lambda: log.read_text() != frozen)
