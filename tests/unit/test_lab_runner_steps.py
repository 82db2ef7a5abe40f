"""The runner carries out exactly the steps a scenario may have (lab.spec.scenario.STEP_KINDS)."""

from __future__ import annotations

import pytest

from lab.bench.run import BenchRun
from lab.runner import ScenarioRun
from lab.spec.scenario import STEP_KINDS


@pytest.mark.parametrize("cls", [ScenarioRun, BenchRun])
def test_every_step_kind_has_exactly_one_action(cls: type[ScenarioRun]) -> None:
    run = cls.__new__(cls)  # the table needs no topology: it maps kinds to bound methods
    assert sorted(run.step_actions()) == sorted(STEP_KINDS)


def test_a_subclass_override_is_the_action_used() -> None:
    run = BenchRun.__new__(BenchRun)
    actions = run.step_actions()
    # the bench's vip.owner / vip.single waits live in the runner now (any scenario can use them)
    assert actions["wait_for"].__func__ is ScenarioRun._do_wait_for  # type: ignore[attr-defined]
    assert actions["inject"].__func__ is BenchRun._do_inject  # type: ignore[attr-defined]
    assert actions["boot"].__func__ is ScenarioRun._do_boot  # type: ignore[attr-defined]
