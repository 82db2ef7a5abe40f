"""hbd.metrics: the exposition (parsed back with prometheus_client's own text parser), counting at the
event log, the scrape endpoint on an asyncio loop, and the `hbd_metrics` directive."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hbd.config.errors import Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.render import render_hacf
from hbd.events_log import EventLog
from hbd.metrics import LinkState, Metrics, MetricsServer, State


def samples(text: str | bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str | bytes, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


RECORDS = [
    {"event": "peer.dead", "level": "WARN", "peer": "bob", "cause": "silence"},
    {"event": "group.acquire.start", "level": "INFO", "group": "g1", "cause": "peer dead"},
    {"event": "group.active", "level": "INFO", "group": "g1", "cause": "peer dead"},
    {"event": "group.acquire.start", "level": "INFO", "group": "g2", "cause": "home node"},
    {"event": "group.failed", "level": "ERROR", "group": "g2", "op": "start"},
    {
        "event": "group.release.start",
        "level": "INFO",
        "group": "g1",
        "cause": "auto_failback: the home node is back",
    },
    {"event": "fence.start", "level": "WARN", "peer": "bob", "attempt": 1},
    {"event": "fence.failed", "level": "ERROR", "peer": "bob"},
    {"event": "fence.start", "level": "WARN", "peer": "bob", "attempt": 2},
    {"event": "fence.ok", "level": "WARN", "peer": "bob"},
    {
        "event": "takeover.breakdown",
        "level": "INFO",
        "group": "g1",
        "peer_last_heard": 10.0,
        "declared_dead": 10.3,
        "resources_started": 10.35,
        "garp_sent": 10.36,
        "detect_s": 0.3,
        "start_s": 0.05,
        "announce_s": 0.01,
    },
    {"event": "daemon.stall", "level": "WARN", "late_s": 0.2},
]


def observed(records: list[dict]) -> bytes:
    metrics = Metrics()
    for record in records:
        metrics.observe(record)
    return metrics.render()


def test_every_record_is_counted_by_event_and_level():
    text = observed(RECORDS)
    assert value(text, "hbd_events_total", event="fence.start", level="WARN") == 2
    assert value(text, "hbd_events_total", event="group.failed", level="ERROR") == 1
    total = sum(v for (name, _), v in samples(text).items() if name == "hbd_events_total")
    assert total == len(RECORDS)


def test_transitions_carry_the_cause_without_its_detail_and_failovers_only_count_the_peers_causes():
    text = observed(RECORDS)
    assert (
        value(text, "hbd_group_transitions_total", group="g1", transition="acquire", cause="peer dead") == 1
    )
    assert value(text, "hbd_group_transitions_total", group="g1", transition="active", cause="peer dead") == 1
    assert (
        value(text, "hbd_group_transitions_total", group="g1", transition="release", cause="auto_failback")
        == 1
    )
    assert value(text, "hbd_group_transitions_total", group="g2", transition="failed", cause="") == 1
    assert value(text, "hbd_failovers_total", group="g1", cause="peer dead") == 1
    assert value(text, "hbd_failovers_total", group="g2", cause="home node") is None


def test_fences_takeover_stages_and_stalls():
    text = observed(RECORDS)
    assert value(text, "hbd_fence_attempts_total", peer="bob") == 2
    assert value(text, "hbd_fence_results_total", peer="bob", result="ok") == 1
    assert value(text, "hbd_fence_results_total", peer="bob", result="failed") == 1
    assert value(text, "hbd_takeover_stage_seconds_count", stage="detect") == 1
    assert value(text, "hbd_takeover_stage_seconds_sum", stage="detect") == pytest.approx(0.3)
    assert value(text, "hbd_takeover_stage_seconds_sum", stage="total") == pytest.approx(0.36)
    assert value(text, "hbd_takeover_stage_seconds_bucket", stage="total", le="0.25") == 0
    assert value(text, "hbd_takeover_stage_seconds_bucket", stage="total", le="0.5") == 1
    assert value(text, "hbd_stall_seconds_count") == 1


def test_monitor_hook_and_timer_lateness():
    metrics = Metrics()
    metrics.monitor_result("g1", "httpd", "failed")
    metrics.monitor_result("g1", "httpd", "ok")
    metrics.monitor_result("g1", "httpd", "ok")
    metrics.timer_late(0.003)
    metrics.timer_late(-0.001)  # early by clock jitter: counted as on time
    text = metrics.render()
    assert value(text, "hbd_monitor_results_total", group="g1", resource="httpd", result="ok") == 2
    assert value(text, "hbd_timer_lateness_seconds_count") == 2
    assert value(text, "hbd_timer_lateness_seconds_bucket", le="0.0005") == 1


def state(**over: object) -> State:
    fields: dict = {
        "node_state": "RUNNING",
        "peer": "bob",
        "peer_liveness": "alive",
        "links": {
            "bcast:eth1": LinkState(True, 0.02, (0.01, 0.1), (3, 2, 1)),
            "serial:/dev/ttyS0": LinkState(False, None, (0.01, 0.1), (0, 0, 0)),
        },
        "group_roles": {"IPaddr::10.0.0.10": "ACTIVE", "httpd": "STOPPED"},
        "transports": {"bcast:eth1": {"received": 7, "sent": 9, "dropped_own": 4}},
        "rejected": {"bad_signature": 3},
        "supervisor_restarts": 2,
        "generation": 17,
    }
    fields.update(over)
    return State(**fields)


def test_state_gauges_histograms_and_packet_counters():
    text = Metrics(lambda: state()).render()
    assert value(text, "hbd_peer_up", peer="bob") == 1
    assert value(text, "hbd_peer_liveness", peer="bob", liveness="dead") == 0
    assert value(text, "hbd_link_up", link="serial:/dev/ttyS0") == 0
    assert value(text, "hbd_link_last_heard_seconds", link="bcast:eth1") == pytest.approx(0.02)
    assert value(text, "hbd_link_last_heard_seconds", link="serial:/dev/ttyS0") is None  # never heard
    assert value(text, "hbd_link_gap_seconds_bucket", link="bcast:eth1", le="0.01") == 3
    assert value(text, "hbd_link_gap_seconds_bucket", link="bcast:eth1", le="0.1") == 5
    assert value(text, "hbd_link_gap_seconds_bucket", link="bcast:eth1", le="+Inf") == 6
    assert value(text, "hbd_packets_received_total", link="bcast:eth1") == 7
    assert value(text, "hbd_packets_sent_total", link="bcast:eth1") == 9
    assert value(text, "hbd_transport_events_total", link="bcast:eth1", counter="dropped_own") == 4
    assert value(text, "hbd_packets_rejected_total", reason="bad_signature") == 3
    assert value(text, "hbd_group_role", group="httpd", role="STOPPED") == 1
    assert value(text, "hbd_group_active", group="IPaddr::10.0.0.10") == 1
    assert value(text, "hbd_group_active", group="httpd") == 0
    assert value(text, "hbd_node_state", state="RUNNING") == 1
    assert value(text, "hbd_supervisor_restarts_total") == 2
    assert value(text, "hbd_generation") == 17


def test_without_a_supervisor_there_is_no_restart_counter_and_before_boot_no_state():
    assert (
        value(Metrics(lambda: state(supervisor_restarts=None)).render(), "hbd_supervisor_restarts_total")
        is None
    )
    text = Metrics(lambda: None).render()
    assert value(text, "hbd_peer_up", peer="bob") is None
    assert "hbd_events_total" in text.decode()  # the counters are there from the start


def test_counters_agree_with_the_events_file_by_construction(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path, "alice", logging.getLogger("test.metrics"))
    metrics = Metrics()
    log.observers.append(metrics.observe)
    for record in RECORDS:
        fields = {k: v for k, v in record.items() if k not in ("event", "level")}
        log.emit(record["event"], record["level"], **fields)
    log.close()
    written = [json.loads(line) for line in path.read_text().splitlines()]
    text = metrics.render()
    for event in {r["event"] for r in written}:
        in_file = sum(1 for r in written if r["event"] == event)
        counted = sum(
            v
            for (name, labels), v in samples(text).items()
            if name == "hbd_events_total" and ("event", event) in labels
        )
        assert counted == in_file, event


async def _http(port: int, request: bytes) -> tuple[str, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def test_the_endpoint_serves_metrics_and_refuses_everything_else():
    async def scenario() -> None:
        metrics = Metrics(lambda: state())
        metrics.observe({"event": "peer.up", "level": "INFO"})
        server = MetricsServer(metrics, "127.0.0.1", 0)
        await server.start()
        try:
            port = server.bound_port
            status, body = await _http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == "HTTP/1.0 200 OK"
            assert value(body, "hbd_events_total", event="peer.up", level="INFO") == 1
            assert (await _http(port, b"GET / HTTP/1.0\r\n\r\n"))[0].startswith("HTTP/1.0 404")
            assert (await _http(port, b"POST /metrics HTTP/1.0\r\n\r\n"))[0].startswith("HTTP/1.0 405")
            # A client that sends half a request and goes away does not stop the next one being served.
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metr")
            await writer.drain()
            writer.close()
            assert (await _http(port, b"GET /metrics HTTP/1.0\r\n\r\n"))[0] == "HTTP/1.0 200 OK"
        finally:
            await server.close()

    asyncio.run(scenario())


BASE = "node a b\nbcast eth0\nauto_failback on\n"


def test_hbd_metrics_directive_parses_renders_and_is_off_by_default():
    diag = Diagnostics("ha.cf")
    assert parse_hacf(BASE, diag).metrics_listen is None
    cluster = parse_hacf(BASE + "hbd_metrics 127.0.0.1:9694\n", diag)
    assert not diag.errors
    assert cluster.metrics_listen == ("127.0.0.1", 9694)
    assert "hbd_metrics 127.0.0.1:9694" in render_hacf(cluster).splitlines()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hbd_metrics 9694", "hbd_metrics: '9694' is not ADDR:PORT"),
        ("hbd_metrics localhost:9694", "hbd_metrics: bad metrics address 'localhost'"),
        ("hbd_metrics 0.0.0.0:70000", "hbd_metrics: port 70000 out of range"),
    ],
)
def test_a_bad_hbd_metrics_line_is_refused_with_its_line(line: str, message: str):
    diag = Diagnostics("ha.cf")
    parse_hacf(BASE + line + "\n", diag)
    assert [(p.line, p.message) for p in diag.errors] == [(4, message)]


def test_a_port_already_taken_is_a_warning_event_and_the_daemon_runs_on(tmp_path: Path):
    from types import SimpleNamespace

    from hbd.daemon import Daemon

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    log = EventLog(tmp_path / "events.jsonl", "bob", logging.getLogger("test.metrics.taken"))
    server = MetricsServer(Metrics(), "127.0.0.1", port)
    daemon = SimpleNamespace(log=log, metrics_server=server)
    try:
        asyncio.run(Daemon._serve_metrics(daemon, server))  # type: ignore[arg-type]
    finally:
        taken.close()
        log.close()
    [record] = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert record["event"] == "daemon.metrics_failed" and record["level"] == "WARN"
    assert record["listen"] == f"127.0.0.1:{port}" and "cannot listen" in record["cause"]
    assert daemon.metrics_server is None


def test_state_of_a_real_machine_gives_each_links_gap_histogram_with_its_sum():
    from hbd.core.events import Booted, HeartbeatReceived
    from hbd.core.machine import GroupSpec, NodeMachine, Timing
    from hbd.metrics import state_of

    machine = NodeMachine(
        "bob",
        "bobek",
        [GroupSpec("IPaddr::10.0.0.10", "bob")],
        Timing(0.05, 0.3, 0.15, 2.0),
        auto_failback=True,
    )
    machine.handle(Booted(), 100.0)
    for now in (100.1, 100.14, 100.18, 100.26):  # gaps 40, 40, 80 ms: clear of the bucket edges
        machine.handle(HeartbeatReceived("bobek", "bcast:eth0", None), now)
    text = Metrics(lambda: state_of(machine, 100.6, {}, {}, 3, 17)).render()
    assert value(text, "hbd_link_gap_seconds_count", link="bcast:eth0") == 3
    assert value(text, "hbd_link_gap_seconds_sum", link="bcast:eth0") == pytest.approx(0.16)
    assert value(text, "hbd_link_gap_seconds_bucket", link="bcast:eth0", le="0.05") == 2
    assert value(text, "hbd_link_gap_seconds_bucket", link="bcast:eth0", le="0.1") == 3
    assert value(text, "hbd_link_last_heard_seconds", link="bcast:eth0") == pytest.approx(0.34)
    assert value(text, "hbd_node_state", state=machine.state.name) == 1
    assert value(text, "hbd_supervisor_restarts_total") == 3


def test_a_reload_reports_a_changed_metrics_address_for_the_next_start():
    from dataclasses import replace

    from hbd.config.diff import diff_configs
    from hbd.config.model import AuthConfig, AuthKey, Config

    diag = Diagnostics("ha.cf")
    old = Config("/etc/ha.d", "a", parse_hacf(BASE, diag), (), AuthConfig(1, (AuthKey(1, "sha256", b"k"),)))
    new = replace(old, cluster=replace(old.cluster, metrics_listen=("127.0.0.1", 9694)))
    assert diff_configs(old, new).next_start == ("metrics_listen",)
