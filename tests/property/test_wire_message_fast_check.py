"""Message's whole-message fast check accepts only what the field-by-field checks accept."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hbd.wire.message import _all_valid, _check_each

PLAIN = st.text(st.sampled_from("abf09"), max_size=3)
# One character that some check cares about: separators, forbidden ones, non-ASCII, a lone surrogate.
ODD = st.sampled_from([*"=(\n\r\0 \x01\x02éG", "\ud800"])
# Mostly plain text, sometimes with one odd character in it: each check gets its chance alone.
TEXT = st.one_of(PLAIN, st.tuples(PLAIN, ODD, PLAIN).map("".join))
NAMES = st.one_of(TEXT, st.sampled_from(["t", "seq", "hg", "ts", "dt", "auth", "src", "(1)x", ""]))
PAIRS = st.lists(st.tuples(NAMES, TEXT), max_size=4).map(tuple)


def slow_accepts(pairs: tuple[tuple[object, ...], ...]) -> bool:
    try:
        _check_each(pairs)
    except ValueError:
        return False
    return True


@settings(max_examples=1000)
@given(PAIRS)
@example((("a=b", "x"),))
@example((("seq", "g"),))
@example((("a", "x"), ("a", "y")))
def test_fast_check_never_accepts_what_the_slow_one_refuses(pairs: tuple[tuple[object, ...], ...]) -> None:
    if _all_valid(pairs):
        assert slow_accepts(pairs)


@given(
    st.lists(
        st.tuples(st.sampled_from(["t", "st", "hold", "src", "x"]), st.text("abc /.:", max_size=8)),
        max_size=5,
        unique_by=lambda p: p[0],
    ).map(tuple)
)
def test_fast_check_takes_plain_messages(pairs: tuple[tuple[object, ...], ...]) -> None:
    # The common case (ASCII text, no hex field) never needs the slow path.
    assert _all_valid(pairs)
