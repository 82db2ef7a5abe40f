"""The web group's LSB scripts keep the contract hbd relies on without the services installed: usage errors
exit 2, a missing configuration 6, status of a stopped service 3 with "not running", stop of a stopped
service 0 (LSB: stopping what is not running succeeds)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lab.paths import SERVICE_DIR

SCRIPTS = {"webserver": [], "pgsql": [], "pgpromote": ["async"], "pgstandby": ["10.77.0.2"]}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "resource.d").mkdir()
    for name in SCRIPTS:
        shutil.copy2(SERVICE_DIR / name, tmp_path / "resource.d" / name)
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "hblab-service.conf").write_text(f"NODE=bob\nSTATE_DIR={state}\nPYTHON=python3\n")
    return tmp_path


def run(cfg: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = cfg / "resource.d" / name
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_stopped_service_is_not_running_and_stops(cfg: Path, name: str) -> None:
    status = run(cfg, name, *SCRIPTS[name], "status")
    assert (status.returncode, status.stdout.strip()) == (3, "not running")
    assert run(cfg, name, *SCRIPTS[name], "stop").returncode == 0


@pytest.mark.parametrize("name", SCRIPTS)
def test_usage_errors_exit_2(cfg: Path, name: str) -> None:
    assert run(cfg, name, *SCRIPTS[name], "reload").returncode == 2


def test_replication_scripts_need_their_argument(cfg: Path) -> None:
    assert run(cfg, "pgpromote", "eventually", "start").returncode == 2
    assert run(cfg, "pgstandby", "", "start").returncode == 2


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_missing_configuration_exits_6(cfg: Path, name: str) -> None:
    (cfg / "hblab-service.conf").unlink()
    done = run(cfg, name, *SCRIPTS[name], "status")
    assert done.returncode == 6 and "hblab-service.conf is missing" in done.stderr
