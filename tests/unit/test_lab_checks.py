from __future__ import annotations

import pytest

from lab.checks import CheckResult, run_checks
from tests.unit.lab_history_builder import HistoryBuilder, power_off_history


def one(history, **item):
    (result,) = run_checks(history, [item])
    return result


# ------------------------------------------------------------ takeover_latency


def test_takeover_latency_measures_fault_to_first_survivor_answer():
    r = one(power_off_history().build(), check="takeover_latency", max="1s")
    assert r.ok
    assert r.value == pytest.approx(0.35)
    assert r.unit == "s"
    assert "bobek" in r.detail


def test_takeover_latency_fails_over_max():
    r = one(power_off_history().build(), check="takeover_latency", max="200ms")
    assert not r.ok
    assert r.value == pytest.approx(0.35)
    assert "> max" in r.detail


def test_takeover_latency_ignores_answers_from_the_victim():
    # bob (the victim) keeps answering after a soft stop until it releases: not a takeover.
    b = HistoryBuilder().takeover(1.0, "bob").fault(3.0, "soft_stop", node="bob")
    b.probes(2.0, 3.1, "bob").probes(3.1, 3.2, None).probes(3.2, 4.0, "bobek").takeover(3.15, "bobek")
    r = one(b.build(), check="takeover_latency")
    assert r.value == pytest.approx(0.2)


def test_takeover_latency_fails_without_fault_or_answer():
    no_fault = HistoryBuilder().probes(0, 1, "bob").build()
    assert "no fault.inject" in one(no_fault, check="takeover_latency").detail
    never = (
        HistoryBuilder().fault(1.0, "power_off", node="bob").probes(0, 1, "bob").probes(1, 2, None).build()
    )
    r = one(never, check="takeover_latency")
    assert not r.ok and r.value is None and "no probe answered" in r.detail


def test_takeover_latency_selects_named_fault_and_node():
    # failback: soft stop of bob, then power_on of bob; measure the return to bob.
    b = HistoryBuilder().probes(0, 1, "bob").fault(1.0, "soft_stop", node="bob").probes(1, 2, "bobek")
    b.fault(2.0, "power_on", node="bob").probes(2.0, 2.5, "bobek").probes(2.5, 3.0, "bob")
    r = one(b.build(), check="takeover_latency", fault="power_on", by="bob", name="failback_latency")
    assert r.name == "failback_latency" and r.ok
    assert r.value == pytest.approx(0.5)


# ------------------------------------------------------------ outage


def test_outage_is_the_largest_gap_between_answers():
    r = one(power_off_history().build(), check="outage", max="1s")
    assert r.ok
    assert r.value == pytest.approx(0.355)  # last bob answer 2.995 -> first bobek answer 3.35
    assert r.values["failed_probes"] == 70


def test_outage_fails_over_max_and_when_never_recovered():
    assert not one(power_off_history().build(), check="outage", max="100ms").ok
    b = HistoryBuilder().probes(0, 1, "bob").probes(1, 2, None).build()
    r = one(b, check="outage")
    assert not r.ok and "never recovered" in r.detail


def test_outage_without_probes_fails():
    r = one(HistoryBuilder().fault(0, "power_off", node="bob").build(), check="outage")
    assert not r.ok and "no probe" in r.detail


# ------------------------------------------------------------ single_owner


def test_single_owner_trusts_power_off_over_stale_samples():
    # Samples still list bob after its power-off (the dead namespace keeps the address): not a dual owner.
    r = one(power_off_history().build(), check="single_owner")
    assert r.ok, r.detail
    assert r.value == 0


def test_single_owner_fails_on_overlap_from_events():
    b = HistoryBuilder().takeover(1.0, "bob").takeover(2.0, "bobek").release(2.5, "bob")
    b.probes(0, 3, "bob")
    r = one(b.build(), check="single_owner")
    assert not r.ok
    assert r.value == pytest.approx(0.5, abs=0.01)
    assert "bob+bobek" in r.detail


def test_single_owner_fails_on_overlap_only_samples_see():
    # A daemon killed without a power-off: no ip.removed, the address stays; samples show both.
    b = HistoryBuilder().owners(0, 1, ["bob"]).owners(1, 2, ["bob", "bobek"]).owners(2, 3, ["bobek"])
    r = one(b.build(), check="single_owner")
    assert not r.ok
    assert r.value == pytest.approx(1.0, abs=0.011)


