"""The soak's split of the client's outage: real takeovers, false failovers, other gaps (soak_metrics)."""

from __future__ import annotations

from typing import Any

import pytest

from lab.bench.soak_metrics import classify_gaps, soak_metrics
from lab.bench.soak_report import combine, soak_markdown, verdict
from lab.history.records import History, history_from_records

STEP = 0.005  # the prober's rhythm


def timeline(
    until: float,
    owners: list[tuple[float, list[str]]],
    offs: list[tuple[float, str]],
    silent: list[tuple[float, float]],
) -> History:
    """Probes every 5 ms answered by the owner at the time, except inside `silent` spans; owner samples
    at each change (and every 0.5 s); power-off records, each node booted again a second later."""
    recs: list[dict[str, Any]] = []

    def owner_at(t: float) -> list[str]:
        now: list[str] = []
        for at, who in owners:
            if at <= t:
                now = who
        return now

    t = 0.0
    while t <= until:
        who = owner_at(t)
        ok = bool(who) and not any(a < t < b for a, b in silent)
        recs.append(
            {"mono": t, "source": "probe", "event": "probe", "ok": ok, "answer": who[0] if ok else None}
        )
        t = round(t + STEP, 6)
    samples = sorted({*(at for at, _ in owners), *(x * 0.5 for x in range(int(until / 0.5) + 1))})
    for at in samples:
        recs.append(
            {"mono": at, "source": "owner", "event": "vip.owners", "vip": "10.0.0.1", "owners": owner_at(at)}
        )
    for at, node in offs:
        for event, when in (("fault.inject", at), ("fault.heal", at + 1.0)):
            recs.append({"mono": when, "source": "lab", "event": event, "fault": "power_off", "node": node})
    return history_from_records(recs)


def test_power_offs_are_real_takeovers_and_roles_alternate() -> None:
    # bob holds; off at 2.0, bobek takes it at 2.05 (client silent 2.0-2.06); off bobek at 6.0, bob at 6.1
    owners = [(0.0, ["bob"]), (2.0, []), (2.05, ["bobek"]), (6.0, []), (6.1, ["bob"])]
    h = timeline(10.0, owners, [(2.0, "bob"), (6.0, "bobek")], [(1.999, 2.06), (5.999, 6.11)])
    m = soak_metrics(h, 0.5, 10.0)
    assert (m["power_offs"], m["takeovers"], m["missed_takeovers"], m["false_failovers"]) == (2, 2, 0, 0)
    assert m["real_outage_s"] == pytest.approx(0.06 + 0.11, abs=0.011)
    assert m["false_outage_s"] == 0 and m["outage_s"] == m["real_outage_s"]
    assert m["longest_gap_s"] == pytest.approx(0.11, abs=0.006)
    assert m["outage_per_hour_s"] == pytest.approx(m["outage_s"] * 3600 / 9.5, rel=1e-9)


def test_answers_in_flight_at_the_power_off_do_not_hide_the_takeover_gap() -> None:
    # bob's last answers arrive up to 10 ms after its power-off at 2.0; bobek answers from 2.07
    owners = [(0.0, ["bob"]), (2.011, []), (2.07, ["bobek"])]
    m = soak_metrics(timeline(4.0, owners, [(2.0, "bob")], []), 0.5, 4.0)
    assert m["takeover_gaps_s"] == [pytest.approx(0.06, abs=0.006)]
    assert m["real_outage_s"] == pytest.approx(0.06, abs=0.006) and m["other_gaps"] == 0


def test_a_vip_move_without_power_off_is_a_false_failover_with_its_gaps() -> None:
    # bob stalls 3.0-3.1: bobek takes the VIP at 3.05, split brain settles back to bob at 3.3
    owners = [(0.0, ["bob"]), (3.05, ["bob", "bobek"]), (3.3, ["bob"])]
    h = timeline(10.0, owners, [], [(3.0, 3.1), (3.29, 3.35)])
    m = soak_metrics(h, 0.5, 10.0)
    assert (m["takeovers"], m["false_failovers"]) == (0, 1)
    assert m["false_outage_s"] == pytest.approx(0.1 + 0.06, abs=0.011)
    assert m["real_outage_s"] == 0 and m["other_gaps"] == 0


