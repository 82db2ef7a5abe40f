"""The supervisor with real daemons in two namespaces: SIGKILL of the heartbeat-sending process (the worker).

Before the supervisor, the peer took over while the killed node kept the VIP: two owners until a person
restarted hbd. Now the worker is restarted at once, releases what its predecessor held, and the cluster
settles on exactly one owner within 5 s, which stays.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.hbl_netns import netns_pair
from tests.integration.test_daemon_netns import Node, wait_until

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

SETTLE_S = 5.0  # the goal: exactly one owner within this long after the kill
WATCH_S = 8.0  # and still exactly one at every sample until then


def worker_pid(node: Node) -> int:
    return int((node.state_dir / "hbd.pid").read_text())


@pytest.fixture(params=["on", "off"], ids=["auto_failback_on", "auto_failback_off"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    root = Path(tmp_path_factory.mktemp("hbdsup", numbered=True))
    with netns_pair("10.81.0") as ns:
        vip = "10.81.0.50"
        alpha = Node("alpha", ns.a, ns.if_a, root)
        beta = Node("beta", ns.b, ns.if_b, root)
        for node in (alpha, beta):
            node.write_config(vip)
            hacf = node.config_dir / "ha.cf"
            hacf.write_text(hacf.read_text().replace("auto_failback on", f"auto_failback {request.param}"))
        try:
            alpha.start()
            beta.start()
            wait_until(lambda: alpha.has_ip(vip), what="alpha to hold the VIP")
            wait_until(lambda: beta.status()["peer"]["liveness"] == "alive", what="beta to see alpha")
            yield alpha, beta, vip
        finally:
            for node in (alpha, beta):
                node.stop(signal.SIGTERM)  # through the supervisor, as systemd or the lab would


@pytest.mark.parametrize("slow_restart", [False, True], ids=["fast_restart", "restart_after_takeover"])
def test_sigkill_of_the_active_workers_leaves_exactly_one_owner_within_5_s(
    pair: tuple, slow_restart: bool
) -> None:
    alpha, beta, vip = pair
    first_worker = worker_pid(alpha)
    assert alpha.proc is not None
    if slow_restart:
        # A restart slower than deadtime (a loaded machine): hold the supervisor until beta took over, so
        # that both hold the VIP when the new worker starts; it must release its predecessor's copy.
        alpha.proc.send_signal(signal.SIGSTOP)
    os.kill(first_worker, signal.SIGKILL)
    killed_at = time.monotonic()
    if slow_restart:
        wait_until(lambda: beta.has_ip(vip), timeout_s=3, what="beta to take over")
        assert alpha.has_ip(vip)  # two owners: what a dead worker without a supervisor leaves for good
        alpha.proc.send_signal(signal.SIGCONT)
    samples: list[tuple[float, bool, bool]] = []
    while (now := time.monotonic()) - killed_at < WATCH_S:
        samples.append((now - killed_at, alpha.has_ip(vip), beta.has_ip(vip)))
        time.sleep(0.02)
    not_single = [t for t, a, b in samples if a + b != 1]
    settled_at = max(not_single, default=0.0)
    assert settled_at < SETTLE_S, f"owners not exactly one until {settled_at:.2f} s after the kill"
    assert alpha.proc is not None and alpha.proc.poll() is None  # the supervisor still runs
    new_worker = worker_pid(alpha)
    assert new_worker != first_worker
    status = alpha.status()
    assert status["supervisor"]["restarts"] == 1
    assert status["supervisor"]["last_exit"] == "killed by SIGKILL"
    assert "daemon restarted 1 time(s) (last: killed by SIGKILL)" in alpha.hbctl("status").stdout
    (restarted,) = [e for e in alpha.events() if e["event"] == "daemon.restarted"]
    assert restarted["level"] == "CRITICAL" and restarted["signal"] == signal.SIGKILL
    assert restarted["node"] == "alpha" and restarted["restarts"] == 1
    changes = [s for i, s in enumerate(samples) if i == 0 or s[1:] != samples[i - 1][1:]]
    print("owner changes (s after kill, alpha, beta):", [(round(t, 3), a, b) for t, a, b in changes])
    print(f"owners settled {settled_at:.3f} s after SIGKILL of the worker; final: {samples[-1][1:]}")


def test_sigterm_and_sigkill_of_the_supervisor_end_the_worker(pair: tuple) -> None:
    alpha, beta, vip = pair
    worker = worker_pid(alpha)
    alpha.stop(signal.SIGTERM)  # a soft stop: handed over, the worker exits 0, then the supervisor
    assert alpha.proc is not None and alpha.proc.returncode == 0
    wait_until(lambda: beta.has_ip(vip) and not alpha.has_ip(vip), what="the VIP on beta")
    assert not Path(f"/proc/{worker}").exists()
    alpha.start()
    wait_until(lambda: (alpha.state_dir / "hbd.pid").exists(), what="alpha's worker")
    wait_until(lambda: alpha.status()["peer"]["liveness"] == "alive", what="alpha to see beta")
    worker = worker_pid(alpha)
    alpha.stop(signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{worker}").exists(), timeout_s=5, what="the worker to die too")


def test_systemd_notify_ready_then_watchdog_pings_from_the_workers_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd's side, faked: the datagram socket of NOTIFY_SOCKET (a path: abstract names are per netns).
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 100 ms
    with netns_pair("10.82.0") as ns:
        alpha = Node("alpha", ns.a, ns.if_a, tmp_path)
        alpha.write_config("10.82.0.50")
        try:
            alpha.start()
            sock.settimeout(10)
            messages = [sock.recv(4096).decode()]
            while "READY=1" not in messages[-1]:
                messages.append(sock.recv(4096).decode())
            assert (alpha.state_dir / "hbd.pid").exists()  # ready means serving: the worker's files exist
            assert alpha.hbctl("status").returncode == 0
            drain(sock)
            pings = count_pings(sock, 0.55)
            assert 4 <= pings <= 7, pings
            worker = int((alpha.state_dir / "hbd.pid").read_text())
            os.kill(worker, signal.SIGSTOP)  # a hung daemon: systemd must stop hearing from it
            try:
                time.sleep(0.05)
                drain(sock)  # one may have been in flight
                assert count_pings(sock, 0.5) == 0
            finally:
                os.kill(worker, signal.SIGCONT)
            assert count_pings(sock, 0.55) >= 4
        finally:
            alpha.stop(signal.SIGTERM)
            sock.close()


def count_pings(sock: socket.socket, seconds: float) -> int:
    end = time.monotonic() + seconds
    pings = 0
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            pings += sock.recv(4096) == b"WATCHDOG=1"
        except TimeoutError:
            break
    return pings


def drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while True:
            sock.recv(4096)
    except BlockingIOError:
        pass
