"""hbd.notify (sd_notify) against a fake NOTIFY_SOCKET: a real unix datagram socket, as systemd's."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hbd.notify import Notifier


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    try:
        yield str(path), sock
    finally:
        sock.close()


def received(sock: socket.socket) -> list[str]:
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        return out
    finally:
        sock.settimeout(2.0)


def test_ready_and_stopping_reach_the_socket(systemd: tuple[str, socket.socket]) -> None:
    path, sock = systemd
    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert n.ready(status="serving")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving"
    n.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    assert "MAINPID" not in "".join(received(sock))  # the supervisor stays systemd's main process


def test_an_abstract_socket_name_starting_with_at() -> None:
    name = f"hbd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2.0)
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(4096) == b"READY=1"


def test_without_notify_socket_everything_is_a_no_op() -> None:
    n = Notifier.from_env({})
    assert not n.enabled and not n.ready()
    n.start_watchdog(asyncio.new_event_loop())  # nothing armed, nothing raised
    n.stopping()


def test_an_unreachable_socket_is_reported_not_raised(tmp_path: Path) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody")})
    assert not n.ready()
    assert n.failed is not None and "nobody" in n.failed


def test_watchdog_usec_for_another_pid_is_not_ours() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000"}
    assert Notifier.from_env(env).watchdog_interval_s == 0.5
    assert Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_interval_s == 0.5
    assert Notifier.from_env({**env, "WATCHDOG_PID": "1"}).watchdog_interval_s is None


def test_the_watchdog_pings_from_the_loop_and_a_stuck_loop_stops_them(
    systemd: tuple[str, socket.socket],
) -> None:
    path, sock = systemd
    n = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})  # ping every 50 ms

    async def scenario() -> tuple[int, int]:
        n.start_watchdog(asyncio.get_running_loop())
        await asyncio.sleep(0.32)
        free = len(received(sock))
        time.sleep(0.3)  # the loop is stuck: no timer can run
        stuck = len(received(sock))
        n.stop_watchdog()
        return free, stuck

    free, stuck = asyncio.run(scenario())
    assert 5 <= free <= 8  # one at start, then every 50 ms
    assert stuck == 0


def test_a_full_notify_socket_never_blocks_the_daemon(systemd: tuple[str, socket.socket]) -> None:
    # A receiver that stops reading (systemd busy, or a test that does not drain) fills its queue after
    # net.unix.max_dgram_qlen datagrams (10 by default); a blocking sendto would then freeze the event loop
    # that sends the heartbeats. Seen: hbctl status timed out while the worker sat in unix_wait_for_peer.
    path, _sock = systemd
    notifier = Notifier(path, 200_000)
    started = time.monotonic()
    results = [notifier.notify("WATCHDOG=1") for _ in range(2000)]
    assert time.monotonic() - started < 2.0
    assert results[0] and not results[-1]  # the first got through; once full, pings are dropped, said
    assert notifier.failed is not None