def test_the_prober_noise_while_a_false_holder_serves_is_not_false_outage() -> None:
    # bobek takes the VIP at 3.05 without a power-off and keeps it; a 20 ms hiccup at 6.0 is noise
    owners = [(0.0, ["bob"]), (3.05, ["bobek"])]
    m = soak_metrics(timeline(10.0, owners, [], [(3.0, 3.06), (6.0, 6.02)]), 0.5, 10.0)
    assert m["false_failovers"] == 1 and m["false_gaps_s"] == [pytest.approx(0.065, abs=0.006)]


def test_a_long_gap_with_no_vip_move_is_other_and_not_counted() -> None:
    h = timeline(10.0, [(0.0, ["bob"])], [], [(5.0, 5.12), (7.0, 7.02)])  # 120 ms counted, 20 ms is noise
    m = soak_metrics(h, 0.5, 10.0)
    assert m["other_gaps"] == 1 and m["other_outage_s"] == pytest.approx(0.12, abs=0.006)
    assert m["outage_s"] == 0 and m["false_failovers"] == 0


def test_a_power_off_nobody_takes_over_is_missed_and_the_outage_runs_to_the_end() -> None:
    h = timeline(4.0, [(0.0, ["bob"]), (2.0, [])], [(2.0, "bob")], [(1.999, 4.1)])
    m = soak_metrics(h, 0.5, 4.0)
    assert (m["takeovers"], m["missed_takeovers"]) == (0, 1)
    assert m["real_outage_s"] == pytest.approx(2.0, abs=0.006)


def test_report_names_the_goal_verdict() -> None:
    rows = [
        {"label": "hbd 20/150ms", "kind": "hbd", "outage_per_hour_s": 4.0},
        {"label": "hbd 10/40ms stall_aware off", "kind": "hbd", "outage_per_hour_s": 1.0},  # no setting
        {"label": "keepalived v3 20ms", "kind": "keepalived", "outage_per_hour_s": 10.0},
        {"label": "keepalived v3 100ms", "kind": "keepalived", "error": "x"},
    ]
    v = verdict(rows)
    assert v["met"] is True and v["hbd_best"] == "hbd 20/150ms" and v["ratio"] == pytest.approx(0.4)
    assert verdict([rows[0], {**rows[2], "outage_per_hour_s": 6.0}])["met"] is False
    meta = {"minutes": 1, "period_s": 60, "reboot_s": 10, "mode": "parallel", "argv": ["hblab", "soak"]}
    assert "FAILED" in soak_markdown([rows[3]], meta)


def test_combined_windows_sum_outage_over_the_summed_time() -> None:
    def row(outage: float, false: int, longest: float) -> dict[str, Any]:
        times = {"window_s": 600.0, "real_outage_s": outage, "false_outage_s": 0.0, "outage_s": outage}
        counts = {"power_offs": 10, "takeovers": 10, "missed_takeovers": 0, "false_failovers": false}
        rest = {"other_gaps": 0, "other_outage_s": 0.0, "dual_owner_s": 0.0, "stalls": 1}
        gaps = {"takeover_gaps_s": [outage], "false_gaps_s": [], "longest_gap_s": longest}
        return {"label": "hbd 10/40ms", "kind": "hbd", **times, **counts, **rest, **gaps, "run_dir": "r"}

    [both] = combine([[row(0.4, 1, 0.05)], [row(0.6, 0, 0.07)]])
    assert both["window_s"] == 1200 and both["false_failovers"] == 1 and both["longest_gap_s"] == 0.07
    assert both["outage_per_hour_s"] == pytest.approx(1.0 * 3)
    assert len(both["takeover_gaps_s"]) == 2 and both["run_dirs"] == ["r", "r"]
    [failed] = combine([[row(0.4, 0, 0.05)], [{"label": "hbd 10/40ms", "kind": "hbd", "error": "boom"}]])
    assert failed["error"] == "boom"


def test_a_false_move_seen_late_by_the_sampler_takes_the_largest_gap_near_it_and_only_one() -> None:
    # Client gap 0.90-1.00 (the move), prober hiccups after; the owner sampler saw the move at 1.06.
    gaps = [(0.895, 0.9), (0.9, 1.0), (1.0, 1.005), (1.005, 1.02), (1.02, 1.025), (1.1, 1.115), (1.115, 1.12)]
    found = classify_gaps(gaps, [], [[1.06, 1.065]])
    assert [(g.start, g.end, g.cause) for g in found] == [(0.9, 1.0, "false")]
