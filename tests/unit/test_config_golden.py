"""Golden error files: each tests/data/config/errors/NAME/ holds a config directory and
expected.txt, the exact error output of loading it as node `bob` (paths relative).

An optional `mode` file gives octal modes, as git does not keep them: a bare `MODE` line is authkeys' mode
(default 600), a `FILE MODE` line another file's (default 644).
HBD_REGEN_GOLDEN=1 rewrites expected.txt (review the diff before committing).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hbd.config.errors import ConfigError
from hbd.config.load import load_config

ERRORS_DIR = Path(__file__).parent.parent / "data" / "config" / "errors"
CASES = sorted(p.name for p in ERRORS_DIR.iterdir() if p.is_dir())
CONFIG_FILES = ("ha.cf", "haresources", "authkeys", "nodeinfo")


def load_errors(case: Path, workdir: Path) -> str:
    config_dir = workdir / "etc"
    config_dir.mkdir()
    for name in CONFIG_FILES:
        if (case / name).exists():
            shutil.copy(case / name, config_dir / name)
    modes = {"authkeys": "600", "ha.cf": "644", "haresources": "644"}
    if (case / "mode").exists():
        for line in (case / "mode").read_text().splitlines():
            name, mode = line.split() if " " in line else ("authkeys", line)
            modes[name] = mode
    for name, mode in modes.items():
        if (config_dir / name).exists():
            os.chmod(config_dir / name, int(mode, 8))
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir, node="bob")
    return str(caught.value).replace(f"{config_dir}/", "") + "\n"


@pytest.mark.parametrize("name", CASES)
def test_golden_errors(name: str, tmp_path: Path) -> None:
    case = ERRORS_DIR / name
    got = load_errors(case, tmp_path)
    expected_file = case / "expected.txt"
    if os.environ.get("HBD_REGEN_GOLDEN"):
        expected_file.write_text(got)
    assert got == expected_file.read_text()


def test_every_case_has_expected_output() -> None:
    assert CASES, "no golden cases found"
    for name in CASES:
        assert (ERRORS_DIR / name / "expected.txt").exists(), name


def test_no_key_material_in_authkeys_errors(tmp_path: Path) -> None:
    got = load_errors(ERRORS_DIR / "authkeys-bad", tmp_path)
    assert "topsecret" not in got
    assert "secret" not in got
