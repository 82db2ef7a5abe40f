"""Hypothesis drives two simulated cores through random power, link, standby and failure sequences.

Invariants:
- two nodes hold a group at once only if every link between them was cut shortly before (split brain is
  the price of no fencing; with a working link it never happens, graceful handovers and failed stops
  included: a group whose stop failed stays held where it is);
- after everything is healed and quiet for a while, each group has exactly one owner;
- `next_deadline()` is never in the past.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hbd.core.events import CleanupCommanded, ShutdownRequested, StandbyCommanded, TakeoverCommanded
from hbd.core.machine import GroupSpec, Role
from tests.sim.cluster import LINKS, TIMING, Cluster

GROUPS = [GroupSpec("IPaddr::10.0.0.100/24", "bob"), GroupSpec("web", "bobek")]
NODES = st.sampled_from(["bob", "bobek"])
# A split brain may begin up to deadtime after a cut (detection) plus operation and delivery slack.
SPLIT_SLACK_S = TIMING.deadtime_s + 0.1


class TwoNodes(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.c = Cluster(GROUPS)
        self.c.power_on("bob")
        self.c.power_on("bobek")
        self.checked_dual = 0

    @rule(seconds=st.floats(0.001, 0.8))
    def tick(self, seconds: float) -> None:
        self.c.run_for(seconds)

    @rule(node=NODES)
    def power_off(self, node: str) -> None:
        self.c.power_off(node)

    @rule(node=NODES)
    def power_on(self, node: str) -> None:
        if self.c.nodes[node].machine is None:
            self.c.power_on(node)

    @rule(node=NODES)
    def soft_stop(self, node: str) -> None:
        self.c.send_event(node, ShutdownRequested())

    @rule(links=st.sampled_from([LINKS, LINKS[:1], LINKS[1:]]), up=st.booleans())
    def set_links(self, links: tuple[str, ...], up: bool) -> None:
        self.c.set_links(up, links)

    @rule(node=NODES, scope=st.sampled_from(["all", "local", "foreign"]))
    def standby(self, node: str, scope: str) -> None:
        self.c.send_event(node, StandbyCommanded(scope))

    @rule(node=NODES, scope=st.sampled_from(["all", "local", "foreign"]))
    def takeover(self, node: str, scope: str) -> None:
        self.c.send_event(node, TakeoverCommanded(scope))

    @rule(node=NODES, key=st.sampled_from([g.key for g in GROUPS]), fails=st.booleans())
    def stops_fail(self, node: str, key: str, fails: bool) -> None:
        """Every stop of `key` on `node` fails from now on (or works again): it must stay held there."""
        (self.c.fail_stop.add if fails else self.c.fail_stop.discard)((node, key))

    @rule(node=NODES, key=st.sampled_from([g.key for g in GROUPS]))
    def cleanup(self, node: str, key: str) -> None:
        self.c.send_event(node, CleanupCommanded(key))

    @invariant()
    def dual_ownership_only_after_a_total_cut(self) -> None:
        c = self.c
        for when, key in c.dual_starts[self.checked_dual :]:
            cut_recently = c.all_down_since is not None or when - c.last_all_down <= SPLIT_SLACK_S
            assert cut_recently, f"{key} held by both at t={when:.3f} with a working link"
        self.checked_dual = len(c.dual_starts)

    @invariant()
    def deadlines_not_in_the_past(self) -> None:
        for node in self.c.nodes.values():
            if node.machine is not None:
                deadline = node.machine.next_deadline()
                assert deadline is None or deadline >= self.c.now - 1e-9

    def teardown(self) -> None:
        # Heal everything, boot whoever is down, wait: each group must end with exactly one owner.
        c = self.c
        c.set_links(True)
        c.fail_stop.clear()  # the operator fixes the stops, and cleans up where one failed
        c.run_for(0.1)  # a stop already under way fails all the same
        for name, node in c.nodes.items():
            groups = node.machine.groups.items() if node.machine is not None else []
            for key in [k for k, g in groups if g.role is Role.STOP_FAILED]:
                c.send_event(name, CleanupCommanded(key))
        # A soft stop still releasing its groups exits on its own: let it, then boot what is down.
        c.run_for(1.0)
        for name, node in c.nodes.items():
            if node.machine is None:
                c.power_on(name)
        c.run_for(TIMING.initdead_s + 3.0)
        for spec in GROUPS:
            assert len(c.active(spec.key)) == 1, (spec.key, c.holders(spec.key))


TwoNodes.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, report_multiple_bugs=False
)
TestTwoNodes = TwoNodes.TestCase
