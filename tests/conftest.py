"""Fixtures shared by every test directory."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_runs_root() -> Iterator[Path]:
    """A runs root under /tmp: unix socket paths in a run (hbd's control socket in the node's state dir,
    the lab's power switch) must fit AF_UNIX's 108 bytes, which pytest's tmp paths overflow."""
    root = Path(tempfile.mkdtemp(prefix="hbl", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)
