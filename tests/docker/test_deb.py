"""`make deb`: the package builds, installs with dpkg in lab containers (image variant `packaged`: Debian's
python3 packages it depends on, no package index), and the installed hbd checks the example configuration
and runs: the two nodes elect bob, which holds the VIP; hbctl status and reload answer.

What the package must hold (daemon, hbctl, unit not enabled, examples with a 0600 authkeys, man pages) and
must not (the lab) is checked on the installed files, not on the build tree.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.backends.docker import dockerd
from lab.backends.docker.backend import DockerBackend
from lab.spec.names import new_run_id
from lab.spec.topology import load_topology

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
NODES = ("bob", "bobek")
VIP = "192.168.77.50/24"  # lab/topologies/two-node.yaml, group www
EXAMPLES = "/usr/share/doc/hbd/examples/ha.d"
# The example is written for bob and bobek; only the addresses change to the topology's.
EDITS = ("s|ucast eth0 10.0.0.2|ucast eth0 192.168.77.12|", f"s|10.0.0.100/24|{VIP}|")


@pytest.fixture(scope="module")
def deb() -> Path:
    done = subprocess.run(["make", "deb"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = sorted((ROOT / "build/deb").glob("hbd_*_all.deb"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def lab(engine: dockerd.EngineState, tmp_path: Path) -> Iterator[DockerBackend]:
    from lab.backends.docker.image import ensure_image

    backend = DockerBackend(
        load_topology("two-node"), new_run_id(), tmp_path / "lab", image=ensure_image("packaged")
    )
    try:
        backend.create()
        yield backend
    finally:
        backend.destroy()


def sh(lab: DockerBackend, node: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return lab.exec(node, list(argv), check=check, timeout_s=60)


def wait_for(predicate, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def status(lab: DockerBackend, node: str) -> dict | None:
    done = sh(lab, node, "/usr/bin/hbctl", "status", "--json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def test_the_deb_installs_checks_and_runs_in_lab_containers(deb: Path, lab: DockerBackend) -> None:
    inside = lab.lab_dir / deb.name  # the lab dir is bind-mounted at the same path in every node
    shutil.copy(deb, inside)
    for node in NODES:
        sh(lab, node, "dpkg", "-i", str(inside))
    files = sh(lab, "bob", "dpkg", "-L", "hbd").stdout.split()
    assert {"/usr/bin/hbd", "/usr/bin/hbctl", "/lib/systemd/system/hbd.service"} <= set(files)
    assert {"/usr/share/man/man8/hbd.8.gz", "/usr/share/man/man8/hbctl.8.gz"} <= set(files)
    assert not [f for f in files if "/lab/" in f or f.endswith("hblab")], "the lab is not packaged"
    assert sh(lab, "bob", "stat", "-c", "%a", f"{EXAMPLES}/authkeys").stdout.strip() == "600"
    unit = sh(lab, "bob", "cat", "/lib/systemd/system/hbd.service").stdout
    assert "ExecStart=/usr/bin/hbd run --config-dir /etc/ha.d" in unit
    enabled = sh(lab, "bob", "ls", "/etc/systemd/system/multi-user.target.wants/hbd.service", check=False)
    assert enabled.returncode != 0, "a service with example config must not be enabled"
    # the man page lists what --help lists
    man = sh(lab, "bob", "sh", "-c", "zcat /usr/share/man/man8/hbctl.8.gz").stdout
    for command in ("status", "standby", "takeover", "reload"):
        assert f"hbctl {command}" in man

    for node in NODES:
        sh(
            lab,
            node,
            "sh",
            "-c",
            f"cp -p {EXAMPLES}/* /etc/ha.d/ && sed -i -e '{EDITS[0]}' -e '{EDITS[1]}' "
            "/etc/ha.d/ha.cf /etc/ha.d/haresources",
        )
        checked = sh(lab, node, "/usr/bin/hbd", "check", "--node", node)
        assert f"effective configuration of {node}" in checked.stdout
    pids = {
        node: lab.spawn(node, ["/usr/bin/hbd", "run", "--node", node], lab.lab_dir / f"{node}-hbd.log")
        for node in NODES
    }
    try:
        wait_for(
            lambda: (s := status(lab, "bobek")) is not None and s["peer"]["liveness"] == "alive", "peers"
        )
        key = f"IPaddr::{VIP}"
        wait_for(
            lambda: (s := status(lab, "bob")) is not None and s["groups"][key]["role"] == "ACTIVE", "VIP"
        )
        assert f"inet {VIP}" in sh(lab, "bob", "ip", "-4", "addr", "show", "eth0").stdout
        reload = sh(lab, "bob", "/usr/bin/hbctl", "reload")
        assert "nothing changed" in reload.stdout
    finally:
        for pid in pids.values():
            lab.signal(pid, signal.SIGTERM)
