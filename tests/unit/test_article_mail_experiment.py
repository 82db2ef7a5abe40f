"""experiments/article-mail-cluster: the article's test plan on the real mail server, each scenario followed
by its twin with the lab's responder; the comparison only means something if the twins differ in nothing
but the services and their clients."""

from __future__ import annotations

from typing import Any

from lab.analysis.experiment import load_experiment, scenario_ref
from lab.spec.scenario import Scenario, load_scenario, validate_for_backend
from lab.spec.topology import load_topology

PLAN = ("soft-stop", "power-off", "link-cut", "boot-together", "failback")


def _scenarios() -> dict[str, Scenario]:
    experiment = load_experiment("article-mail-cluster")
    loaded = [load_scenario(scenario_ref(experiment, s)) for s in experiment.scenarios]
    return {s.name: s for s in loaded}


def _without_probes(scenario: Scenario) -> list[tuple[str, Any]]:
    return [(t.kind, t.args) for t in scenario.steps if t.kind != "probe"]


def test_the_experiment_runs_the_article_plan_on_mail_and_responder_pairwise() -> None:
    experiment = load_experiment("article-mail-cluster")
    names = [load_scenario(scenario_ref(experiment, s)).name for s in experiment.scenarios]
    assert names == [n for step in PLAN for n in (f"mail-{step}", f"responder-{step}")]


def test_each_responder_twin_has_the_mail_scenario_steps_and_timings() -> None:
    scenarios = _scenarios()
    for step in PLAN:
        mail, responder = scenarios[f"mail-{step}"], scenarios[f"responder-{step}"]
        assert _without_probes(responder) == _without_probes(mail), step
        assert responder.daemon == mail.daemon, step
        assert [t.args["protocol"] for t in mail.steps if t.kind == "probe"] == ["smtp", "pop3", "imap"]
        assert [t.args.get("every_ms") for t in responder.steps if t.kind == "probe"] == [100]
        for scenario in (mail, responder):
            assert validate_for_backend(scenario, "docker") == [], scenario.name


def test_every_mail_scenario_with_mail_submitted_checks_acked_mail() -> None:
    for step in PLAN:
        assert "acked_mail" in [c["check"] for c in _scenarios()[f"mail-{step}"].expect], step


def test_the_responder_topology_differs_from_mail_server_only_in_its_services() -> None:
    mail, responder = load_topology("mail-server"), load_topology("mail-server-responder")
    assert responder.image == mail.image
    assert responder.shared_disks == mail.shared_disks
    assert [(n.name, n.daemon) for n in responder.nodes] == [(n.name, n.daemon) for n in mail.nodes]
    assert responder.segments == mail.segments and responder.serial_lines == mail.serial_lines
    (mail_group,), (responder_group,) = mail.groups, responder.groups
    assert (responder_group.home, responder_group.vip) == (mail_group.home, mail_group.vip)
    assert [(s.port, s.label) for s in responder_group.services] == [
        (s.port, s.label) for s in mail_group.services
    ]
    assert [s.script for s in responder_group.services] == [None, None, None]
    assert [s.script for s in mail_group.services] == ["mailer", "pop3", "imapd"]
