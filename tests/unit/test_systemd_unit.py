"""contrib/systemd/hbd.service: the settings the supervisor and hbd.notify rely on, and systemd accepts it."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "hbd.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_notify_watchdog_restart_and_kill_mode() -> None:
    s = service()
    assert s["Type"] == "notify"
    assert s["NotifyAccess"] == "all"  # the worker, not the main process, sends READY=1 and WATCHDOG=1
    assert s["Restart"] == "on-failure"
    assert s["WatchdogSec"].endswith("s") and float(s["WatchdogSec"][:-1]) >= 5
    assert s["KillMode"] == "mixed"  # SIGTERM to the supervisor only
    assert s["ExecStart"].split()[1:3] == ["run", "--config-dir"]
    assert s["RuntimeDirectoryMode"] == s["StateDirectoryMode"] == "0700"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_it(tmp_path: Path) -> None:
    unit = tmp_path / "hbd.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/hbd", shutil.which("true") or "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0 and "hbd.service" not in done.stderr, done.stderr