def test_single_owner_ignores_a_sample_straddling_a_handover():
    # Graceful handover: bob removes at 2.000, bobek adds at 2.003; the sample at 2.0035 read bob early.
    b = HistoryBuilder().takeover(1.0, "bob").release(1.999, "bob").takeover(2.002, "bobek")
    b.records.append({"mono": 2.0035, "source": "owner", "event": "vip.owners", "owners": ["bob", "bobek"]})
    b.owners(2.01, 3.0, ["bobek"])
    assert one(b.build(), check="single_owner").ok


def test_single_owner_without_any_evidence_fails():
    r = one(HistoryBuilder().probes(0, 1, "bob").build(), check="single_owner")
    assert not r.ok and "no VIP ownership evidence" in r.detail


def test_split_brain_expected_reports_window_and_heal():
    b = HistoryBuilder().takeover(1.0, "bob").fault(2.0, "cut_heartbeat")
    b.takeover(2.3, "bobek").fault(4.0, "cut_heartbeat")  # (the heal is a lab record, not used here)
    b.release(4.5, "bobek").probes(0, 5, "bob")
    r = one(b.build(), check="single_owner", expect_split_brain=True, max="5s")
    assert r.ok, r.detail
    assert r.value == pytest.approx(2.2, abs=0.01)
    assert r.values["healed"] == 1 and r.values["windows"] == 1
    assert "bob holds the VIP" in r.detail


def test_split_brain_expected_but_not_healed_fails():
    b = HistoryBuilder().takeover(1.0, "bob").fault(2.0, "cut_heartbeat").takeover(2.3, "bobek")
    b.probes(0, 5, "bob")
    r = one(b.build(), check="single_owner", expect_split_brain=True)
    assert not r.ok and "not healed" in r.detail


def test_split_brain_expected_but_never_seen_fails():
    b = HistoryBuilder().takeover(1.0, "bob").fault(2.0, "cut_heartbeat").probes(0, 5, "bob")
    r = one(b.build(), check="single_owner", expect_split_brain=True)
    assert not r.ok and "never observed" in r.detail


# ------------------------------------------------------------ failback


def failback_history() -> HistoryBuilder:
    b = HistoryBuilder().takeover(1.0, "bob").fault(2.0, "soft_stop", node="bob").release(2.0, "bob")
    return (
        b.takeover(2.01, "bobek")
        .fault(3.0, "power_on", node="bob")
        .release(4.0, "bobek")
        .takeover(4.01, "bob")
    )


def test_failback_counts_transitions():
    r = one(failback_history().build(), check="failback", count=2)
    assert r.ok and r.value == 2
    assert "bob -> bobek -> bob" in r.detail


def test_failback_wrong_count_fails():
    assert not one(failback_history().build(), check="failback", count=1).ok


def test_failback_without_group_events_fails():
    assert not one(HistoryBuilder().probes(0, 1, "bob").build(), check="failback", count=0).ok


# ------------------------------------------------------------ bad_news


def test_bad_news_fails_on_error_events():
    b = power_off_history().node(
        3.4, "bobek", "group.failed", level="ERROR", group="g", resource="x", op="start", detail="exit 1"
    )
    r = one(b.build(), check="bad_news")
    assert not r.ok and r.value == 1
    assert "group.failed" in r.detail and "exit 1" in r.detail


def test_bad_news_allow_list_needs_matching_event():
    b = power_off_history().node(3.4, "bobek", "fence.failed", level="CRITICAL", peer="bob")
    allowed = one(b.build(), check="bad_news", allow=[{"event": "fence.*", "reason": "no fence device here"}])
    assert allowed.ok and allowed.values["allowed"] == 1
    other = one(b.build(), check="bad_news", allow=[{"event": "peer.dead", "reason": "expected"}])
    assert not other.ok


def test_bad_news_allow_entry_without_reason_is_a_failure():
    r = one(power_off_history().build(), check="bad_news", allow=[{"event": "peer.dead"}])
    assert not r.ok and "reason" in r.detail


def test_bad_news_counts_history_problems():
    h = power_off_history().build(problems=("nodes/bob/events.jsonl:3: not JSON",))
    r = one(h, check="bad_news")
    assert not r.ok and "not JSON" in r.detail


def test_bad_news_clean_run_passes():
    assert one(power_off_history().build(), check="bad_news").ok


