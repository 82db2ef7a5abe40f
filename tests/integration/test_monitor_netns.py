"""Resource monitoring with two real hbd processes in two namespaces (ha.cf hbd_monitor): a killed service is
restarted where it runs, killed again past the threshold it moves to the peer, `hbctl cleanup` brings it back;
the built-in IPaddr's check notices an address removed by hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.hbl_netns import netns_pair
from tests.integration.test_daemon_netns import Node, wait_until

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

# A service whose "process" is a file: status is LSB (0 running, 3 stopped), so removing the file is a crash.
SERVICE = """#!/bin/sh
flag="{root}/$HBD_NODE.running"
case "$1" in
  start) touch "$flag" ;;
  stop) rm -f "$flag" ;;
  status) [ -e "$flag" ] && {{ echo running; exit 0; }}; echo "not running"; exit 3 ;;
esac
"""


def write_monitored_config(node: Node, vip: str, root: Path) -> None:
    node.write_config(vip)
    (node.config_dir / "haresources").write_text(f"alpha svc IPaddr::{vip}/24\n")
    with (node.config_dir / "ha.cf").open("a") as f:
        f.write("hbd_monitor svc 200ms timeout=2 restarts=1 window=60\nhbd_monitor IPaddr 200ms restarts=5\n")
    scripts = node.config_dir / "resource.d"
    scripts.mkdir()
    (scripts / "svc").write_text(SERVICE.format(root=root))
    (scripts / "svc").chmod(0o755)


def named(node: Node, event: str) -> list[dict]:
    return [e for e in node.events() if e["event"] == event]


@pytest.fixture
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node, str, Path]]:
    root = Path(tmp_path_factory.mktemp("hbdmon", numbered=True))
    with netns_pair("10.79.3") as pair:
        vip = "10.79.3.50"
        alpha = Node("alpha", pair.a, pair.if_a, root)
        beta = Node("beta", pair.b, pair.if_b, root)
        for node in (alpha, beta):
            write_monitored_config(node, vip, root)
        try:
            alpha.start()
            beta.start()
            wait_until(lambda: alpha.has_ip(vip), what="alpha to hold the VIP")
            yield alpha, beta, vip, root
        finally:
            for node in (alpha, beta):
                node.stop(signal.SIGKILL)


def test_restart_then_migrate_then_cleanup_brings_it_back(monitored: tuple[Node, Node, str, Path]) -> None:
    alpha, beta, vip, root = monitored
    flag = root / "alpha.running"
    wait_until(lambda: alpha.status()["monitors"][0]["last"] == "ok", what="a first check")

    flag.unlink()  # the service dies
    wait_until(lambda: named(alpha, "group.restart.done"), what="a local restart")
    (failed,) = named(alpha, "monitor.failed")
    assert (failed["resource"], failed["rc"], failed["next"]) == ("svc", 3, "restart")
    assert named(alpha, "group.restart.done")[0]["ok"] is True
    assert flag.exists() and alpha.has_ip(vip) and not beta.has_ip(vip)
    assert named(beta, "group.acquire.start") == []
    # stop right to left down to svc, start again: the VIP went and came back, svc restarted
    ops = [
        (e["resource"], e["op"])
        for e in alpha.events()
        if e["event"] == "resource.op" and e["op"] != "status"
    ]
    assert ops[-4:] == [
        (f"IPaddr::{vip}/24", "stop"),
        ("svc", "stop"),
        ("svc", "start"),
        (f"IPaddr::{vip}/24", "start"),
    ]
    svc = next(m for m in alpha.status()["monitors"] if m["resource"] == "svc")
    assert svc["failures"] == 1
    assert "monitor svc (group svc, every 0.2 s)" in alpha.hbctl("status").stdout

    flag.unlink()  # again, within the window: past restarts=1
    wait_until(lambda: beta.has_ip(vip), what="the group to move to beta")
    (migrate,) = named(alpha, "group.migrate")
    assert "restarts exhausted (2 failures within 60 s)" in migrate["cause"]
    assert not alpha.has_ip(vip) and not flag.exists()
    assert alpha.status()["groups"]["svc"]["role"] == "FAILED"
    assert (root / "beta.running").exists()

    done = alpha.hbctl("cleanup", "svc")
    assert done.returncode == 0, done.stderr
    wait_until(lambda: alpha.has_ip(vip) and not beta.has_ip(vip), what="auto_failback to alpha")
    (cleanup,) = named(alpha, "group.cleanup")
    assert cleanup["cleared_failures"] == 2 and cleanup["was_failed"] is True
    assert next(m for m in alpha.status()["monitors"] if m["resource"] == "svc")["failures"] == 0
    bad = alpha.hbctl("cleanup", "nonsense")
    assert bad.returncode == 1 and "no resource group 'nonsense'" in bad.stderr


def test_the_builtin_ipaddr_check_notices_a_removed_address(monitored: tuple[Node, Node, str, Path]) -> None:
    alpha, beta, vip, _ = monitored
    wait_until(lambda: all(m["last"] == "ok" for m in alpha.status()["monitors"]), what="first checks")
    subprocess.run(["ip", "-n", alpha.ns, "addr", "del", f"{vip}/24", "dev", alpha.iface], check=True)
    wait_until(lambda: named(alpha, "group.restart.done"), what="a restart")
    (failed,) = named(alpha, "monitor.failed")
    assert failed["resource"] == f"IPaddr::{vip}/24" and failed["rc"] == 3
    assert alpha.has_ip(vip) and not beta.has_ip(vip)
    assert json.dumps(named(alpha, "garp.sent")[-1]).count(vip) == 1  # announced again after the restart
