"""The worker's per-packet path (hbd/daemon.py): a copy of a packet from another medium is not verified
again, yet still counts for its link and still meets the replay guard; the timer is re-armed only when
the next deadline moves, and always after it fired."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

import hbd.daemon as daemon_mod
from hbd.config.load import load_config
from hbd.core.events import Booted, TimerFired
from hbd.core.machine import GroupSpec, NodeMachine, Timing
from hbd.daemon import Daemon, StatePaths

HACF = "node bob bobek\nkeepalive 10ms\ndeadtime 40ms\nwarntime 20ms\ninitdead 1\nbcast eth0\nbcast eth1\n"


class NoResources:
    """In place of the daemon's GroupRunner: these daemons run in the test host's own network namespace,
    where a real IPaddr start would put the VIP on the host's interface and send ARP on its uplink."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a resource operation ({name}) in a unit test of the packet path")


class Capture:
    """A transport that keeps what is sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[bytes] = []
        self.stats: dict[str, int] = {}

    def send(self, payload: bytes) -> None:
        self.sent.append(payload)


def make(tmp: Path, node: str) -> tuple[Daemon, Capture]:
    conf = tmp / node / "ha.d"
    conf.mkdir(parents=True)
    (conf / "ha.cf").write_text(HACF)
    # An interface no host has: even a resource start that slipped through could not touch a real one.
    (conf / "haresources").write_text("bob IPaddr::192.0.2.250/24/hblnone0\n")
    (conf / "authkeys").write_text("auth 1\n1 sha256 k3y\n")
    os.chmod(conf / "authkeys", 0o600)
    config = load_config(conf, node).config
    d = Daemon(config, StatePaths.from_arg(str(tmp / node / "state")), logging.getLogger(f"test.{node}"))
    d.runner = NoResources()  # type: ignore[assignment]
    d.generation = 1_700_000_000 + len(node)
    c = config.cluster
    d.machine = NodeMachine(
        d.node,
        d.peer,
        [GroupSpec(g.key, g.home) for g in config.groups],
        Timing(c.keepalive_s, c.deadtime_s, c.warntime_s, c.initdead_s),
        auto_failback=True,
        fencing=False,
        fence_delay_s=0.0,
        unclean_start=False,
        config_digest="x",
        ping_targets=(),
        deadping_s=None,
        generation=d.generation,
        monitors=(),
    )
    out = Capture("bcast:eth1")
    d.transports = [out]  # type: ignore[list-item]
    d.feed(Booted())
    return d, out


def run(coro_fn: Any) -> None:
    async def main() -> None:
        coro_fn()

    asyncio.run(main())


def test_a_copy_from_another_medium_is_not_verified_again_but_counts_for_its_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def body() -> None:
        bob, _ = make(tmp_path, "bob")
        _, sent = make(tmp_path, "bobek")
        calls: list[bytes] = []
        real = daemon_mod.decode_packet

        def counting(payload: bytes, auth: Any) -> Any:
            calls.append(payload)
            return real(payload, auth)

        monkeypatch.setattr(daemon_mod, "decode_packet", counting)
        packet = sent.sent[-1]
        bob._on_packet(packet, "bcast:eth0")
        bob._on_packet(packet, "bcast:eth1")
        assert calls == [packet]  # verified once
        assert bob.machine is not None
        assert set(bob.machine.peer.up_links()) == {"bcast:eth0", "bcast:eth1"}
        # The same bytes again on a link that had them: a replay, refused by the guard as before.
        bob._on_packet(packet, "bcast:eth1")
        assert bob.rejected.get("replay") == 1
        # Other bytes (the signature's last digit changed) are verified, and refused.
        at = packet.index(b"\n<<<") - 1
        forged = packet[:at] + (b"1" if packet[at : at + 1] == b"0" else b"0") + packet[at + 1 :]
        bob._on_packet(forged, "bcast:eth1")
        assert calls[-1] == forged and sum(bob.rejected.values()) == 2

    run(body)


def test_a_reload_with_new_keys_verifies_the_same_bytes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def body() -> None:
        bob, _ = make(tmp_path, "bob")
        _, sent = make(tmp_path, "bobek")
        packet = sent.sent[-1]
        bob._on_packet(packet, "bcast:eth0")
        calls: list[bytes] = []
        real = daemon_mod.decode_packet
        monkeypatch.setattr(daemon_mod, "decode_packet", lambda p, a: calls.append(p) or real(p, a))
        import dataclasses

        bob.config = dataclasses.replace(bob.config, auth=dataclasses.replace(bob.config.auth))
        bob._on_packet(packet, "bcast:eth1")
        assert calls == [packet]

    run(body)


def test_the_timer_is_rearmed_only_when_the_deadline_moves(tmp_path: Path) -> None:
    def body() -> None:
        bob, _ = make(tmp_path, "bob")
        first = bob._timer
        assert first is not None and bob._timer_at is not None
        bob._arm_timer()  # nothing changed
        assert bob._timer is first
        # The timer fires: the next arm makes a new handle even if the machine's deadline stayed put.
        bob._timer_fired(bob._timer_at)
        assert bob._timer is not None and bob._timer is not first
        before = bob._timer
        assert bob.machine is not None
        bob.machine.next_send_at = (bob.machine.next_send_at or 0.0) - 0.005  # an earlier deadline
        bob._arm_timer()
        assert bob._timer is not before and before.cancelled()
        bob.feed(TimerFired())

    run(body)


def test_an_unchanged_status_is_sent_from_its_kept_rendering_byte_for_byte(tmp_path: Path) -> None:
    from hbd.wire.codec import decode, encode
    from hbd.wire.message import Message

    def body() -> None:
        bob, out = make(tmp_path, "bob")
        assert bob.machine is not None
        fields = bob.machine._status_fields()
        bob._send(fields)
        bob._send(fields)  # from the kept rendering
        first, second = (decode(p, bob.config.auth) for p in out.sent[-2:])
        assert first.fields[:-3] == second.fields[:-3]
        assert second.seq == first.seq + 1  # type: ignore[operator]
        expected = Message.of(
            [
                *fields,
                ("src", "bob"),
                ("seq", f"{second.seq:x}"),
                ("hg", f"{bob.generation:x}"),
                second.fields[-1],
            ]
        )
        assert out.sent[-1] == encode(expected, bob.config.auth)
        # A changed status is checked and rendered again.
        changed = tuple((n, "shutdown" if n == "st" else v) for n, v in fields)
        bob._send(changed)
        assert decode(out.sent[-1], bob.config.auth).get("st") == "shutdown"

    run(body)


def test_a_copy_on_an_up_link_skips_the_core_s_full_handle_while_nothing_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(daemon_mod.time, "monotonic", lambda: clock[0])  # no keepalive passes meanwhile

    def body() -> None:
        bob, _ = make(tmp_path, "bob")
        bobek, sent = make(tmp_path, "bobek")
        assert bob.machine is not None and bobek.machine is not None
        for _ in range(2):  # both links up
            clock[0] += 0.001
            bobek._send(bobek.machine._status_fields())
            bob._on_packet(sent.sent[-1], "bcast:eth0")
            bob._on_packet(sent.sent[-1], "bcast:eth1")
        handled: list[object] = []
        real = bob.machine.handle
        bob.machine.handle = lambda event, now: handled.append(event) or real(event, now)  # type: ignore[method-assign]
        clock[0] += 0.001
        bobek._send(bobek.machine._status_fields())
        bob._on_packet(sent.sent[-1], "bcast:eth0")  # new: the core handles it
        assert len(handled) == 1
        bob._on_packet(sent.sent[-1], "bcast:eth1")  # the copy: noted for the link only
        assert len(handled) == 1
        assert bob.machine.peer.links["bcast:eth1"].last_heard == clock[0]
        assert bob._timer is not None and bob._timer_at == bob.machine.next_deadline()
        # Once the armed deadline has come, a copy goes through handle() again (the timer's work is due).
        bobek._send(bobek.machine._status_fields())
        bob._on_packet(sent.sent[-1], "bcast:eth0")
        assert len(handled) == 2
        clock[0] = (bob._timer_at or 0.0) + 0.0001
        bob._on_packet(sent.sent[-1], "bcast:eth1")
        assert len(handled) == 3

    run(body)
