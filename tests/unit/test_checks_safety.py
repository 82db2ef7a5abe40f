"""Safety checks (lab/checks/safety.py) on synthetic histories: each verdict can fail."""

from __future__ import annotations

from typing import Any

import pytest

from lab.checks import CHECKS, run_checks
from lab.history.records import History, history_from_records
from lab.spec.scenario import parse_scenario


def one(history: History, **item: Any):
    (result,) = run_checks(history, [item])
    return result


def fence(mono: float, by: str, target: str) -> dict[str, Any]:
    return {"mono": mono, "source": "lab", "event": "fault.inject", "fault": "power_off", "node": target,
            "via": "fence_lab", "by": by}  # fmt: skip


def cut(mono: float) -> dict[str, Any]:
    return {"mono": mono, "source": "lab", "event": "fault.inject", "fault": "cut_heartbeat", "node": "bob"}


def link_down(mono: float, node: str, link: str) -> dict[str, Any]:
    return {"mono": mono, "source": "node", "node": node, "event": "link.down", "link": link}


def ack(mono: float, node: str, pid: int, seq: int) -> dict[str, Any]:
    return {"mono": mono, "source": "disk", "event": "disk.ack", "node": node, "writer_node": node,
            "pid": pid, "seq": seq}  # fmt: skip


def stored(mono: float, node: str, pid: int, seq: int) -> dict[str, Any]:
    return {"mono": mono, "source": "disk", "event": "disk.record", "node": node, "writer_node": node,
            "pid": pid, "seq": seq}  # fmt: skip


def test_registered_with_the_lab_checks():
    for name in ("fences", "links_down_only", "acked_records", "single_writer"):
        assert name in CHECKS


def test_scenarios_accept_the_safety_checks_and_refuse_bad_parameters():
    raw = {"name": "x", "topology": "two-node", "steps": [{"sleep": "1s"}],
           "expect": [{"check": "fences", "by": "bob", "count": 1}, {"check": "acked_records"}]}  # fmt: skip
    parse_scenario(raw)
    raw["expect"] = [{"check": "fences", "count": "one"}]
    with pytest.raises(Exception, match="count"):
        parse_scenario(raw)


# ------------------------------------------------------------ fences


def test_fences_counts_power_offs_by_fence_agents_only():
    h = history_from_records([
        cut(1.0), fence(1.5, "bob", "bobek"),
        {"mono": 3.0, "source": "lab", "event": "fault.inject", "fault": "power_off", "node": "bob"},
    ])  # fmt: skip
    r = one(h, check="fences", by="bob", target="bobek", count=1)
    assert r.ok, r.detail
    assert r.value == 1


def test_fences_fails_on_a_fence_loop():
    h = history_from_records([cut(1.0), fence(1.5, "bob", "bobek"), fence(4.0, "bobek", "bob")])
    r = one(h, check="fences", count=1)
    assert not r.ok
    assert "2 fence power-off(s), expected 1" in r.detail


def test_fences_fails_when_the_wrong_node_fenced_first():
    h = history_from_records([cut(1.0), fence(2.5, "bobek", "bob")])
    r = one(h, check="fences", by="bob", target="bobek")
    assert not r.ok
    assert "fenced by bobek, expected bob" in r.detail
    assert "fenced bob, expected bobek" in r.detail


def test_fences_expects_none():
    assert one(history_from_records([cut(1.0)]), check="fences", count=0).ok
    assert not one(history_from_records([cut(1.0), fence(2, "bob", "bobek")]), check="fences", count=0).ok


def test_fences_bad_count_is_a_failed_result_not_a_crash():
    r = one(history_from_records([cut(1.0)]), check="fences", count=-1)
    assert not r.ok
    assert "bad parameter" in r.detail


# ------------------------------------------------------------ links_down_only


def test_links_down_only_accepts_the_cut_media_by_name_or_kind():
    h = history_from_records([
        cut(1.0), link_down(1.3, "bob", "bcast:eth0"), link_down(1.4, "bobek", "serial:/dev/pts/3"),
    ])  # fmt: skip
    assert one(h, check="links_down_only", links="bcast:eth0 serial").ok


