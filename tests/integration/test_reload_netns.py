"""Reload of two real hbd processes in namespaces: SIGHUP / `hbctl reload` apply new files live.

A timing change reaches the worker without a restart and without the group moving; invalid files are
refused with FILE:LINE and the old configuration keeps running; a key rotation loses no packet.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.integration import test_daemon_netns as base
from tests.integration.test_daemon_netns import KEY, Node, wait_until

pytestmark = base.pytestmark
cluster = base.cluster  # the two-daemon fixture: alpha holds the VIP

MOVES = ("group.release.start", "group.acquire.start", "group.released", "daemon.restarted", "peer.dead")


def set_hacf(node: Node, **directives: str) -> None:
    """Replace (or add) ha.cf directives, keeping every other line."""
    path = node.config_dir / "ha.cf"
    lines = [
        line for line in path.read_text().splitlines() if line.split()[:1] not in [[k] for k in directives]
    ]
    path.write_text("\n".join([*lines, *(f"{k} {v}" for k, v in directives.items())]) + "\n")


def write_keys(node: Node, text: str) -> None:
    path: Path = node.config_dir / "authkeys"
    path.write_text(text)
    path.chmod(0o600)


def events_since(node: Node, count: int) -> list[dict]:
    return node.events()[count:]


def vip_kept(node: Node, vip: str, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not node.has_ip(vip):
            return False
        time.sleep(0.02)
    return True


def test_sighup_applies_new_timings_without_a_restart_or_a_move(cluster):
    _pair, alpha, beta, vip = cluster
    wait_until(lambda: any(e["event"] == "peer.up" for e in beta.events()), what="beta to hear alpha")
    worker = (alpha.state_dir / "hbd.pid").read_text()
    marks = {n.name: len(n.events()) for n in (alpha, beta)}
    for node in (alpha, beta):
        set_hacf(node, keepalive="100ms", deadtime="900ms", warntime="400ms")
    assert alpha.proc is not None
    alpha.proc.send_signal(signal.SIGHUP)  # the supervisor: it forwards the signal to its worker
    done = beta.hbctl("reload")
    assert done.returncode == 0, done.stderr
    assert "keepalive_s" in done.stdout and "deadtime_s" in done.stdout
    wait_until(lambda: any(e["event"] == "config.reloaded" for e in events_since(alpha, marks["alpha"])))
    assert vip_kept(alpha, vip, 1.5)
    for node in (alpha, beta):
        new = events_since(node, marks[node.name])
        reloaded = [e for e in new if e["event"] == "config.reloaded"]
        assert len(reloaded) == 1
        assert reloaded[0]["changed"]["cluster"][:3] == ["keepalive_s", "deadtime_s", "warntime_s"]
        assert [e["event"] for e in new if e["event"] in MOVES] == []
    assert reloaded[0]["trigger"] == "hbctl reload"
    assert (alpha.state_dir / "hbd.pid").read_text() == worker  # the same worker: not restarted
    assert alpha.status()["supervisor"]["restarts"] == 0
    # beta now waits the new deadtime (0.9 s, not 0.3 s) before declaring alpha dead
    alpha.stop(signal.SIGKILL)
    wait_until(lambda: beta.has_ip(vip), timeout_s=5, what="beta to take over")
    dead = [e for e in beta.events() if e["event"] == "peer.dead"]
    assert dead and dead[-1]["silence_s"] >= 0.9


def test_an_invalid_reload_keeps_the_running_configuration_and_says_where(cluster):
    _pair, alpha, _beta, vip = cluster
    good = (alpha.config_dir / "ha.cf").read_text()
    mark = len(alpha.events())
    set_hacf(alpha, keepalive="soon")
    done = alpha.hbctl("reload")
    assert done.returncode == 1
    line = len(good.splitlines())  # the rewritten directive moved to the last line
    assert f"ha.cf:{line}:" in done.stderr and "kept" in done.stderr
    failed = [e for e in events_since(alpha, mark) if e["event"] == "config.reload_failed"]
    assert len(failed) == 1 and failed[0]["level"] == "ERROR"
    assert any(f"ha.cf:{line}:" in p for p in failed[0]["problems"])
    assert vip_kept(alpha, vip, 0.5)
    assert [e["event"] for e in events_since(alpha, mark) if e["event"] in MOVES] == []
    # the running configuration is still the old one: fixing the file is a reload with nothing changed
    (alpha.config_dir / "ha.cf").write_text(good)
    again = alpha.hbctl("reload")
    assert again.returncode == 0 and "nothing changed" in again.stdout


def test_key_rotation_by_reload_rejects_no_packet_and_moves_nothing(cluster):
    _pair, alpha, beta, vip = cluster
    wait_until(lambda: any(e["event"] == "peer.up" for e in alpha.events()), what="alpha to hear beta")
    marks = {n.name: len(n.events()) for n in (alpha, beta)}
    steps = [
        f"auth 1\n1 sha256 {KEY}\n2 sha256 second-{KEY}\n",
        f"auth 2\n1 sha256 {KEY}\n2 sha256 second-{KEY}\n",
        f"auth 2\n2 sha256 second-{KEY}\n",
    ]
    for text in steps:
        for node in (alpha, beta):
            write_keys(node, text)
            done = node.hbctl("reload")
            assert done.returncode == 0 and "auth" in done.stdout, done.stderr
        time.sleep(0.3)
    assert vip_kept(alpha, vip, 0.5)
    for node in (alpha, beta):
        assert node.status()["rejected_packets"] == {}
        new = events_since(node, marks[node.name])
        assert [e["event"] for e in new if e["event"] in (*MOVES, "packet.rejected")] == []
        assert len([e for e in new if e["event"] == "config.reloaded"]) == 3


def test_a_new_medium_opens_and_a_removed_one_closes_without_a_move(cluster):
    pair, alpha, beta, vip = cluster
    wait_until(lambda: any(e["event"] == "peer.up" for e in beta.events()), what="beta to hear alpha")
    marks = {n.name: len(n.events()) for n in (alpha, beta)}
    peers = {"alpha": (alpha, pair.ip_b), "beta": (beta, pair.ip_a)}
    for node, peer_ip in peers.values():
        path = node.config_dir / "ha.cf"
        path.write_text(path.read_text() + f"ucast {node.iface} {peer_ip}\n")
        assert node.hbctl("reload").returncode == 0
    ucast = f"ucast:{alpha.iface}:{pair.ip_b}"
    wait_until(lambda: alpha.status()["peer"]["links"].get(ucast, {}).get("up") is True, what="ucast link up")
    bcast = f"bcast:{alpha.iface}"
    for node, _ in peers.values():  # now only ucast: the broadcast transport is closed
        path = node.config_dir / "ha.cf"
        path.write_text("".join(line for line in path.open() if not line.startswith("bcast ")))
        done = node.hbctl("reload")
        assert done.returncode == 0 and "media_removed: bcast" in done.stdout, done.stdout
    wait_until(lambda: alpha.status()["peer"]["links"][bcast]["up"] is False, what="bcast link down")
    assert alpha.status()["media"].keys() == {ucast}
    assert vip_kept(alpha, vip, 1.0)
    for node in (alpha, beta):
        new = events_since(node, marks[node.name])
        assert [e["event"] for e in new if e["event"] in MOVES] == []


def test_a_group_whose_resources_changed_is_stopped_as_it_was_and_started_as_it_is(cluster):
    _pair, alpha, beta, vip = cluster
    for node in (alpha, beta):
        scripts = node.config_dir / "resource.d"
        scripts.mkdir(exist_ok=True)
        svc = scripts / "svc"
        # an LSB-ish script that records every call, so the test sees which resources ran
        svc.write_text(
            f'#!/bin/sh\necho "$1" >> {node.state_dir}/svc.log\n[ "$1" = status ] && exit 3\nexit 0\n'
        )
        svc.chmod(0o755)
    mark = len(alpha.events())
    group = f"IPaddr::{vip}/24"
    for node in (alpha, beta):
        (node.config_dir / "haresources").write_text(f"alpha {group} svc\n")
        assert node.hbctl("reload").returncode == 0
    wait_until(
        lambda: (
            (alpha.state_dir / "svc.log").exists() and "start" in (alpha.state_dir / "svc.log").read_text()
        )
    )
    wait_until(lambda: alpha.status()["groups"][group]["role"] == "ACTIVE", what="the group active again")
    new = events_since(alpha, mark)
    released = [e for e in new if e["event"] == "group.release.start"]
    assert len(released) == 1 and "resources changed" in released[0]["cause"]
    ops = [(e["resource"], e["op"]) for e in new if e["event"] == "resource.op" and e["op"] != "status"]
    # stopped as it ran (the address only: svc was not part of it), then started with svc
    assert ops == [(group, "stop"), (group, "start"), ("svc", "start")]
    assert alpha.has_ip(vip) and not beta.has_ip(vip)
    assert (
        not (beta.state_dir / "svc.log").exists() or "start" not in (beta.state_dir / "svc.log").read_text()
    )
