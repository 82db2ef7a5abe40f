"""Heartbeat's value syntax: times (glue's cl_get_msec), booleans, numbers."""

from __future__ import annotations

import pytest

from hbd.config.syntax import BadValue, parse_bool, parse_time, parse_time_ms

TIMES = [
    ("1", 1000),
    ("30", 30000),
    ("1.5", 1500),
    ("0.25", 250),
    (".5", 500),
    ("2.", 2000),
    ("500ms", 500),
    ("500 ms", 500),  # blanks before the unit are allowed inside one token (not after splitting)
    ("1500MS", 1500),
    ("250msec", 250),
    ("1.5ms", 2),  # rounded half up to whole ms
    ("1.4ms", 1),
    ("250000us", 250),
    ("1499us", 1),
    ("1500usec", 2),
    ("0", 0),
]


@pytest.mark.parametrize(("token", "ms"), TIMES)
def test_time_syntax(token: str, ms: int) -> None:
    assert parse_time_ms(token) == ms
    assert parse_time(token) == ms / 1000


BAD_TIMES = [
    ("2s", "plain numbers are seconds: write 2, not 2s"),
    ("1.5sec", "plain numbers are seconds: write 2, not 2s"),
    ("abc", "use N, N.M (seconds), Nms or Nus"),
    ("", "use N, N.M (seconds), Nms or Nus"),
    ("-1", "use N, N.M (seconds), Nms or Nus"),
    ("1.2.3", "use N, N.M (seconds), Nms or Nus"),
    ("1e3", "use N, N.M (seconds), Nms or Nus"),
    ("ms", "use N, N.M (seconds), Nms or Nus"),
    ("10 m", "use N, N.M (seconds), Nms or Nus"),
]


@pytest.mark.parametrize(("token", "hint"), BAD_TIMES)
def test_bad_times(token: str, hint: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_time_ms(token)
    assert caught.value.hint == hint
    assert repr(token) in caught.value.message


@pytest.mark.parametrize(
    ("token", "value"),
    [(w, True) for w in ("true", "on", "yes", "y", "1", "True", "ON", "Yes", "Y")]
    + [(w, False) for w in ("false", "off", "no", "n", "0", "FALSE", "Off", "NO", "N")],
)
def test_booleans(token: str, value: bool) -> None:
    assert parse_bool(token) is value


@pytest.mark.parametrize("token", ["2", "enable", "", "onn", "yess"])
def test_bad_booleans(token: str) -> None:
    with pytest.raises(BadValue):
        parse_bool(token)
