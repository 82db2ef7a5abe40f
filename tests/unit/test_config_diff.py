"""What a reload changes (hbd.config.diff): timings, media, keys, groups; member changes are refused."""

from __future__ import annotations

import os
from pathlib import Path

from hbd.config.diff import diff_configs
from hbd.config.load import load_config
from hbd.config.model import Config

HACF = """node bob
node bobek
keepalive 1
deadtime 10
warntime 5
initdead 20
bcast eth1
ucast eth0 10.0.0.2
auto_failback on
"""
HARESOURCES = "bob 10.0.0.100 httpd\nbobek 10.0.0.101 mysql\n"
AUTHKEYS = "auth 1\n1 sha256 first-secret\n"


def load(tmp_path: Path, name: str, hacf: str = HACF, res: str = HARESOURCES, keys: str = AUTHKEYS) -> Config:
    d = tmp_path / name
    d.mkdir()
    (d / "ha.cf").write_text(hacf)
    (d / "haresources").write_text(res)
    (d / "authkeys").write_text(keys)
    os.chmod(d / "authkeys", 0o600)
    return load_config(d, node="bob").config


def test_same_files_are_no_change_even_with_comments_moving_lines(tmp_path: Path) -> None:
    old = load(tmp_path, "a")
    new = load(tmp_path, "b", hacf="# a comment moves every line\n" + HACF, res="\n" + HARESOURCES)
    diff = diff_configs(old, new)
    assert diff.empty and diff.describe() == "nothing changed"


def test_timings_are_named_and_nothing_else(tmp_path: Path) -> None:
    old = load(tmp_path, "a")
    new = load(
        tmp_path, "b", hacf=HACF.replace("keepalive 1", "keepalive 0.5").replace("deadtime 10", "deadtime 8")
    )
    diff = diff_configs(old, new)
    # deadping defaults to deadtime: it changes with it
    assert diff.cluster == ("keepalive_s", "deadtime_s", "deadping_s")
    assert diff.timing_changed and not diff.media_changed and not diff.groups_changed
    assert diff.summary() == {"cluster": ["keepalive_s", "deadtime_s", "deadping_s"]}


def test_a_changed_medium_is_removed_and_added_and_a_new_one_added(tmp_path: Path) -> None:
    old = load(tmp_path, "a")
    hacf = HACF.replace("ucast eth0 10.0.0.2", "ucast eth0 10.0.0.3") + "bcast eth2\n"
    diff = diff_configs(old, load(tmp_path, "b", hacf=hacf))
    assert diff.media_removed == ("ucast:eth0:10.0.0.2",)
    assert set(diff.media_added) == {"ucast:eth0:10.0.0.3", "bcast:eth2"}
    # the port is part of every UDP transport's identity
    ported = diff_configs(old, load(tmp_path, "c", hacf=HACF + "udpport 695\n"))
    assert set(ported.media_removed) == set(ported.media_added) == {"bcast:eth1", "ucast:eth0:10.0.0.2"}


def test_key_rotation_steps_are_described_without_key_material(tmp_path: Path) -> None:
    one = load(tmp_path, "a")
    both = load(tmp_path, "b", keys=AUTHKEYS + "2 sha256 second-secret\n")
    switched = load(tmp_path, "c", keys="auth 2\n1 sha256 first-secret\n2 sha256 second-secret\n")
    two = load(tmp_path, "d", keys="auth 2\n2 sha256 second-secret\n")
    assert diff_configs(one, both).auth == ("keys added: 2",)
    assert diff_configs(both, switched).auth == ("signing key 1 -> 2",)
    assert diff_configs(switched, two).auth == ("keys removed: 1",)
    changed = diff_configs(one, load(tmp_path, "e", keys="auth 1\n1 sha256 other\n"))
    assert changed.auth == ("keys changed: 1",)
    assert "secret" not in changed.describe() and "other" not in changed.describe()


def test_groups_added_removed_replaced_rehomed(tmp_path: Path) -> None:
    old = load(tmp_path, "a")
    res = "bob 10.0.0.100 httpd php\nbob 10.0.0.101 mysql\nbobek 10.0.0.102 redis\n"
    diff = diff_configs(old, load(tmp_path, "b", res=res))
    assert diff.groups_replaced == ("IPaddr::10.0.0.100",)
    assert diff.groups_rehomed == ("IPaddr::10.0.0.101",)
    assert diff.groups_added == ("IPaddr::10.0.0.102",)
    assert diff.groups_removed == ()
    gone = diff_configs(old, load(tmp_path, "c", res="bob 10.0.0.100 httpd\n"))
    assert gone.groups_removed == ("IPaddr::10.0.0.101",) and not gone.groups_replaced


def test_logging_takes_effect_at_next_start_and_members_are_refused(tmp_path: Path) -> None:
    old = load(tmp_path, "a")
    diff = diff_configs(old, load(tmp_path, "b", hacf=HACF + "logfacility daemon\n"))
    assert diff.next_start == ("logfacility",) and not diff.refused
    members = HACF.replace("node bobek", "node carol")
    refused = diff_configs(old, load(tmp_path, "c", hacf=members, res="bob 10.0.0.100 httpd\n"))
    assert refused.refused and "nodes changed" in refused.refused[0]
