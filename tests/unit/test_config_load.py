"""The loader: three files, node name, cross-checks, one ConfigError, describe()."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hbd.config.errors import ConfigError
from hbd.config.load import describe, load_config, local_node_name

DATA = Path(__file__).parent.parent / "data" / "config"


def copy_config(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ha.d"
    shutil.copytree(source, target)
    os.chmod(target / "authkeys", 0o600)
    return target


def test_article_files_load_for_both_nodes(tmp_path: Path) -> None:
    config_dir = copy_config(DATA / "article", tmp_path)
    for node, peer in (("bob", "bobek"), ("bobek", "bob")):
        loaded = load_config(config_dir, node=node)
        config = loaded.config
        assert config.node == node and config.peers == (peer,)
        assert [g.key for g in config.groups] == ["mailer"]
        assert config.auth.signing_key.method == "sha1"
        assert config.config_dir == str(config_dir)
    messages = [p.message for p in loaded.warnings]
    assert "udp is an old name for bcast" in messages


def test_node_name_from_nodeinfo_then_uname(tmp_path: Path) -> None:
    config_dir = copy_config(DATA / "article", tmp_path)
    assert local_node_name(config_dir) == os.uname().nodename.lower()
    (config_dir / "nodeinfo").write_text("BobEk\nignored second line\n")
    assert local_node_name(config_dir) == "bobek"
    assert load_config(config_dir).config.node == "bobek"
    assert load_config(config_dir, node="BOB").config.node == "bob"


def test_all_problems_of_all_files_at_once(tmp_path: Path) -> None:
    config_dir = copy_config(DATA / "article", tmp_path)
    (config_dir / "ha.cf").write_text("node bob bobek\nbcast eth1\nkeepalive x\n")
    (config_dir / "haresources").write_text("carol httpd\n")
    os.chmod(config_dir / "authkeys", 0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir, node="bob")
    lines = str(caught.value).splitlines()
    assert [line.split(":", 1)[0].rsplit("/", 1)[-1] for line in lines] == [
        "ha.cf",
        "haresources",
        "authkeys",
    ]
    assert len(caught.value.problems) == 3
    assert [p.message for p in caught.value.warnings] == [
        "auto_failback not set: using heartbeat's default, legacy"
    ]


def test_unreadable_config_dir_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nowhere", node="bob")
    assert len(caught.value.problems) == 3
    (tmp_path / "ha.cf").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, node="bob")
    assert "cannot read" in caught.value.problems[0].message


def test_describe_masks_keys_and_fencing_secrets(tmp_path: Path) -> None:
    config_dir = copy_config(DATA / "article", tmp_path)
    shutil.copy(DATA / "sample" / "ha.cf", config_dir / "ha.cf")
    (config_dir / "haresources").write_text("ken3 10.10.10.100/24/eth0 httpd\n")
    (config_dir / "authkeys").write_text("auth 2\n1 crc\n2 sha256 TopSecretKey\n")
    text = describe(load_config(config_dir, node="kathy").config)
    assert "TopSecretKey" not in text
    assert "mysecretpassword" not in text and "changeme" not in text
    assert "2 sha256 ***" in text
    assert "stonith_host ken3 ipmilan ipaddr=10.0.0.13 login=admin passwd=***" in text
    assert "initdead 120" in text and "node ken3 kathy" in text
    assert "ken3 IPaddr::10.10.10.100/24/eth0 httpd" in text
    assert "# effective configuration of kathy" in text


def test_undecodable_bytes_do_not_break_describe(tmp_path: Path) -> None:
    config_dir = copy_config(DATA / "article", tmp_path)
    hacf = b"node bob bobek\nbcast eth1\nauto_failback on\nlogfile /var/log/h\xffa\n"
    (config_dir / "ha.cf").write_bytes(hacf)
    text = describe(load_config(config_dir, node="bob").config)
    assert "logfile /var/log/h\\udcffa" in text
    text.encode("utf-8")  # printable as UTF-8
