"""Root lab tests: real namespaces. Everything is removed even when a test fails."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REACH = """
import socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("open")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("unreachable")
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.root)


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")


def netns_list() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def reach(backend, node: str, ip: str, port: int = 9, timeout_s: float = 1.0) -> str:
    """open / refused (the address answered ARP and TCP) / unreachable (nothing answered)."""
    res = backend.exec(node, [sys.executable, "-c", REACH, ip, str(port), str(timeout_s)], check=False)
    return res.stdout.strip()


@pytest.fixture
def lab(tmp_path):
    """A dummy two-node lab (sleep as the daemon) with its daemons booted; destroyed afterwards."""
    from lab.backends.netns import NetnsBackend
    from lab.runner import DaemonSet, RecordLog
    from lab.spec.names import new_run_id
    from lab.spec.topology import load_topology

    topo = load_topology(DATA / "dummy-two-node.yaml")
    backend = NetnsBackend(topo, new_run_id(), tmp_path)
    backend.create()
    log = RecordLog(tmp_path / "lab.jsonl")
    daemons = DaemonSet(backend, topo, log)
    try:
        daemons.boot(["bob", "bobek"])
        yield backend, daemons, log
    finally:
        log.close()
        backend.destroy()
        assert not [n for n in netns_list() if n.startswith(backend.names.prefix)]