# ------------------------------------------------------------ no_failover


def test_no_failover_passes_when_nothing_moves():
    b = HistoryBuilder().takeover(1.0, "bob").probes(2, 4, "bob").fault(3.0, "link_cut", link="crossover")
    b.node(3.3, "bob", "link.down", level="WARN", peer="bobek", link="bcast:eth1")
    r = one(b.build(), check="no_failover")
    assert r.ok, r.detail


def test_no_failover_fails_when_a_group_moves():
    b = HistoryBuilder().takeover(1.0, "bob").probes(2, 3.5, "bob").fault(3.0, "link_cut", link="crossover")
    b.takeover(3.3, "bobek").probes(3.5, 4, "bobek")
    r = one(b.build(), check="no_failover")
    assert not r.ok and "group.acquire.start" in r.detail and "bob, bobek" in r.detail


# ------------------------------------------------------------ link_down_named


def test_link_down_named_matches_medium_component_and_recorded_iface():
    b = HistoryBuilder().fault(3.0, "link_cut", link="crossover", ifaces={"bob": "hb0", "bobek": "hb0"})
    b.node(3.3, "bob", "link.down", level="WARN", peer="bobek", link="bcast:hb0")
    h = b.build()
    r = one(h, check="link_down_named", link="crossover", within="1s")
    assert r.ok and r.value == pytest.approx(0.3)
    assert one(h, check="link_down_named", link="hb0").ok


def test_link_down_named_fails_on_other_link_and_late_report():
    b = HistoryBuilder().fault(3.0, "link_cut", link="crossover")
    b.node(3.3, "bob", "link.down", level="WARN", peer="bobek", link="bcast:eth0")
    r = one(b.build(), check="link_down_named", link="crossover")
    assert not r.ok and "bcast:eth0" in r.detail
    assert not one(b.build(), check="link_down_named", link="eth0", within="100ms").ok


# ------------------------------------------------------------ breakdown


def test_breakdown_lists_each_phase_from_the_fault():
    r = one(power_off_history().build(), check="breakdown")
    assert r.ok
    v = r.values
    assert v["detected_s"] == pytest.approx(0.3)
    assert v["acquire_s"] == pytest.approx(0.301)
    assert v["active_s"] == pytest.approx(0.303)
    assert v["garp_s"] == pytest.approx(0.304)
    assert v["answered_s"] == pytest.approx(0.35)
    assert "detected +300.0ms" in r.detail


def test_breakdown_reports_missing_phases_and_fails_without_answer():
    b = HistoryBuilder().probes(0, 1, "bob").fault(1.0, "power_off", node="bob").probes(1, 2, None)
    r = one(b.build(), check="breakdown")
    assert not r.ok and r.values["detected_s"] is None and "never answered" in r.detail


# ------------------------------------------------------------ run_checks


def test_run_checks_never_raises_on_bad_items():
    h = power_off_history().build()
    results = run_checks(h, [{"check": "nope"}, {"check": "outage", "max": "soon"}, "junk"])  # type: ignore[list-item]
    assert [r.ok for r in results] == [False, False, False]
    assert "unknown check" in results[0].detail
    assert "bad parameter max" in results[1].detail


def test_check_result_round_trips_through_dict():
    r = one(power_off_history().build(), check="breakdown")
    again = CheckResult.from_dict(r.to_dict())
    assert again == r


def test_power_off_of_a_node_list_and_its_heal():
    # power_off {nodes: [bob]} silences bob's stale samples until the heal boots it again; after that a
    # sample showing both is a real dual owner.
    b = HistoryBuilder().takeover(1.0, "bob").probes(1, 2, "bob")
    b.fault(2.0, "power_off", nodes=["bob"]).takeover(2.3, "bobek").probes(2.4, 3, "bobek")
    b.owners(2.0, 3.0, ["bob", "bobek"])
    assert one(b.build(), check="single_owner").ok
    b.records.append(
        {"mono": 3.0, "source": "lab", "event": "fault.heal", "fault": "power_off", "nodes": ["bob"]}
    )
    b.owners(3.01, 3.5, ["bob", "bobek"])
    r = one(b.build(), check="single_owner")
    assert not r.ok and r.value == pytest.approx(0.49, abs=0.011)


