"""Config files hbd trusts: the key file private, no file writable by anyone or owned by a stranger."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hbd.config.errors import ConfigError
from hbd.config.load import load_config

ARTICLE = Path(__file__).parent.parent / "data" / "config" / "article"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def article(tmp_path: Path) -> Path:
    for name in ("ha.cf", "haresources", "authkeys"):
        shutil.copy(ARTICLE / name, tmp_path / name)
        os.chmod(tmp_path / name, 0o600 if name == "authkeys" else 0o644)
    return tmp_path


def refused(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir, node="bob")
    return [str(p).replace(f"{config_dir}/", "") for p in caught.value.problems]


def test_the_article_files_with_sane_modes_load(tmp_path: Path) -> None:
    load_config(article(tmp_path), node="bob")


def test_a_world_writable_key_file_is_refused(tmp_path: Path) -> None:
    config_dir = article(tmp_path)
    os.chmod(config_dir / "authkeys", 0o602)  # heartbeat checked only the read bits: this passed
    assert refused(config_dir) == [
        "authkeys: bad permissions 0602 on the key file: writable by group or others "
        "(heartbeat requires 600: chmod 600 authkeys)"
    ]


@pytest.mark.parametrize("name", ["ha.cf", "haresources"])
def test_a_world_writable_config_file_is_refused(tmp_path: Path, name: str) -> None:
    config_dir = article(tmp_path)
    os.chmod(config_dir / name, 0o666)
    assert refused(config_dir) == [f"{name}: bad permissions 0666: writable by anyone (chmod o-w {name})"]


@needs_root
@pytest.mark.parametrize("name", ["ha.cf", "haresources", "authkeys"])
def test_a_config_file_owned_by_another_user_is_refused(tmp_path: Path, name: str) -> None:
    config_dir = article(tmp_path)
    os.chown(config_dir / name, 12345, 12345)
    assert refused(config_dir) == [f"{name}: owned by uid 12345, not root (chown root {name})"]


def test_a_symlink_is_judged_by_the_file_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    config_dir = article(tmp_path / "etc")
    elsewhere = tmp_path / "keys"
    shutil.move(config_dir / "authkeys", elsewhere)
    os.chmod(elsewhere, 0o644)
    (config_dir / "authkeys").symlink_to(elsewhere)
    assert refused(config_dir)[0].startswith("authkeys: bad permissions 0644 on the key file")
