"""Fault parameters are declared once (lab/spec/fault_params.py) and implemented once (lab/faults/)."""

from __future__ import annotations

import pytest

from lab.spec.fault_params import FAULTS, HEALABLE, LinkCut, Loss, PowerOff
from lab.spec.params import names_in, parse_params
from lab.spec.scenario import ScenarioError, parse_scenario, validate_against_topology


def test_every_declared_fault_has_exactly_one_implementation_and_back():
    import importlib
    import pkgutil

    from lab import faults

    # Every module of lab/faults that implements faults lists them in FAULTS; the registry must hold them all.
    implemented = [
        f
        for m in pkgutil.iter_modules(faults.__path__)
        for f in getattr(importlib.import_module(f"lab.faults.{m.name}"), "FAULTS", ())
    ]
    declared = {name: d for name, d in FAULTS.items() if d.heals is None}
    assert sorted(f.params.__name__ for f in implemented) == sorted(
        d.params.__name__ for d in declared.values()
    )
    assert set(faults.FAULTS) == set(declared)
    for name, impl in faults.FAULTS.items():
        assert impl.name == name and impl.params is FAULTS[name].params
    # An alias heals a fault that exists and can be healed, with that fault's parameters.
    for decl in FAULTS.values():
        if decl.heals is not None:
            assert decl.heals in HEALABLE and FAULTS[decl.heals].params is decl.params


def test_the_registry_refuses_a_declaration_without_implementation():
    from lab import faults

    with pytest.raises(ImportError, match=r"declared in lab/spec/fault_params\.py but not implemented"):
        faults._registry([f for f in faults.FAULTS.values() if f.name != "loss"])


def test_a_typed_object_with_defaults_and_seconds():
    typed, problems = parse_params(
        LinkCut, {"fault": "link_cut", "link": "lan"}, owner="link_cut", ignore=("fault",)
    )
    assert problems == [] and typed == LinkCut(link="lan", how="down", direction="both", phase="random")
    typed, _ = parse_params(PowerOff, {"nodes": ["bob", "bobek"]}, owner="power_off")
    assert typed == PowerOff(nodes=("bob", "bobek"))


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"fault": "link_cut", "link": "lan", "how": "down", "direction": "in"},
            "direction: direction in needs how: drop",
        ),
        ({"fault": "link_cut", "iface": "eth0"}, "iface: needs `node`"),
        ({"fault": "power_off", "nodes": ["bob", "bob"]}, "nodes: a node is listed twice"),
        (
            {"fault": "loss", "link": "lan", "percent": 12.5},
            "percent: expected an integer in [1, 100], got 12.5",
        ),
        ({"fault": "delay", "link": "lan", "ms": "20ms"}, "ms: expected a number in [1, 60000], got '20ms'"),
    ],
)
def test_rules_across_fields_and_types(step, message):
    with pytest.raises(ScenarioError) as info:
        parse_scenario({"name": "x", "topology": "t", "steps": [{"inject": step}]}, "x.yaml")
    assert info.value.errors[0].startswith(f"x.yaml: steps[0].inject.{message}")


def test_a_heal_names_only_what_it_matches_on_but_checks_those():
    parse_scenario({"name": "x", "topology": "t", "steps": [{"heal": {"fault": "loss"}}]}, "x.yaml")
    with pytest.raises(ScenarioError, match=r"steps\[0\].heal.how: expected one of down, drop, pull"):
        parse_scenario({"name": "x", "topology": "t", "steps": [{"heal": {"fault": "link_cut", "how": 1}}]})


def test_topology_names_come_from_the_declarations():
    assert names_in(Loss) == {"link": "link", "node": "node"}
    assert names_in(FAULTS["serial_cut"].params) == {"link": "serial", "line": "serial"}
    s = parse_scenario(
        {
            "name": "x",
            "topology": "two-node",
            "steps": [
                {"inject": {"fault": "serial_cut", "line": "modem"}},
                {"inject": {"fault": "power_on", "nodes": ["bob", "bobik"]}},
                {"inject": {"fault": "loss", "link": "lan", "node": "bob", "percent": 5}},
            ],
        },
        "x.yaml",
    )
    assert validate_against_topology(s, ["bob", "bobek"], ["lan"], ["nullmodem"]) == [
        "x.yaml: steps[0].inject.line: unknown serial line 'modem' in topology 'two-node' (known: nullmodem)",
        "x.yaml: steps[1].inject.nodes: unknown node 'bobik' in topology 'two-node' (known: bob, bobek)",
    ]