def test_links_down_only_fails_on_a_live_link_reported_down():
    h = history_from_records(
        [cut(1.0), link_down(1.3, "bob", "bcast:eth0"), link_down(1.4, "bob", "bcast:eth1")]
    )
    r = one(h, check="links_down_only", links="bcast:eth0")
    assert not r.ok
    assert "bcast:eth1" in r.detail


def test_links_down_only_fails_when_a_cut_link_was_never_reported():
    h = history_from_records([cut(1.0), link_down(1.3, "bob", "bcast:eth0")])
    r = one(h, check="links_down_only", links="bcast:eth0 serial")
    assert not r.ok
    assert "serial never reported down" in r.detail


def test_links_down_only_needs_links():
    r = one(history_from_records([cut(1.0)]), check="links_down_only")
    assert not r.ok
    assert "bad parameter" in r.detail


# ------------------------------------------------------------ acked_records


def clean_failover() -> list[dict[str, Any]]:
    recs = []
    for seq in range(1, 6):  # bob writes 1..5, is powered off; bobek recovers and writes 6..8
        recs += [stored(seq * 0.1, "bob", 10, seq), ack(seq * 0.1 + 0.01, "bob", 10, seq)]
    for seq in range(6, 9):
        recs += [stored(seq * 0.1 + 1, "bobek", 20, seq), ack(seq * 0.1 + 1.01, "bobek", 20, seq)]
    return recs


def test_acked_records_clean_failover():
    r = one(history_from_records(clean_failover()), check="acked_records")
    assert r.ok, r.detail
    assert r.values["acked"] == 8


def test_acked_records_unacknowledged_record_on_disk_is_fine():
    # Written and fsynced, then the power went before the ack: stored but never promised.
    r = one(history_from_records([*clean_failover(), stored(2.0, "bobek", 20, 9)]), check="acked_records")
    assert r.ok, r.detail


def test_acked_records_lost_record_fails():
    recs = [r for r in clean_failover() if not (r["event"] == "disk.record" and r["seq"] == 3)]
    r = one(history_from_records(recs), check="acked_records")
    assert not r.ok
    assert "1 acknowledged record(s) lost (bob/10#3)" in r.detail


def test_acked_records_two_writers_with_one_sequence_number_fail():
    r = one(history_from_records([*clean_failover(), stored(1.9, "bob", 11, 8)]), check="acked_records")
    assert not r.ok
    assert "written by two writers" in r.detail


def test_acked_records_duplicate_and_torn_lines_fail():
    torn = {"mono": 1.0, "source": "disk", "event": "disk.torn", "line": 4, "text": '{"seq": 4, "wri'}
    r = one(
        history_from_records([*clean_failover(), stored(0.45, "bob", 10, 4), torn]), check="acked_records"
    )
    assert not r.ok
    assert "stored twice" in r.detail and "torn" in r.detail


def test_acked_records_without_acks_fails():
    assert not one(history_from_records([cut(1.0)]), check="acked_records").ok


def test_acked_records_expect_violation_turns_the_verdict_around():
    assert not one(history_from_records(clean_failover()), check="acked_records", expect_violation=True).ok
    recs = [r for r in clean_failover() if not (r["event"] == "disk.record" and r["seq"] == 3)]
    assert one(history_from_records(recs), check="acked_records", expect_violation=True).ok


# ------------------------------------------------------------ single_writer


def test_single_writer_sessions_in_turn():
    r = one(history_from_records(clean_failover()), check="single_writer")
    assert r.ok, r.detail
    assert r.values["sessions"] == 2


def test_single_writer_overlap_fails_with_its_length():
    recs = [*clean_failover(), ack(0.2, "bobek", 30, 3), ack(0.4, "bobek", 30, 4)]
    r = one(history_from_records(recs), check="single_writer")
    assert not r.ok
    assert r.value == pytest.approx(0.2)
    assert "bob+bobek" in r.detail


def test_single_writer_same_node_restart_is_not_two_writers():
    recs = [*clean_failover(), ack(0.15, "bob", 11, 99)]  # same node, another pid: a restart, not a peer
    assert one(history_from_records(recs), check="single_writer").ok


def test_single_writer_expect_violation():
    assert not one(history_from_records(clean_failover()), check="single_writer", expect_violation=True).ok
