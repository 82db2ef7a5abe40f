from __future__ import annotations

from pathlib import Path

import pytest

from lab.checks import run_checks
from lab.history.records import History
from lab.paths import TOPOLOGY_DIR
from lab.spec.scenario import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    parse_override,
    parse_scenario,
    validate_against_topology,
    with_overrides,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "lab" / "scenarios"
ARTICLE_PLAN = [
    "boot-together",
    "failback",
    "link-cut-all",
    "link-cut-one-medium",
    "power-off-active",
    "soft-stop-active",
    "soft-stop-standby",
]

MINIMAL = {
    "name": "mini",
    "topology": "two-node",
    "daemon": {"keepalive": "50ms", "deadtime": "300ms", "auto_failback": True},
    "steps": [
        {"boot": ["bob", "bobek"]},
        {"wait_for": {"event": "group.active", "node": "bob", "within": "2s"}},
        {"probe": {"target": "vip"}},
        {"inject": {"fault": "link_cut", "link": "crossover"}},
        {"sleep": "1s"},
        {"heal": {"fault": "link_cut"}},
    ],
    "expect": [{"check": "outage", "max": "1s"}],
}


def test_errors_name_file_and_yaml_path_all_collected():
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "power-off.yaml")
    expected = (DATA / "expected-errors.txt").read_text().splitlines()
    assert info.value.errors == expected


def test_minimal_scenario_normalises_args():
    s = parse_scenario(MINIMAL, "mini.yaml")
    assert s.daemon == {"keepalive": "50ms", "deadtime": "300ms", "auto_failback": "on"}
    assert s.daemon_seconds() == {"keepalive": 0.05, "deadtime": 0.3}
    assert [st.kind for st in s.steps] == ["boot", "wait_for", "probe", "inject", "sleep", "heal"]
    assert s.steps[0].args == {"nodes": ["bob", "bobek"], "together": False}
    assert s.steps[1].args["within_s"] == 2.0 and s.steps[1].args["within"] == "2s"
    assert s.steps[2].args == {"target": "vip", "every_ms": 5}
    assert s.steps[3].args == {"fault": "link_cut", "link": "crossover"}
    assert s.steps[4].args == {"duration": "1s", "duration_s": 1.0}
    assert s.steps[3].where == "mini.yaml: steps[3]"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1", "bad.yaml:1:6: invalid YAML"),
        ("name: x\nname: y\n", "bad.yaml:2:1: invalid YAML: duplicate key 'name' (first at line 1)"),
        ("- 1\n", "bad.yaml: expected a mapping"),
        ("", "bad.yaml: expected a mapping"),
    ],
)
def test_malformed_yaml_is_a_clear_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(message)


def test_missing_required_keys():
    with pytest.raises(ScenarioError) as info:
        parse_scenario({"steps": []}, "x.yaml")
    assert info.value.errors == [
        "x.yaml: name: required",
        "x.yaml: topology: required",
        "x.yaml: steps: expected a non-empty list, got []",
    ]


def test_unknown_scenario_name_lists_known():
    with pytest.raises(ScenarioError, match=r"no such scenario .*power-off-active"):
        load_scenario("powr-off-active")


def test_overrides():
    assert parse_override("daemon.keepalive=10ms") == (["daemon", "keepalive"], "10ms")
    assert parse_override("steps[4].sleep=2s") == (["steps", 4, "sleep"], "2s")
    s = with_overrides(
        parse_scenario(MINIMAL, "mini.yaml"),
        ["daemon.keepalive=10ms", "daemon.warntime=100ms", "expect[0].max=2s"],
    )
    assert s.daemon["keepalive"] == "10ms" and s.daemon["warntime"] == "100ms"
    assert s.expect[0]["max"] == "2s"
    with pytest.raises(ScenarioError, match=r"steps has no item \[9\]"):
        with_overrides(s, ["steps[9].sleep=1s"])
    with pytest.raises(ScenarioError, match=r"daemon\.keepalive: expected a duration"):
        with_overrides(s, ["daemon.keepalive=fast"])
    with pytest.raises(ScenarioError, match="expected PATH=VALUE"):
        with_overrides(s, ["daemon.keepalive"])


def test_duplicate_check_names_need_a_name():
    raw = {**MINIMAL, "expect": [{"check": "outage"}, {"check": "outage"}]}
    with pytest.raises(ScenarioError, match="two checks are named 'outage'"):
        parse_scenario(raw, "x.yaml")
    parse_scenario({**MINIMAL, "expect": [{"check": "outage"}, {"check": "outage", "name": "o2"}]}, "x.yaml")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"fault": "power_off"}, "steps[0].inject: power_off needs node or nodes"),
        ({"fault": "link_cut", "node": "bob"}, "steps[0].inject: link_cut needs link or iface"),
        (
            {"fault": "link_cut", "link": "lan", "how": "cut"},
            "steps[0].inject.how: expected one of down, drop, pull",
        ),
        (
            {"fault": "freeze", "node": "bob", "ms": 0},
            "steps[0].inject.ms: expected a number in (0, 3600000], got 0",
        ),
        ({"fault": "loss", "link": "lan"}, "steps[0].inject.percent: required by loss"),
        (
            {"fault": "soft_stop", "node": "bob", "phase": "late"},
            "steps[0].inject.phase: expected one of random",
        ),
        (
            {"fault": "soft_stop", "node": "bob", "speed": 1},
            "steps[0].inject.speed: unknown parameter (known:",
        ),
    ],
)
def test_fault_parameter_errors(step, message):
    with pytest.raises(ScenarioError) as info:
        parse_scenario({**MINIMAL, "steps": [{"inject": step}]}, "x.yaml")
    assert info.value.errors[0].startswith("x.yaml: " + message)


def test_validate_against_topology():
    s = parse_scenario(MINIMAL, "mini.yaml")
    assert validate_against_topology(s, ["bob", "bobek", "client"], ["lan", "crossover"]) == []
    errors = validate_against_topology(s, ["bob", "client"], ["lan"])
    assert errors == [
        "mini.yaml: steps[0].boot.nodes: unknown node 'bobek' in topology 'two-node' (known: bob, client)",
        "mini.yaml: steps[3].inject.link: unknown link 'crossover' in topology 'two-node' (known: lan)",
    ]


def test_the_article_test_plan_is_shipped_and_valid():
    assert set(ARTICLE_PLAN) <= set(list_scenarios())
    for name in ARTICLE_PLAN:
        s = load_scenario(name)
        assert s.name == name
        assert s.topology == "two-node"
        assert s.daemon_seconds()["keepalive"] == 0.05
        assert s.daemon["auto_failback"] == "on"
        # Every expect item is understood by run_checks (an empty history fails them, never crashes them).
        results = run_checks(History(records=()), s.expect)
        assert all("unknown check" not in r.detail and "bad parameter" not in r.detail for r in results)
        assert not any(r.ok for r in results if r.check not in ("bad_news", "no_event"))


def test_article_scenarios_name_only_nodes_and_links_of_two_node():
    import yaml

    data = yaml.safe_load((TOPOLOGY_DIR / "two-node.yaml").read_text())
    nodes = list(data["nodes"])
    links = list(data.get("lans", {})) + list(data.get("links", {}))
    for name in ARTICLE_PLAN:
        assert (
            validate_against_topology(load_scenario(name), nodes, links, list(data.get("serial", {}))) == []
        )
