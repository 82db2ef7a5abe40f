"""The netns backend: up/down leaves nothing behind, `hblab clean` removes an abandoned lab."""

import json
import subprocess
import sys
import time
from pathlib import Path

from lab.backends.host import run_state_dir
from lab.backends.netns import NetnsBackend, clean_leftovers
from lab.spec.names import new_run_id
from lab.spec.topology import load_topology

from .conftest import DATA, netns_list, reach


def _host_links() -> set[str]:
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout
    return {link["ifname"] for link in json.loads(out)}


def _lab_processes(prefix: str) -> list[int]:
    pids = []
    for ns in netns_list():
        if ns.startswith(prefix):
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
            pids += [int(p) for p in out.split()]
    return pids


def test_up_down_two_node_leaves_nothing_behind(tmp_path):
    links_before = _host_links()
    topo = load_topology("two-node")
    backend = NetnsBackend(topo, new_run_id(), tmp_path)
    backend.create()
    try:
        prefix = backend.names.prefix
        assert {f"{prefix}bob", f"{prefix}bobek", f"{prefix}client", f"{prefix}sw"} <= set(netns_list())
        assert _host_links() == links_before  # nothing of the lab in the host namespace
        assert reach(backend, "client", "192.168.77.11") == "refused"
        assert reach(backend, "bob", "10.77.0.2") == "refused"
        assert reach(backend, "client", "10.77.0.2", timeout_s=0.3) == "unreachable"  # no route off the LAN
        relay = backend.serial["nullmodem"]
        assert relay.relaying() and Path(backend.serial_device("bob", "ttyS0")).exists()
    finally:
        backend.destroy()
    assert not [n for n in netns_list() if n.startswith(prefix)]
    assert not run_state_dir(backend.run_id).exists()
    assert relay.process is not None and relay.process.poll() is not None
    assert _host_links() == links_before


def test_power_off_kills_everything_and_the_vip_stops_answering(lab):
    backend, daemons, _log = lab
    backend.exec("bob", ["ip", "addr", "add", "192.168.77.50/24", "dev", "eth0"])
    assert reach(backend, "client", "192.168.77.50") == "refused"
    extra = backend.spawn("bob", ["sleep", "3600"], backend.lab_dir / "extra.log")
    backend.power_off("bob")
    assert backend.pids("bob") == []
    assert not backend.alive(extra) and daemons.pid("bob") is None
    backend.exec("client", ["ip", "neigh", "flush", "all"])
    assert reach(backend, "client", "192.168.77.50", timeout_s=0.5) == "unreachable"
    assert ("eth0", "192.168.77.50/24") not in backend.addresses("bob")  # a dead machine holds no VIP
    backend.power_on("bob")
    assert reach(backend, "client", "192.168.77.11") == "refused"


def test_spawn_start_at_holds_every_node_until_the_shared_instant(lab):
    """Both nodes powered on at the same moment: neither program runs before the agreed instant."""
    backend, _daemons, _log = lab
    start_at = time.monotonic() + 0.5
    code = "import time; print(repr(time.monotonic()))"
    logs = {n: backend.lab_dir / f"{n}-start.log" for n in ("bob", "bobek")}
    pids = [backend.spawn(n, [sys.executable, "-c", code], logs[n], start_at=start_at) for n in logs]
    deadline = time.monotonic() + 30
    while any(backend.alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    for log in logs.values():
        assert float(log.read_text().split()[-1]) >= start_at


def test_clean_removes_an_abandoned_lab(tmp_path):
    """A runner that died without teardown: its namespaces, relay and processes must go."""
    script = f"""
import sys, time
from pathlib import Path
from lab.backends.netns import NetnsBackend
from lab.spec.topology import load_topology
topo = load_topology({str(DATA / "dummy-two-node.yaml")!r})
b = NetnsBackend(topo, sys.argv[1], Path(sys.argv[2]))
b.create()
b.spawn("bob", ["sleep", "3600"], Path(sys.argv[2]) / "s.log")
print("up", flush=True)
time.sleep(3600)
"""
    run_id = new_run_id()
    proc = subprocess.Popen(
        [sys.executable, "-c", script, run_id, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        prefix = f"hbl{run_id}-"
        assert [n for n in netns_list() if n.startswith(prefix)]
        sleepers = _lab_processes(prefix)
        assert sleepers
        # While its owner lives, clean leaves the run alone.
        clean_leftovers()
        assert [n for n in netns_list() if n.startswith(prefix)]
    finally:
        proc.kill()  # the crash
        proc.wait()
    relay_pids = [int(line.split()[0]) for line in (run_state_dir(run_id) / "pids").read_text().splitlines()]
    removed = clean_leftovers()
    assert any(prefix in r for r in removed)
    assert not [n for n in netns_list() if n.startswith(prefix)]
    assert not run_state_dir(run_id).exists()
    time.sleep(0.1)
    for pid in relay_pids + sleepers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_hblab_cli_up_exec_down():
    run_id = new_run_id()
    cli = [sys.executable, "-m", "lab.cli"]
    up = subprocess.run([*cli, "up", "two-node", "--run", run_id], capture_output=True, text=True)
    try:
        assert up.returncode == 0, up.stderr
        out = subprocess.run(
            [*cli, "exec", "--run", run_id, "bob", "--", "ip", "-br", "addr"], capture_output=True, text=True
        )
        assert "192.168.77.11/24" in out.stdout
        # `up` labs survive `clean` (they are meant to stay) ...
        subprocess.run([*cli, "clean"], capture_output=True, text=True, check=True)
        assert f"hbl{run_id}-bob" in netns_list()
    finally:
        down = subprocess.run([*cli, "down", "--run", run_id], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert not [n for n in netns_list() if n.startswith(f"hbl{run_id}-")]
