"""Who should run a resource group: one pure decision per group, from what both nodes announced.

The protocol is state-based. Every status heartbeat carries the groups the sender holds (running, starting or
stopping), cannot run, and gives up (standby). A group only ever moves by *release, then acquire*: a node
starts a group while the peer is alive only when the peer's newest status shows it does not hold it. The
only acquisitions without that proof are takeovers from a peer that is dead (fenced, if fencing is set up)
or gone, or that we fenced because it could not stop a group (it keeps announcing such a group as held,
so without fencing it stays there until an operator fixes it). If both hold a group after a partition,
the home node keeps it (and re-announces it) and the other stops as soon as the home node's status shows
it has heard this node, so clients are never left without one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hbd.core.peer import Liveness
from hbd.core.status import NodeState


class Intent(enum.Enum):
    START = "start"
    STOP = "stop"
    NONE = "none"


@dataclass(frozen=True)
class GroupFacts:
    """Everything the decision for one group depends on."""

    key: str
    home_is_me: bool
    i_hold: bool
    i_failed: bool
    i_standby: bool
    shutting_down: bool
    running: bool  # past initdead or peer heard: allowed to acquire at all
    peer: Liveness
    peer_may_be_taken_over: bool  # dead and (fenced, or no fencing configured, or operator forced)
    peer_state: NodeState | None  # the peer's announced state (None if unknown)
    peer_holds: bool
    peer_failed: bool
    peer_standby: bool
    failback: bool  # auto_failback on (or legacy: the home node pulls its groups back)
    # Ping nodes (heartbeat's ipfail): False when we reach none of the configured ones. A node reaching fewer
    # than its peer puts itself in standby (the machine folds that into `i_standby`), which the peer sees.
    ping_ok: bool = True
    # The peer's status was sent after it heard this incarnation of us: without that, a view older than our
    # boot (a goodbye still in flight from our previous life, say) could make both acquire.
    peer_knows_me: bool = True
    # The peer has been heard for a whole deadtime and still has not heard us: a one-way cut.
    peer_deaf_to_me: bool = False
    # The peer is still alive in our view but we fenced it (confirmed) because it could not stop a group:
    # it is off now, whatever its last status said.
    peer_fenced: bool = False


@dataclass(frozen=True)
class Decision:
    intent: Intent
    cause: str  # human words for events and logs; nothing may branch on them
    takeover: bool = False  # acquiring from a dead or departed peer (the takeover's timing marks apply)


def decide(f: GroupFacts) -> Decision:
    if f.i_hold:
        return _keep_or_release(f)
    return _acquire_or_wait(f)


def _keep_or_release(f: GroupFacts) -> Decision:
    if f.shutting_down:
        return Decision(Intent.STOP, "shutting down")
    if f.peer is not Liveness.ALIVE or f.peer_fenced:  # fenced: its last status still says it holds it
        return Decision(Intent.NONE, "")
    if f.peer_holds:
        if f.home_is_me:
            return Decision(Intent.NONE, "")
        # Clients follow the last gratuitous ARP. The home node re-announces as soon as it hears us, and
        # its statuses say so (`heard`): releasing before that leaves clients at an address nobody has.
        if not f.peer_knows_me and not f.peer_deaf_to_me:
            return Decision(Intent.NONE, "")
        return Decision(Intent.STOP, "split brain healed: the home node keeps the group")
    peer_can_take = not f.peer_failed and not f.peer_standby and f.peer_state is NodeState.RUNNING
    if f.i_standby and peer_can_take:
        return Decision(Intent.STOP, "standby: handing the group to the peer")
    if f.failback and not f.home_is_me and peer_can_take:
        return Decision(Intent.STOP, "auto_failback: the home node is back")
    return Decision(Intent.NONE, "")


def _acquire_or_wait(f: GroupFacts) -> Decision:
    if f.shutting_down or f.i_failed or not f.running:
        return Decision(Intent.NONE, "")
    if f.peer in (Liveness.DEAD, Liveness.UNKNOWN):
        if not f.ping_ok:
            return Decision(Intent.NONE, "")  # cut off from every ping node: we are the isolated one
        if f.peer_may_be_taken_over:
            return Decision(Intent.START, "peer dead", takeover=True)
        return Decision(Intent.NONE, "")
    if f.peer is Liveness.GONE:
        return Decision(Intent.START, "peer shut down", takeover=True)
    if f.peer_fenced:
        return Decision(Intent.START, "peer fenced after it failed to stop a group", takeover=True)
    # The peer is alive: acquire only what it visibly does not hold, in a view that already includes us.
    if f.peer_holds or not f.peer_knows_me:
        return Decision(Intent.NONE, "")
    if f.peer_state in (NodeState.SHUTTING_DOWN, NodeState.STOPPED):
        return Decision(Intent.START, "peer released it while shutting down")
    if f.i_standby and not f.peer_failed and not f.peer_standby:
        return Decision(Intent.NONE, "")
    if f.peer_failed:
        return Decision(Intent.START, "peer failed to start it")
    if f.home_is_me:
        # Also when both nodes are in standby: someone must run it, and only the home node may decide alone.
        return Decision(Intent.START, "home node")
    if f.peer_standby and not f.i_standby:
        return Decision(Intent.START, "peer is in standby")
    return Decision(Intent.NONE, "")
