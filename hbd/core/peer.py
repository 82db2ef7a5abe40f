"""What we know of the peer: liveness overall and per link, late heartbeats, gap histograms.

Pure: `now` comes in, facts go out as return values. The machine turns them into events and decisions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from hbd.core.events import PeerStatus

# Upper edges (ms) of the inter-arrival histogram; the last bucket is open.
GAP_EDGES_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class Liveness(enum.Enum):
    UNKNOWN = "unknown"  # never heard since we started
    ALIVE = "alive"
    DEAD = "dead"  # silent for deadtime (or initdead before first contact)
    GONE = "gone"  # said goodbye (graceful shutdown): dead without doubt, no fencing needed


@dataclass
class GapHistogram:
    """How late heartbeats arrive on one link: counts per bucket of GAP_EDGES_MS, plus the largest gap."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(GAP_EDGES_MS) + 1))
    max_ms: float = 0.0
    total: int = 0
    sum_ms: float = 0.0  # for the Prometheus histogram's _sum (hbd.metrics)

    def add(self, gap_s: float) -> None:
        gap_ms = gap_s * 1000.0
        for i, edge in enumerate(GAP_EDGES_MS):
            if gap_ms <= edge:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.max_ms = max(self.max_ms, gap_ms)
        self.total += 1
        self.sum_ms += gap_ms

    def quantile_ms(self, q: float) -> float:
        """Upper bucket edge below which a fraction `q` of the gaps fall (coarse, conservative)."""
        if self.total == 0:
            return 0.0
        need = q * self.total
        seen = 0
        for i, count in enumerate(self.counts):
            seen += count
            if seen >= need:
                return GAP_EDGES_MS[i] if i < len(GAP_EDGES_MS) else self.max_ms
        return self.max_ms

    def as_dict(self) -> dict[str, object]:
        labels = [f"<={e:g}ms" for e in GAP_EDGES_MS] + [f">{GAP_EDGES_MS[-1]:g}ms"]
        return {
            "buckets": {label: n for label, n in zip(labels, self.counts, strict=True) if n},
            "max_ms": round(self.max_ms, 3),
            "p99_ms": self.quantile_ms(0.99),
            "count": self.total,
        }


@dataclass
class LinkView:
    name: str
    up: bool = False
    last_heard: float | None = None
    gaps: GapHistogram = field(default_factory=GapHistogram)


@dataclass
class PeerView:
    """The peer as seen from here. `deadtime_s` applies once heard; `initdead_s` before first contact."""

    name: str
    deadtime_s: float
    warntime_s: float
    liveness: Liveness = Liveness.UNKNOWN
    status: PeerStatus | None = None
    last_status_at: float | None = None  # last NEW status on any link: this is what liveness follows
    links: dict[str, LinkView] = field(default_factory=dict)
    # Silence since the last status that this node's own stalls explain (it did not run, so it could not
    # have heard): added to the death deadline, cleared by the next status. See `excuse`.
    excused_s: float = 0.0

    def link(self, name: str) -> LinkView:
        if name not in self.links:
            self.links[name] = LinkView(name)
        return self.links[name]

    def heard(self, link_name: str, now: float) -> tuple[bool, float | None]:
        """Record a packet on a link. Returns (link came up, gap on this link)."""
        link = self.link(link_name)
        gap = None if link.last_heard is None else now - link.last_heard
        if gap is not None and link.up:
            link.gaps.add(gap)
        link.last_heard = now
        came_up = not link.up
        link.up = True
        return came_up, gap

    def status_arrived(self, status: PeerStatus, now: float) -> float | None:
        """Record a new status. Returns the gap since the previous one (None on first contact)."""
        gap = None
        if self.last_status_at is not None and self.liveness is Liveness.ALIVE:
            gap = now - self.last_status_at
        self.last_status_at = now
        self.status = status
        self.excused_s = 0.0
        return gap

    def excuse(self, stall_s: float) -> None:
        """This node did not run for `stall_s` (CPU starvation, a frozen VM): the peer's packets of that
        time may sit unread in a socket buffer, or the peer froze with us. Its silence over the stall
        is not evidence that it died, so its death deadline moves on by the stall: it keeps the part of
        its deadtime it had left when we stopped running, counted from when we run again."""
        if self.liveness is Liveness.ALIVE and stall_s > 0:
            self.excused_s += stall_s

    def links_gone_silent(self, now: float) -> list[LinkView]:
        """Links that carried nothing for deadtime: mark them down and return them."""
        silent = []
        for link in self.links.values():
            if link.up and link.last_heard is not None and now >= link.last_heard + self.deadtime_s:
                link.up = False
                silent.append(link)
        return silent

    def death_deadline(self, started_at: float, initdead_s: float) -> float | None:
        if self.liveness is Liveness.ALIVE and self.last_status_at is not None:
            return self.last_status_at + self.deadtime_s + self.excused_s
        if self.liveness is Liveness.UNKNOWN:
            return started_at + initdead_s
        return None

    def link_deadline(self) -> float | None:
        times = [
            link.last_heard + self.deadtime_s
            for link in self.links.values()
            if link.up and link.last_heard is not None
        ]
        return min(times) if times else None

    def up_links(self) -> list[str]:
        return sorted(name for name, link in self.links.items() if link.up)

    @property
    def holds(self) -> frozenset[str]:
        if self.status is None or self.liveness is not Liveness.ALIVE:
            return frozenset()
        return self.status.holds
