"""Every scenario a user finds in lab/scenarios/ is self-sufficient: it loads, names only nodes and links
of its own topology, runs on both backends, and some lab test runs it for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.paths import BENCH_SCENARIO_DIR, SCENARIO_DIR
from lab.spec.fault_params import FAULTS
from lab.spec.scenario import (
    PACEMAKER_NEEDS_DOCKER,
    load_scenario,
    validate_against_topology,
    validate_for_backend,
)
from lab.spec.topology import load_topology
from tests.docker.test_mail import MAIL
from tests.docker.test_mail_web_pair import MAIL_WEB_PAIR
from tests.docker.test_pacemaker import PACEMAKER
from tests.docker.test_webdb import WEBDB
from tests.lab.test_article_scenarios import ARTICLE
from tests.lab.test_delay import DELAY
from tests.lab.test_hardening_scenarios import HARDENING
from tests.lab.test_metrics_scenario import OPERATIONS
from tests.lab.test_monitor_scenarios import MONITOR
from tests.lab.test_reload_scenario import RELOAD
from tests.lab.test_safety import LINK_CUTS, SAFETY_SCENARIOS

SHIPPED = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
# Scenarios that run only on Docker, each with the reason validate_for_backend gives elsewhere; every other
# shipped scenario runs on both backends. Topologies with `image:` (real services) say so themselves.
DOCKER_ONLY = dict.fromkeys(PACEMAKER, PACEMAKER_NEEDS_DOCKER)
IMAGE_NEEDS_DOCKER = "which needs the docker backend"


def test_there_are_shipped_scenarios() -> None:
    assert len(SHIPPED) >= 10


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_and_fits_its_topology(name: str) -> None:
    scenario = load_scenario(SCENARIO_DIR / f"{name}.yaml")
    assert scenario.name == name, "a scenario's name is its file name (hblab run NAME finds it)"
    topology = load_topology(scenario.topology)
    links = [s.name for s in topology.segments]
    serials = [s.name for s in topology.serial_lines]
    assert validate_against_topology(scenario, topology.node_names, links, serials) == []


@pytest.mark.parametrize("backend", ["netns", "docker"])
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_runs_on_every_backend(name: str, backend: str) -> None:
    scenario = load_scenario(SCENARIO_DIR / f"{name}.yaml")
    # Every fault runs on both backends, the scapy attacks (junk_flood, capture, replay) too: the Docker
    # node image has scapy.
    assert [p for p in validate_for_backend(scenario, backend) if ".fault: " in p] == []
    limited = [d.name for d in FAULTS.values() if d.backends is not None]
    assert limited == [], "a fault limited to some backends: shipped scenarios using it need a reason here"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_runs_on_both_backends_or_says_why(name: str) -> None:
    scenario = load_scenario(SCENARIO_DIR / f"{name}.yaml")
    assert validate_for_backend(scenario, "docker") == []
    problems = validate_for_backend(scenario, "netns")
    reason = DOCKER_ONLY.get(name) or (IMAGE_NEEDS_DOCKER if load_topology(scenario.topology).image else None)
    if reason is None:
        assert problems == []
    else:
        assert len(problems) == 1 and reason in problems[0], problems


def test_every_shipped_scenario_is_run_for_real_by_a_lab_test() -> None:
    safety_source = (Path(__file__).parents[1] / "lab" / "test_safety.py").read_text()
    assert all(f'run("{name}"' in safety_source for name in SAFETY_SCENARIOS)
    run_by_tests = set(ARTICLE) | set(LINK_CUTS) | set(SAFETY_SCENARIOS) | set(HARDENING) | set(RELOAD)
    run_by_tests |= set(OPERATIONS) | set(MONITOR) | set(DELAY)
    run_by_tests |= set(PACEMAKER)  # docker only: tests/docker/test_pacemaker.py
    run_by_tests |= set(WEBDB)  # docker only (the webdb image): tests/docker/test_webdb.py
    run_by_tests |= set(MAIL)  # docker only (the mail image): tests/docker/test_mail.py
    run_by_tests |= set(MAIL_WEB_PAIR)  # docker only (the mailweb image): tests/docker/test_mail_web_pair.py
    assert set(SHIPPED) - run_by_tests == set()


def test_bench_templates_live_with_the_bench() -> None:
    assert not list(SCENARIO_DIR.glob("bench-*.yaml")), "bench templates only work inside hblab bench"
    assert sorted(p.stem for p in BENCH_SCENARIO_DIR.glob("*.yaml"))
