"""Resource health monitoring in the core: when each monitored resource's `status` is due, what its
failures count to, and whether the next step is a local restart or a hand-over to the peer.

Pacemaker's monitor operation and migration-threshold, in heartbeat's terms (ha.cf `hbd_monitor`): a
failure restarts the group here; once more than `restarts` failures fall within `window_s`, the group goes to
the peer.
Pure: the machine passes `now`, and the daemon runs the checks (`RunMonitor`) and reports back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from hbd.config.model import Config


@dataclass(frozen=True)
class MonitorSpec:
    """One monitored resource of one group (an `hbd_monitor` line covers one or more of these)."""

    group: str
    resource: str  # the resource's spec in haresources
    interval_s: float
    timeout_s: float
    restarts: int  # local restarts allowed within window_s; one failure more hands the group over
    window_s: float


class Next(enum.Enum):
    """What a failure leads to."""

    RESTART = "restart"
    MIGRATE = "migrate"


@dataclass
class MonitorState:
    spec: MonitorSpec
    due: float | None = None  # the next check (None: the group is not active here, or a check is running)
    run: int = 0  # the id of the check in flight (0: none); a result with another id is stale
    last: str | None = None  # "ok" | "failed" | "timeout": the last result
    last_rc: int | None = None
    last_detail: str = ""
    last_at: float | None = None
    failures: list[float] = field(default_factory=list)  # mono times of failures, newest last
    total_failures: int = 0

    def arm(self, now: float) -> None:
        """The group became active here: first check one interval from now (it has just been started)."""
        self.due = now + self.spec.interval_s
        self.run = 0

    def disarm(self) -> None:
        """The group is no longer active here: no checks, and a result still in flight will be stale."""
        self.due = None
        self.run = 0

    def recent(self, now: float) -> int:
        """Failures within the window ending now."""
        return sum(1 for t in self.failures if t > now - self.spec.window_s)

    def record(self, ok: bool, rc: int, detail: str, timed_out: bool, now: float) -> None:
        self.last = "ok" if ok else ("timeout" if timed_out else "failed")
        self.last_rc, self.last_detail, self.last_at = rc, detail, now
        self.run = 0
        if ok:
            self.due = now + self.spec.interval_s
            return
        self.failures = [t for t in self.failures if t > now - self.spec.window_s] + [now]
        self.total_failures += 1

    def next_step(self, now: float) -> Next:
        """After a failure: restart while the failures within the window are at most `restarts`."""
        return Next.RESTART if self.recent(now) <= self.spec.restarts else Next.MIGRATE

    def clear(self) -> int:
        """`hbctl cleanup`: forget the failures; how many there were."""
        count = len(self.failures)
        self.failures = []
        self.total_failures = 0
        return count

    def snapshot(self, now: float) -> dict[str, Any]:
        spec = self.spec
        return {
            "group": spec.group,
            "resource": spec.resource,
            "interval_s": spec.interval_s,
            "timeout_s": spec.timeout_s,
            "last": self.last,
            "rc": self.last_rc,
            "detail": self.last_detail[-200:],
            "last_s": None if self.last_at is None else round(now - self.last_at, 3),
            "failures": self.recent(now),
            "total_failures": self.total_failures,
            "restarts": spec.restarts,
            "window_s": spec.window_s,
        }


def monitor_specs(config: Config) -> tuple[MonitorSpec, ...]:
    """ha.cf's hbd_monitor lines as specs: one per monitored resource of each group (a script name covers
    every resource of that name), the timeout defaulting to hbd_resource_timeout."""
    cluster = config.cluster
    return tuple(
        MonitorSpec(
            group.key,
            resource.spec,
            monitor.interval_s,
            monitor.timeout_s if monitor.timeout_s is not None else cluster.resource_timeout_s,
            monitor.restarts,
            monitor.window_s,
        )
        for monitor in cluster.monitors
        for group in config.groups
        for resource in group.resources
        if monitor.matches(resource)
    )
