"""The `long` marker: runs that `make test` leaves to `make test-long` to stay under 20 minutes on 2 cores.

Each long-marked run is a variation of one that `make test` still runs (same image, same machinery)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


def long_unless(names: Iterable[str], kept: Iterable[str]) -> list[Any]:
    """`names` as parametrize values; all but `kept` carry the `long` marker."""
    keep = set(kept)
    return [n if n in keep else pytest.param(n, marks=pytest.mark.long) for n in names]