def test_a_link_faults_node_is_not_a_victim():
    # link_cut {node: bob} names the cable's end; the survivor is whoever did not answer before (bob).
    b = HistoryBuilder().probes(0, 1, "bob").fault(1.0, "link_cut", link="lan", node="bob", how="pull")
    b.probes(1.0, 1.2, "bob").probes(1.2, 2, "bobek")
    r = one(b.build(), check="takeover_latency")
    assert r.value == pytest.approx(0.2)


# ------------------------------------------------------------ declarations


def test_every_declared_check_has_one_checker_and_back():
    from lab.checks import CHECKS
    from lab.spec.check_params import CHECK_PARAMS

    assert list(CHECKS) == list(CHECK_PARAMS)


def test_checkers_receive_typed_parameters_from_the_declaration():
    from lab.checks import check_params
    from lab.spec.check_params import AllowEntry, BadNews, TakeoverLatency

    assert check_params({"check": "takeover_latency", "max": "250ms", "nth": 2, "name": "x"}) == (
        TakeoverLatency(max=0.25, nth=2)
    )
    assert check_params({"check": "bad_news", "allow": [{"event": "peer.*", "reason": "cut"}]}) == BadNews(
        allow=(AllowEntry(event="peer.*", reason="cut"),)
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"check": "takeover_latency", "nth": 0}, "bad parameter nth: expected an integer >= 1, got 0"),
        ({"check": "no_event"}, "bad parameter event: required by no_event: the event name"),
        ({"check": "outage", "maxx": "1s"}, "bad parameter maxx: unknown parameter (known: check, name"),
        (
            {"check": "bad_news", "allow": [{"event": "x", "reason": " "}]},
            "bad parameter allow[0].reason: expected a non-empty string",
        ),
        ({"check": "fences", "count": True}, "bad parameter count: expected a non-negative integer"),
    ],
)
def test_bad_parameters_fail_the_check_with_the_yaml_path(item, message):
    r = one(power_off_history().build(), **item)
    assert not r.ok and r.detail.startswith(message)


def test_check_modules_import_only_the_layers_below():
    """result <- timeline <- latency, ownership, events, safety, metrics <- the registry: no circle, no late
    import."""
    import ast
    from pathlib import Path

    import lab.checks

    below = {
        "result": set(),
        "timeline": set(),
        "latency": {"result", "timeline"},
        "ownership": {"result", "timeline"},
        "events": {"result", "timeline"},
        "safety": {"result", "timeline"},
        "metrics": {"result", "timeline"},
        "rows": {"result", "timeline"},
        "mail": {"result"},
    }
    folder = Path(lab.checks.__file__).parent
    assert {p.stem for p in folder.glob("*.py")} - {"__init__"} == set(below)
    for module, allowed in below.items():
        tree = ast.parse((folder / f"{module}.py").read_text())
        imported = {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        inside = {name.removeprefix("lab.checks.") for name in imported if name.startswith("lab.checks")}
        assert inside <= allowed, f"lab/checks/{module}.py imports {inside - allowed}"
        assert "lab.checks" not in imported


def _vip_samples(b: HistoryBuilder, start: float, stop: float, vip: str, owners: list[str]) -> None:
    for i in range(round((stop - start) / 0.1)):
        b.records.append(
            {"mono": start + i * 0.1, "source": "owner", "event": "vip.owners", "vip": vip, "owners": owners}
        )


def test_single_owner_judges_each_vip_of_an_active_active_pair_on_its_own():
    # bob holds the mail VIP, bobek the web VIP: two owners of two addresses, never two of one.
    b = HistoryBuilder().node(1.0, "bob", "ip.added", ip="192.168.77.51/24", iface="eth0")
    b.node(1.0, "bobek", "ip.added", ip="192.168.77.52/24", iface="eth0")
    _vip_samples(b, 1.05, 3.0, "192.168.77.51", ["bob"])
    _vip_samples(b, 1.1, 3.0, "192.168.77.52", ["bobek"])
    r = one(b.build(), check="single_owner")
    assert r.ok and r.value == 0, r.detail
    # ... and a real dual ownership of one of them is still caught, and named by its VIP.
    _vip_samples(b, 3.0, 4.0, "192.168.77.52", ["bob", "bobek"])
    r = one(b.build(), check="single_owner")
    assert not r.ok and r.detail.startswith("192.168.77.51: never two owners; 192.168.77.52: two owners")
