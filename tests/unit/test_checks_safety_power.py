"""The lab power switch (lab/faults/power_switch.py) and fence_lab (the fence-agents stdin
protocol) against a fake backend, the shared-disk plumbing (lab/history/shared_disk.py,
lab/node/disk_writer.py) and the topology's `shared_disk:` key. No root needed: the switch is a unix
socket in a temporary directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.backends.base import LabError
from lab.faults.power_switch import PowerSwitch, request
from lab.history.records import history_from_records
from lab.history.shared_disk import disk_records, with_disk_records
from lab.paths import DISK_WRITER, FENCE_AGENT
from lab.render import resource_groups
from lab.spec.topology import TopologyError, load_topology, parse_topology

FENCE_LAB = FENCE_AGENT
WRITER = DISK_WRITER
TWO_NODE = load_topology("two-node")


@dataclass
class Cable:
    cable_up: bool


class FakeBackend:
    """Nodes that are on (processes, cables up) or off; power_off can be told to fail."""

    def __init__(self) -> None:
        self.on = {"bob": True, "bobek": True}
        self.fail_off = False
        self.calls: list[str] = []

    def power_off(self, node: str) -> None:
        self.calls.append(f"off {node}")
        if self.fail_off:
            raise LabError(f"power_off {node}: processes still running: [42]")
        self.on[node] = False

    def power_on(self, node: str) -> None:
        self.calls.append(f"on {node}")
        self.on[node] = True

    def pids(self, node: str) -> list[int]:
        return [1234] if self.on[node] else []

    def link_state(self, node: str, iface: str) -> Cable:
        return Cable(self.on[node])


class FakeDaemons:
    def __init__(self) -> None:
        self.booted: list[str] = []
        self.forgotten: list[str] = []

    def boot(self, nodes: list[str], together: bool = False) -> None:
        self.booted += nodes

    def forget(self, node: str) -> None:
        self.forgotten.append(node)


@pytest.fixture
def switch(tmp_path):
    records: list[dict] = []
    sw = PowerSwitch(FakeBackend(), TWO_NODE, FakeDaemons(), records.append)
    sw.records = records  # type: ignore[attr-defined]
    sw.serve(tmp_path / "power.sock")
    yield sw
    sw.close()


def agent(stdin: str, env_node: str = "bob") -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HBLAB_NODE": env_node}
    return subprocess.run([str(FENCE_LAB)], input=stdin, capture_output=True, text=True, env=env, timeout=30)


# ------------------------------------------------------------ the switch


def test_off_powers_the_node_off_records_a_fence_and_forgets_its_daemon(switch):
    answer = switch.handle({"action": "off", "plug": "bobek", "by": "bob"})
    assert answer == {"ok": True, "state": "off"}
    assert switch.backend.calls == ["off bobek"]
    assert switch.daemons.forgotten == ["bobek"]
    (rec,) = switch.records
    assert rec["event"] == "fault.inject" and rec["fault"] == "power_off"
    assert (rec["node"], rec["via"], rec["by"]) == ("bobek", "fence_lab", "bob")


def test_off_of_an_off_node_succeeds_without_touching_it(switch):
    switch.backend.on["bobek"] = False
    assert switch.handle({"action": "off", "plug": "bobek"}) == {"ok": True, "state": "off"}
    assert switch.backend.calls == [] and switch.records == []


def test_on_and_reboot_boot_the_daemon(switch):
    switch.backend.on["bob"] = False
    assert switch.handle({"action": "on", "plug": "bob"})["state"] == "on"
    assert switch.daemons.booted == ["bob"]
    assert switch.handle({"action": "reboot", "plug": "bob"})["state"] == "on"
    assert switch.backend.calls == ["on bob", "off bob", "on bob"]


def test_failed_power_off_is_an_error_answer_and_a_record(switch):
    switch.backend.fail_off = True
    answer = switch.handle({"action": "off", "plug": "bobek", "by": "bob"})
    assert answer["ok"] is False and "still running" in answer["error"]
    assert switch.records[-1]["event"] == "power.error"


def test_bad_requests_are_answered_not_raised(switch):
    assert "unknown action" in switch.handle({"action": "explode", "plug": "bob"})["error"]
    assert "unknown plug" in switch.handle({"action": "off", "plug": "client"})["error"]
    assert "unknown plug" in switch.handle({"action": "status"})["error"]
    assert switch.handle({"action": "list"}) == {"ok": True, "plugs": ["bob", "bobek"]}


def test_socket_round_trip_and_garbage(switch):
    assert request(switch.path, {"action": "status", "plug": "bob"}) == {"ok": True, "state": "on"}
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(switch.path))
        s.sendall(b"not json\n")
        answer = json.loads(s.makefile().readline())
    assert answer["ok"] is False and "bad request" in answer["error"]


# ------------------------------------------------------------ fence_lab


def test_fence_lab_off_then_status_says_off(switch):
    res = agent(f"# hbd passes options on stdin\naction=off\nport=bobek\nsocket={switch.path}\n")
    assert res.returncode == 0, res.stderr
    assert switch.records[-1]["by"] == "bob"  # the requesting node comes from HBLAB_NODE
    res = agent(f"action=status\nplug=bobek\nsocket={switch.path}\n")
    assert res.returncode == 2, res.stderr
    res = agent(f"action=status\nplug=bob\nsocket={switch.path}\n")
    assert res.returncode == 0


def test_fence_lab_list_monitor_and_arguments(switch):
    res = agent(f"action=list\nsocket={switch.path}\n")
    assert res.returncode == 0 and res.stdout.split() == ["bob,bob", "bobek,bobek"]
    res = subprocess.run([str(FENCE_LAB), "--action=monitor", "--socket", str(switch.path)],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("action=off\nsocket=/x\n", "needs plug"),
        ("action=off\nplug=bobek\n", "no power switch"),
        ("action=dance\nplug=bob\nsocket=/x\n", "unknown action"),
        ("garbage line\n", "expected name=value"),
        ("action=off\nplug=bobek\nsocket=/nonexistent/power.sock\n", "power switch /nonexistent"),
    ],
)
def test_fence_lab_failures_exit_1_with_a_message(stdin, message):
    res = agent(stdin)
    assert res.returncode == 1
    assert message in res.stderr


def test_fence_lab_reports_a_switch_error(switch):
    switch.backend.fail_off = True
    res = agent(f"action=off\nplug=bobek\nsocket={switch.path}\n")
    assert res.returncode == 1 and "still running" in res.stderr


# ------------------------------------------------------------ shared disk


def test_topology_shared_disk_names_a_group():
    topo = load_topology("two-node-shared-disk")
    assert topo.shared_disk_group == "www"
    (group,) = resource_groups(topo)
    assert [r.name for r in group.resources][:2] == ["hblab-claim", "hblab-writer"]
    assert group.resources[-1].name == "IPaddr"
    assert [r.name for r in resource_groups(TWO_NODE)[0].resources] == ["hblab-service", "IPaddr"]


def test_topology_shared_disk_unknown_group_is_an_error_with_its_path(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "lab/topologies/two-node.yaml").read_text()
    with pytest.raises(TopologyError, match=r"shared_disk\.group: expected the name of a group"):
        parse_topology(text + "shared_disk: {group: nope}\n", tmp_path / "t.yaml")
    with pytest.raises(TopologyError, match=r"shared_disk\.size: unknown key"):
        parse_topology(text + "shared_disk: {group: www, size: 1}\n", tmp_path / "t.yaml")


def test_disk_records_read_the_disk_and_the_ack_journals(tmp_path):
    disk = tmp_path / "shared-disk"
    disk.mkdir()
    good = json.dumps({"seq": 1, "writer_node": "bob", "pid": 7, "mono": 5.0})
    (disk / "data.log").write_text(good + "\n" + '{"seq": 2, "wri\n')
    journal = tmp_path / "nodes" / "bob" / "state"
    journal.mkdir(parents=True)
    ack = {"mono": 5.01, "source": "disk", "event": "disk.ack", "node": "bob", "writer_node": "bob", "pid": 7,
           "seq": 1}  # fmt: skip
    (journal / "disk-acks.jsonl").write_text(json.dumps(ack) + "\n" + '{"mono": 5.')  # cut by a power-off
    objs, problems = disk_records(tmp_path)
    assert [o["event"] for o in objs] == ["disk.record", "disk.torn", "disk.ack"]
    assert objs[1]["mono"] == 5.0 and problems == []
    history = with_disk_records(history_from_records([{"mono": 1.0, "source": "lab", "event": "run.start"}]),
                                tmp_path)  # fmt: skip
    assert [r.event for r in history] == ["run.start", "disk.record", "disk.torn", "disk.ack"]


def test_disk_writer_recovers_the_sequence_and_acknowledges_after_writing(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    (mount / "data.log").write_text(
        json.dumps({"seq": 41, "writer_node": "bob", "pid": 1, "mono": 0.5}) + "\n"
    )
    journal, pidfile = tmp_path / "acks.jsonl", tmp_path / "w.pid"
    argv = [sys.executable, "-I", "-S", str(WRITER), "--mount", str(mount), "--node", "bobek",
            "--journal", str(journal), "--pidfile", str(pidfile), "--every-ms", "5"]  # fmt: skip
    proc = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 20
        while (not journal.exists() or journal.read_text().count("\n") < 3) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    acks = [json.loads(line) for line in journal.read_text().splitlines()]
    lines = [json.loads(line) for line in (mount / "data.log").read_text().splitlines()]
    assert acks[0]["seq"] == 42 and acks[0]["writer_node"] == "bobek"
    assert [x["seq"] for x in lines] == list(range(41, 41 + len(lines)))
    assert {a["seq"] for a in acks} <= {x["seq"] for x in lines}
    assert int(pidfile.read_text()) == proc.pid


# ------------------------------------------------------------ rendering


def test_fencing_renders_stonith_host_and_installs_the_agent(tmp_path):
    from lab.backends.base import NodeDirs
    from lab.render import ClusterSecret, RenderError, render_node

    dirs = NodeDirs(tmp_path / "bob")
    daemon = {"keepalive": "50ms", "deadtime": "300ms", "fencing": "on", "fence_delay": "1s"}
    serial = {"ttyS0": "/dev/pts/9"}
    render_node(
        TWO_NODE, "bob", daemon, dirs, ClusterSecret.fresh(), serial, power_socket="/run/hblab/x/power.sock"
    )
    hacf = (dirs.config_dir / "ha.cf").read_text()
    assert "stonith_host * fence_lab socket=/run/hblab/x/power.sock" in hacf
    assert "hbd_fence_delay 1" in hacf and "fencing" not in hacf.replace("hbd_fence", "")
    assert (dirs.root / "bin" / "fence_lab").resolve() == FENCE_LAB
    with pytest.raises(RenderError, match=r"daemon\.fencing"):
        render_node(TWO_NODE, "bob", daemon, NodeDirs(tmp_path / "b2"), ClusterSecret.fresh(), serial)
    render_node(
        TWO_NODE, "bob", {"keepalive": "50ms"}, NodeDirs(tmp_path / "b3"), ClusterSecret.fresh(), serial
    )
    assert "stonith_host" not in (tmp_path / "b3" / "ha.d" / "ha.cf").read_text()
    assert not (tmp_path / "b3" / "bin").exists()
