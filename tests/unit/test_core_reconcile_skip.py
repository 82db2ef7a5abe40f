"""The core decides a group again only when something its decision reads has changed.

Every event reconciles every group and every group's start or stop is an event, so with 100 groups a
takeover used to make 100 x 100 decisions. These tests count the decisions.
"""

import pytest

import hbd.core.machine as machine_module
from hbd.core.events import Booted, HeartbeatReceived, PeerStatus
from hbd.core.machine import GroupSpec, NodeMachine, NodeState
from hbd.core.policy import decide
from tests.sim.cluster import TIMING

KEYS = [f"IPaddr::10.0.0.{i + 1}/24" for i in range(20)]
LINK = "bcast:eth1"


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []

    def counting(facts):  # type: ignore[no-untyped-def]
        made.append(facts.key)
        return decide(facts)

    monkeypatch.setattr(machine_module, "decide", counting)
    return made


def _steady(holds: frozenset[str]) -> tuple[NodeMachine, float]:
    m = NodeMachine("bobek", "bob", [GroupSpec(k, "bob") for k in KEYS], TIMING, auto_failback=True)
    m.handle(Booted(), 0.0)
    status = PeerStatus(state=NodeState.RUNNING, generation=7, holds=holds)
    m.handle(HeartbeatReceived("bob", LINK, status), 0.01)
    return m, 0.01


def test_the_same_status_again_decides_nothing(decisions: list[str]) -> None:
    m, now = _steady(frozenset(KEYS))
    decisions.clear()
    status = PeerStatus(state=NodeState.RUNNING, generation=7, holds=frozenset(KEYS))
    for i in range(1, 6):
        m.handle(HeartbeatReceived("bob", LINK, status), now + i * TIMING.keepalive_s)
    assert decisions == []


def test_a_changed_status_decides_every_group_again_and_acts_on_it(decisions: list[str]) -> None:
    m, now = _steady(frozenset(KEYS))
    decisions.clear()
    released = PeerStatus(
        state=NodeState.RUNNING,
        generation=7,
        holds=frozenset(KEYS[1:]),
        failed=frozenset(KEYS[:1]),
        heard=m.generation,  # the peer has heard this node: it may acquire what the peer does not hold
    )
    actions = m.handle(HeartbeatReceived("bob", LINK, released), now + TIMING.keepalive_s)
    assert sorted(decisions) == sorted(KEYS)
    assert [a.group for a in actions if type(a).__name__ == "StartGroup"] == KEYS[:1]
