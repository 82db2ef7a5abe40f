"""Issue 11 bug 7: `hbd run` refuses a state directory owned by another user, before touching anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_config(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "ha.cf").write_text("node alpha beta\nkeepalive 1\ndeadtime 3\nbcast lo\n")
    (config_dir / "haresources").write_text("alpha IPaddr::10.99.0.1/24\n")
    (config_dir / "authkeys").write_text("auth 1\n1 sha256 k\n")
    (config_dir / "authkeys").chmod(0o600)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_run_refuses_a_state_dir_owned_by_someone_else(tmp_path: Path) -> None:
    write_config(tmp_path / "ha.d")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, 4242, 4242)
    argv = [sys.executable, "-m", "hbd.cli", "run", "--config-dir", str(tmp_path / "ha.d"), "--node", "alpha"]
    done = subprocess.run(
        [*argv, "--state-dir", str(state)], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert done.returncode != 0
    assert "owned by uid 4242" in done.stderr and "Traceback" not in done.stderr
    assert list(state.iterdir()) == []  # no events.jsonl, no socket, no pid file written there
