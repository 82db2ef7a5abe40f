"""lab.checks.metrics_agree on hand-made histories: scrapes against the node's events.jsonl."""

from __future__ import annotations

from typing import Any

from lab.checks import check_params, run_checks
from lab.checks.metrics import metrics_agree
from lab.history.records import history_from_records


def node(mono: float, event: str, level: str = "INFO", **fields: Any) -> dict[str, Any]:
    return {"mono": mono, "source": "node", "node": "bob", "event": event, "level": level, **fields}


def scrape(sent: float, mono: float, samples: list[list[Any]], ok: bool = True) -> dict[str, Any]:
    return {"mono": mono, "sent_mono": sent, "source": "metrics", "event": "metrics.scrape", "node": "bob",
            "ok": ok, "samples": samples}  # fmt: skip


EVENTS = [
    node(0.5, "daemon.restarted", "CRITICAL", restarts=1),  # the supervisor's: not the worker's counter
    node(1.0, "daemon.start", generation=7),
    node(2.0, "peer.dead", "WARN", peer="bobek"),
    node(3.0, "group.acquire.start", group="g", cause="peer dead"),
    node(3.5, "packet.rejected", "WARN", reason="bad_signature", count=4),
    node(4.0, "group.active", group="g", cause="peer dead"),
]


def samples(**over: float) -> list[list[Any]]:
    values = {
        ("hbd_events_total", "daemon.start", "INFO"): 1,
        ("hbd_events_total", "peer.dead", "WARN"): 1,
        ("hbd_events_total", "group.acquire.start", "INFO"): 1,
        ("hbd_events_total", "packet.rejected", "WARN"): 1,
    }
    out: list[list[Any]] = [
        [name, {"event": event, "level": level}, v] for (name, event, level), v in values.items()
    ]
    out += [
        ["hbd_failovers_total", {"group": "g", "cause": "peer dead"}, over.get("failovers", 1)],
        ["hbd_packets_rejected_total", {"reason": "bad_signature"}, over.get("rejected", 5)],
        ["hbd_supervisor_restarts_total", {}, over.get("restarts", 1)],
        ["hbd_generation", {}, over.get("generation", 7)],
    ]
    return out


def check(*scrapes: dict[str, Any], min_scrapes: int = 1):
    history = history_from_records([*EVENTS, *scrapes])
    return metrics_agree(history, check_params({"check": "metrics_agree", "min_scrapes": min_scrapes}))


def test_a_scrape_that_matches_the_events_written_before_it_agrees():
    result = check(scrape(3.7, 3.8, samples()))
    assert result.ok, result.detail
    assert result.values == {"scrapes": 1, "nodes": 1}


def test_an_event_written_while_the_scrape_was_in_flight_may_or_may_not_be_counted():
    with_active = [*samples(), ["hbd_events_total", {"event": "group.active", "level": "INFO"}, 1]]
    assert check(scrape(3.9, 4.1, samples())).ok
    assert check(scrape(3.9, 4.1, with_active)).ok
    assert not check(scrape(3.7, 3.8, with_active)).ok  # counted before it happened


def test_a_missing_or_extra_count_fails_and_names_the_counter():
    result = check(scrape(3.7, 3.8, samples(failovers=0)))
    assert not result.ok
    assert "hbd_failovers_total{cause=peer dead,group=g} = 0, events.jsonl has 1" in result.detail
    result = check(scrape(3.7, 3.8, samples()[1:]))  # daemon.start not counted
    assert "hbd_events_total{event=daemon.start,level=INFO} = 0, events.jsonl has 1" in result.detail


def test_the_generation_picks_the_worker_and_restarts_come_from_the_supervisors_records():
    result = check(scrape(3.7, 3.8, samples(generation=8)))
    assert "no daemon.start with the scraped generation 8" in result.detail
    result = check(scrape(3.7, 3.8, samples(restarts=0)))
    assert "hbd_supervisor_restarts_total 0, daemon.restarted says 1" in result.detail


def test_rejections_may_exceed_the_rate_limited_log_but_never_fall_below_it():
    assert check(scrape(3.7, 3.8, samples(rejected=40))).ok
    assert "hbd_packets_rejected_total{reason=bad_signature} = 3 < count 4" in check(
        scrape(3.7, 3.8, samples(rejected=3))
    ).detail


def test_too_few_successful_scrapes_fail_with_the_last_error():
    failed = {**scrape(0.9, 1.0, []), "ok": False, "error": "ConnectionRefusedError"}
    result = check(failed, scrape(3.7, 3.8, samples()), min_scrapes=2)
    assert not result.ok
    assert "bob: 1 successful scrapes of 2, need 2" in result.detail


def test_the_check_is_registered():
    history = history_from_records([*EVENTS, scrape(3.7, 3.8, samples())])
    [result] = run_checks(history, [{"check": "metrics_agree", "min_scrapes": 1}])
    assert result.ok, result.detail
