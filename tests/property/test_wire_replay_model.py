"""ReplayGuard (bitmasks) against a plain reference model (sets), on random arrival streams."""

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.wire.replay import ReplayCheck, ReplayGuard, Verdict


@dataclass
class ModelSender:
    generation: int
    newest: int
    seen: set[int] = field(default_factory=set)
    seen_on: dict[str, set[int]] = field(default_factory=dict)


class Model:
    """The rules of the brief, stated directly."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.senders: dict[str, ModelSender] = {}

    def check(self, src: str, gen: int, seq: int, link: str) -> ReplayCheck:
        s = self.senders.get(src)
        if s is None or gen > s.generation:
            self.senders[src] = ModelSender(gen, seq, {seq}, {link: {seq}})
            return ReplayCheck(Verdict.NEW, True)
        if gen < s.generation:
            return ReplayCheck(Verdict.REPLAY, False, "old_generation")
        on_link = s.seen_on.setdefault(link, set())
        if seq > s.newest:
            s.newest = seq
            s.seen.add(seq)
            on_link.add(seq)
            return ReplayCheck(Verdict.NEW, True)
        if s.newest - seq >= self.window:
            return ReplayCheck(Verdict.REPLAY, False, "too_old")
        if seq in on_link:
            return ReplayCheck(Verdict.REPLAY, False, "seen_on_link")
        fresh = not on_link or seq > max(on_link)
        on_link.add(seq)
        if seq in s.seen:
            return ReplayCheck(Verdict.DUPLICATE, fresh)
        s.seen.add(seq)
        return ReplayCheck(Verdict.LATE, fresh)


arrivals = st.lists(
    st.tuples(
        st.sampled_from(["bob", "bobek"]),
        st.integers(5, 7),  # generation
        st.integers(0, 40),  # seq: small range so duplicates, late and too-old copies are common
        st.sampled_from(["eth1", "eth2", "serial"]),
    ),
    max_size=120,
)


@settings(deadline=None, max_examples=300)
@given(st.integers(1, 16), arrivals)
def test_guard_matches_reference_model(window, stream):
    guard, model = ReplayGuard(window=window), Model(window)
    for src, gen, seq, link in stream:
        assert guard.check(src, gen, seq, link) == model.check(src, gen, seq, link), (src, gen, seq, link)


@settings(deadline=None, max_examples=100)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=60, unique=True), st.integers(2, 4))
def test_each_message_is_delivered_at_most_once_whatever_the_links(seqs, n_links):
    guard = ReplayGuard()
    delivered = []
    for seq in seqs:
        for link in range(n_links):
            for _copy in range(2):  # a replayed second copy on every link
                if guard.check("bob", 1, seq, f"link{link}").deliver:
                    delivered.append(seq)
    assert len(delivered) == len(set(delivered))
    # A message that is new when it arrives is always delivered.
    assert delivered == [s for i, s in enumerate(seqs) if s > max(seqs[:i], default=-1)]
