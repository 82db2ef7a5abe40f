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
(§6.5, §12.8) the window covers every message type, and the newest (generation, seq) of each
sender is saved and handed back after our own restart (`floors()`), so a packet captured before
our restart stays refused: an older generation, or the same generation with a seq not above the
saved one ("before_restart").

Freshness. A packet *echoes* our generation when its `heard` field (written by the status codec,
and by the daemon on requests) names this node's current generation. Our generation changes at
every boot, so an echoing packet was made after this boot: it cannot be a capture from before it.
Two uses:

* state-changing requests (`REQUESTS`: hb_takeover) are refused unless they echo (`echoes()`):
  whatever the window says, an old request is never applied after our restart;
* lock-out recovery. A sender whose generation went down (its state wiped with its clock behind)
  or who is stuck behind a forged huge generation/seq would otherwise be refused for good, and
  the refusal saved to disk. An echoing packet lifts the lock-out (`ReplayCheck.recovered` says
  what was reset, the daemon raises a CRITICAL event): at once when nothing was accepted from the
  sender since our boot; during a boot only once the sender's current generation has been quiet
  for `quiet_s`, and only to a generation not seen in this boot or with a seq above the newest
  seen of it (so copies captured during this boot cannot be replayed through the recovery).

Plausible generations (`plausible_generation()`): a generation starts as the unix time of the
node's first start and grows by one per restart, so one more than GENERATION_AHEAD_MAX ahead of
our own wall clock (clock skew plus restarts) is refused before it can move any window.

Pure bookkeeping: `now` (monotonic seconds) and the wall clock come in as arguments; no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_WINDOW = 64
# A generation may be this far ahead of our wall clock: ~115 days of clock skew, or ten million restarts.
GENERATION_AHEAD_MAX = 10_000_000
# Generations remembered per sender during one boot (a recovery may go back to one of them).
_HISTORY = 8
# Messages that make this node act (stand by, give up groups): they must echo our current generation.
REQUESTS: frozenset[str] = frozenset({"hb_takeover"})
ECHO_FIELD = "heard"  # decimal: this node's generation as the sender last heard it


def plausible_generation(generation: int, wall_now: float) -> bool:
    return generation <= int(wall_now) + GENERATION_AHEAD_MAX


def echoes(heard: str | None, our_generation: int) -> bool:
    """Whether a packet's `heard` value names our current generation (it was made after our boot)."""
    return heard is not None and heard == str(our_generation)


@dataclass(frozen=True)
class Floor:
    """The newest (generation, seq) seen from a sender: saved across our restarts."""

    generation: int
    seq: int = 0


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
    reason: str = ""  # REPLAY only: "old_generation" | "before_restart" | "too_old" | "seen_on_link"
    recovered: str = ""  # NEW only: a lock-out this echoing packet lifted, in words (a CRITICAL event)

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
    accepted_at: float = 0.0  # `now` of the last copy accepted (new, late or duplicate)


