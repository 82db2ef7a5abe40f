"""Which authenticated messages are new, late copies, duplicates from another medium, or replays.

Every message goes out on every medium (heartbeat.md §6.1), so one `(generation, seq)` from a
sender legitimately arrives once per link. The guard tells the receiver what each copy is worth:

* NEW        first sighting and newer than anything seen: deliver to the core;
* LATE       first sighting but older than the newest (reordered), still inside the window:
             proves the link works, but its content is stale and must not be applied as state;
* DUPLICATE  already seen on another link, first time on this one: proves this link works;
* REPLAY     an older generation, older than the window, or a second copy on the same link:
             drop it and count it (a legitimate sender never produces one).

A higher generation means the peer restarted: its window starts afresh. Unlike heartbeat
(§6.5, §12.8) the window covers every message type, and the generations already seen can be
saved and handed back after our own restart so old generations stay refused.

Pure bookkeeping: no clock, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_WINDOW = 64


class Verdict(enum.Enum):
    NEW = "new"
    LATE = "late"
    DUPLICATE = "duplicate"
    REPLAY = "replay"


@dataclass(frozen=True)
class ReplayCheck:
    """The verdict, whether the copy refreshes its link's liveness, and for REPLAY the reason."""

    verdict: Verdict
    link_fresh: bool
    reason: str = ""  # REPLAY only: "old_generation" | "too_old" | "seen_on_link"

    @property
    def deliver(self) -> bool:
        """Only NEW messages carry state the core should apply."""
        return self.verdict is Verdict.NEW


@dataclass
class _SeqWindow:
    """The highest seq seen and a bitmask of the `size` seqs at and below it (bit i: newest - i)."""

    size: int
    newest: int
    seen: int = 1  # the newest itself

    def has(self, seq: int) -> bool:
        age = self.newest - seq
        return 0 <= age < self.size and bool(self.seen >> age & 1)

    def too_old(self, seq: int) -> bool:
        return self.newest - seq >= self.size

    def add(self, seq: int) -> None:
        if seq > self.newest:
            shift = seq - self.newest
            self.seen = ((self.seen << shift) | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            self.newest = seq
        elif not self.too_old(seq):
            self.seen |= 1 << (self.newest - seq)


@dataclass
class _SenderState:
    generation: int
    window: _SeqWindow
    links: dict[str, _SeqWindow] = field(default_factory=dict)


class ReplayGuard:
    """Per-sender replay window. `check()` both judges and records a copy, so call it once per packet,
    after the signature has been verified (an unauthenticated packet must not move the window)."""

    def __init__(
        self, window: int = DEFAULT_WINDOW, known_generations: Mapping[str, int] | None = None
    ) -> None:
        if window < 1:
            raise ValueError(f"replay window must be at least 1, not {window}")
        self._size = window
        self._senders: dict[str, _SenderState] = {}
        # Generations remembered from before our own restart: anything older is a replay.
        self._floor: dict[str, int] = dict(known_generations or {})

    def check(self, src: str, generation: int, seq: int, link: str) -> ReplayCheck:
        if generation < 0 or seq < 0:
            raise ValueError(f"generation and seq must be non-negative (got {generation}, {seq})")
        state = self._senders.get(src)
        if state is None or generation > state.generation:
            if state is None and generation < self._floor.get(src, 0):
                return ReplayCheck(Verdict.REPLAY, link_fresh=False, reason="old_generation")
            # First message from this sender, or the sender restarted: forget its old sequence space.
            self._senders[src] = _SenderState(
                generation, _SeqWindow(self._size, seq), {link: _SeqWindow(self._size, seq)}
            )
            return ReplayCheck(Verdict.NEW, link_fresh=True)
        if generation < state.generation:
            return ReplayCheck(Verdict.REPLAY, link_fresh=False, reason="old_generation")

        window = state.window
        if seq > window.newest:
            window.add(seq)
            self._record_on_link(state, link, seq)
            return ReplayCheck(Verdict.NEW, link_fresh=True)
        if window.too_old(seq):
            return ReplayCheck(Verdict.REPLAY, link_fresh=False, reason="too_old")
        link_window = state.links.get(link)
        # A link's newest is never above the sender's, so a seq inside the sender's window is
        # inside (or above) the link's window too: `has` is exact here.
        if link_window is not None and link_window.has(seq):
            return ReplayCheck(Verdict.REPLAY, link_fresh=False, reason="seen_on_link")
        # A copy refreshes its link only if it moves that link forward, so old copies injected onto a
        # dead link cannot keep it looking alive for longer than the traffic they were captured from.
        link_fresh = link_window is None or seq > link_window.newest
        self._record_on_link(state, link, seq)
        if window.has(seq):
            return ReplayCheck(Verdict.DUPLICATE, link_fresh=link_fresh)
        window.add(seq)
        return ReplayCheck(Verdict.LATE, link_fresh=link_fresh)

    def _record_on_link(self, state: _SenderState, link: str, seq: int) -> None:
        link_window = state.links.get(link)
        if link_window is None:
            state.links[link] = _SeqWindow(self._size, seq)
        else:
            link_window.add(seq)

    def generations(self) -> dict[str, int]:
        """Newest generation per sender: persist it, pass it back as `known_generations` after a restart."""
        known = dict(self._floor)
        for src, state in self._senders.items():
            known[src] = max(known.get(src, 0), state.generation)
        return known
