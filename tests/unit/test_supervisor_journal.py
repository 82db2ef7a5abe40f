"""The supervisor's own lines reach the journal with their priority (a worker restart is CRITICAL)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from hbd.supervisor import Backoff, Supervisor


def test_a_restart_is_a_critical_line_in_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "worker.py"
    marker = tmp_path / "ran"
    script.write_text(
        "import os, signal, sys\n"
        f"m = {str(marker)!r}\n"
        "if not os.path.exists(m):\n    open(m, 'w').close()\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "sys.exit(0)\n"
    )
    stream_path = tmp_path / "journal-stream"
    with stream_path.open("w") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        monkeypatch.setattr(sys, "stderr", stream)
        sup = Supervisor([sys.executable, str(script)], tmp_path / "events.jsonl", "bob", Backoff((0.0,)), {})
        assert sup.run() == 0
    [line] = stream_path.read_text().splitlines()
    assert line.startswith(
        "<2>supervisor: (bob) daemon.restarted restarts=1 delay_s=0: the daemon's worker died"
    )
