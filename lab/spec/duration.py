"""Durations as people write them in scenario files: `50ms`, `2s`, `1.5s`, `1m`, `250us`.

A bare number means seconds (heartbeat's ha.cf convention). Everything returns float seconds.
"""

from __future__ import annotations

import math
import re

_UNITS_S: dict[str, float] = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[a-z]*)\s*$")


class DurationError(ValueError):
    """A duration that could not be read; the message says what was expected."""


def parse_duration(value: object) -> float:
    """Seconds from `50ms`, `2s`, `1.5`, 3 ... Negative, NaN, infinite and unknown units are errors."""
    if isinstance(value, bool):  # YAML `on`/`yes` arrive as bool; never a duration
        raise DurationError(f"expected a duration like 50ms or 2s, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value.lower())
        if match is None:
            raise DurationError(f"expected a duration like 50ms or 2s, got {value!r}")
        unit = match["unit"] or "s"
        if unit not in _UNITS_S:
            known = ", ".join(_UNITS_S)
            raise DurationError(f"unknown unit {match['unit']!r} in {value!r} (known: {known})")
        seconds = float(match["number"]) * _UNITS_S[unit]
    else:
        raise DurationError(f"expected a duration like 50ms or 2s, got {type(value).__name__} {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise DurationError(f"a duration must be a finite number >= 0, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A compact human form: 0.0123 -> '12.3 ms', 2.5 -> '2.50 s'."""
    if seconds < 1.0:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"
