"""Every event name the daemon writes to events.jsonl: a contract with the lab and with operators.

The names are documented in docs/CONTRACTS.md; a test checks this list against that table both ways and
against every `emit`/`Emit` call in hbd/. Code emits and matches these constants, never literals:

    from hbd import event_names as ev
    ev.PEER_DEAD  # "peer.dead"

This module imports nothing, so every layer (the pure core included) and the lab may use it.
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------- the daemon process
DAEMON_START: Final = "daemon.start"
DAEMON_STOP: Final = "daemon.stop"
DAEMON_STALL: Final = "daemon.stall"
DAEMON_REALTIME: Final = "daemon.realtime"
DAEMON_STATE_WRITE: Final = "daemon.state_write"
DAEMON_BUG: Final = "daemon.bug"
DAEMON_RESTARTED: Final = "daemon.restarted"  # written by hbd.supervisor (the parent process)
DAEMON_RECONCILE: Final = "daemon.reconcile"
DAEMON_METRICS_FAILED: Final = "daemon.metrics_failed"

# ---------------------------------------------------------------- the peer and its links
PEER_UP: Final = "peer.up"
PEER_WARN: Final = "peer.warn"
PEER_DEAD: Final = "peer.dead"
PEER_GONE: Final = "peer.gone"
LINK_UP: Final = "link.up"
LINK_DOWN: Final = "link.down"
PACKET_REJECTED: Final = "packet.rejected"
PEER_GENERATION_RESET: Final = "peer.generation_reset"
CONFIG_MISMATCH: Final = "config.mismatch"
CONFIG_RELOADED: Final = "config.reloaded"
CONFIG_RELOAD_FAILED: Final = "config.reload_failed"

# ---------------------------------------------------------------- this node
NODE_STATE: Final = "node.state"
NODE_STANDBY: Final = "node.standby"
NODE_TAKEOVER: Final = "node.takeover"
NODE_STOPPED: Final = "node.stopped"

# ---------------------------------------------------------------- resource groups
GROUP_ACQUIRE_START: Final = "group.acquire.start"
GROUP_ACTIVE: Final = "group.active"
GROUP_RELEASE_START: Final = "group.release.start"
GROUP_RELEASED: Final = "group.released"
GROUP_FAILED: Final = "group.failed"
GROUP_STOP_FAILED: Final = "group.stop_failed"
GROUP_NOT_IDLE: Final = "group.not_idle"
RESOURCE_OP: Final = "resource.op"
RESOURCE_NOT_LSB: Final = "resource.not_lsb"
IP_ADDED: Final = "ip.added"
IP_REMOVED: Final = "ip.removed"
GARP_SENT: Final = "garp.sent"
GARP_FAILED: Final = "garp.failed"
TAKEOVER_BREAKDOWN: Final = "takeover.breakdown"

# ---------------------------------------------------------------- resource monitoring (ha.cf hbd_monitor)
MONITOR_FAILED: Final = "monitor.failed"
GROUP_RESTART_START: Final = "group.restart.start"
GROUP_RESTART_DONE: Final = "group.restart.done"
GROUP_MIGRATE: Final = "group.migrate"
GROUP_CLEANUP: Final = "group.cleanup"

# ---------------------------------------------------------------- split brain and fencing
SPLITBRAIN_DETECTED: Final = "splitbrain.detected"
SPLITBRAIN_HEALED: Final = "splitbrain.healed"
PEER_STOP_FAILED: Final = "peer.stop_failed"
FENCE_START: Final = "fence.start"
FENCE_OK: Final = "fence.ok"
FENCE_FAILED: Final = "fence.failed"
FENCE_WAIT_OPERATOR: Final = "fence.wait_operator"
FENCE_OPERATOR_OVERRIDE: Final = "fence.operator_override"

# ---------------------------------------------------------------- ping nodes
PING_UP: Final = "ping.up"
PING_DOWN: Final = "ping.down"
PING_STANDBY: Final = "ping.standby"
PING_STANDBY_OVER: Final = "ping.standby_over"

ALL: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
"""Every name above."""