class ReplayGuard:
    """Per-sender replay window. `check()` both judges and records a copy, so call it once per packet,
    after the signature has been verified (an unauthenticated packet must not move the window)."""

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        known_generations: Mapping[str, int | Floor] | None = None,
        quiet_s: float = 0.0,
    ) -> None:
        if window < 1:
            raise ValueError(f"replay window must be at least 1, not {window}")
        self._size = window
        self._quiet_s = quiet_s
        self._senders: dict[str, _SenderState] = {}
        # Newest (generation, seq) remembered from before our own restart: anything not above is a replay.
        self._floor: dict[str, Floor] = {
            src: known if isinstance(known, Floor) else Floor(known)
            for src, known in (known_generations or {}).items()
        }
        # Newest seq of each generation seen from a sender during this boot.
        self._history: dict[str, dict[int, int]] = {}

    def check(
        self, src: str, generation: int, seq: int, link: str, *, echoes: bool = False, now: float = 0.0
    ) -> ReplayCheck:
        """Judge and record one authenticated copy. `echoes`: the packet names our current generation."""
        if generation < 0 or seq < 0:
            raise ValueError(f"generation and seq must be non-negative (got {generation}, {seq})")
        state = self._senders.get(src)
        lockout = self._lockout(src, state, generation, seq)
        if lockout:
            if echoes and self._may_recover(src, state, generation, seq, now):
                before = self._describe(src, state)
                self._start(src, generation, seq, link, now)
                return ReplayCheck(
                    Verdict.NEW,
                    link_fresh=True,
                    recovered=f"{lockout}: was {before}, now generation {generation} seq {seq}",
                )
            return ReplayCheck(Verdict.REPLAY, link_fresh=False, reason=lockout)
        if state is None or generation > state.generation:
            # First message from this sender, or the sender restarted: forget its old sequence space.
            self._start(src, generation, seq, link, now)
            return ReplayCheck(Verdict.NEW, link_fresh=True)

        window = state.window
        if seq > window.newest:
            window.add(seq)
            self._record_on_link(state, link, seq)
            self._accepted(src, state, seq, now)
            return ReplayCheck(Verdict.NEW, link_fresh=True)
        link_window = state.links.get(link)
        # A link's newest is never above the sender's, so a seq inside the sender's window is
        # inside (or above) the link's window too: `has` is exact here.
        if link_window is not None and link_window.has(seq):
            return ReplayCheck(Verdict.REPLAY, link_fresh=False, reason="seen_on_link")
        # A copy refreshes its link only if it moves that link forward, so old copies injected onto a
        # dead link cannot keep it looking alive for longer than the traffic they were captured from.
        link_fresh = link_window is None or seq > link_window.newest
        self._record_on_link(state, link, seq)
        state.accepted_at = now
        if window.has(seq):
            return ReplayCheck(Verdict.DUPLICATE, link_fresh=link_fresh)
        window.add(seq)
        return ReplayCheck(Verdict.LATE, link_fresh=link_fresh)

    # -- lock-out and recovery --------------------------------------------------------------------
    def _lockout(self, src: str, state: _SenderState | None, generation: int, seq: int) -> str:
        """Why this copy is refused as a replay whatever it carries ("" if it is not)."""
        if state is None:
            floor = self._floor.get(src)
            if floor is None:
                return ""
            if generation < floor.generation:
                return "old_generation"
            if generation == floor.generation and seq <= floor.seq:
                return "before_restart"
            return ""
        if generation < state.generation:
            return "old_generation"
        if generation == state.generation and state.window.too_old(seq):
            return "too_old"
        return ""

    def _may_recover(
        self, src: str, state: _SenderState | None, generation: int, seq: int, now: float
    ) -> bool:
        if state is None:
            return True  # nothing accepted since our boot: an echoing packet is the sender, live
        if generation == state.generation:
            return False  # a forged huge seq: the lock-out ends when the sender restarts (or we do)
        if now - state.accepted_at < self._quiet_s:
            return False  # the current generation is still talking: keep it
        newest = self._history.get(src, {}).get(generation)
        return newest is None or seq > newest

    def _describe(self, src: str, state: _SenderState | None) -> str:
        if state is not None:
            return f"generation {state.generation} seq {state.window.newest}"
        floor = self._floor.get(src)
        return "unknown" if floor is None else f"generation {floor.generation} seq {floor.seq} (saved)"

    # -- bookkeeping ------------------------------------------------------------------------------
    def _start(self, src: str, generation: int, seq: int, link: str, now: float) -> None:
        state = _SenderState(generation, _SeqWindow(self._size, seq), {link: _SeqWindow(self._size, seq)})
        self._senders[src] = state
        # The saved floor has done its job once a newer (or recovered) stream exists.
        self._floor.pop(src, None)
        self._accepted(src, state, seq, now)

    def _accepted(self, src: str, state: _SenderState, seq: int, now: float) -> None:
        state.accepted_at = now
        history = self._history.setdefault(src, {})
        history[state.generation] = max(seq, history.get(state.generation, seq))
        if len(history) > _HISTORY:
            del history[min(history)]

    def _record_on_link(self, state: _SenderState, link: str, seq: int) -> None:
        link_window = state.links.get(link)
        if link_window is None:
            state.links[link] = _SeqWindow(self._size, seq)
        else:
            link_window.add(seq)

    def generation_of(self, src: str) -> int | None:
        """The sender's current generation (None before its first accepted packet in this boot)."""
        state = self._senders.get(src)
        return None if state is None else state.generation

    def floors(self) -> dict[str, Floor]:
        """Newest (generation, seq) per sender: persist it, pass it back as `known_generations` after a
        restart. A recovered sender's lower generation replaces the old one, so a lock-out never outlives
        its recovery on disk."""
        known = dict(self._floor)
        for src, state in self._senders.items():
            known[src] = Floor(state.generation, state.window.newest)
        return known

    def generations(self) -> dict[str, int]:
        """Newest generation per sender (what `floors()` holds, without the seqs)."""
        return {src: floor.generation for src, floor in self.floors().items()}
