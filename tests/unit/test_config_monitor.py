"""`hbd_monitor`: the ha.cf line, its errors at FILE:LINE, the cross-check against haresources, rendering."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hbd.config.errors import ConfigError, Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.load import load_config
from hbd.config.model import Monitor, Resource, ResourceGroup
from hbd.config.monitor import monitored
from hbd.config.render import render_hacf

DATA = Path(__file__).parent.parent / "data" / "config"
BASE = "node bob bobek\nbcast eth0\nauto_failback on\n"


def parse(lines: str) -> tuple[tuple[Monitor, ...], list[str]]:
    diag = Diagnostics("ha.cf")
    cluster = parse_hacf(BASE + lines, diag)
    return cluster.monitors, [str(p) for p in diag.errors]


def test_defaults_and_options() -> None:
    monitors, errors = parse(
        "hbd_monitor mailer 2\nhbd_monitor 10.0.0.9 500ms timeout=1 restarts=0 window=60\n"
    )
    assert errors == []
    first, second = monitors
    assert (first.resource, first.interval_s, first.timeout_s, first.restarts, first.window_s) == (
        "mailer",
        2.0,
        None,
        3,
        300.0,
    )
    assert first.where is not None and first.where.line == 4
    # a bare address means IPaddr::address, as in haresources
    assert (second.resource, second.interval_s, second.timeout_s, second.restarts, second.window_s) == (
        "IPaddr::10.0.0.9",
        0.5,
        1.0,
        0,
        60.0,
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hbd_monitor mailer", "ha.cf:4: hbd_monitor needs a resource and an interval"),
        ("hbd_monitor mailer 0", "ha.cf:4: hbd_monitor: interval '0' must be more than 0"),
        ("hbd_monitor mailer 2s", "ha.cf:4: hbd_monitor: bad time '2s'"),
        ("hbd_monitor mailer 2 restarts=-1", "ha.cf:4: hbd_monitor: bad restarts '-1'"),
        ("hbd_monitor mailer 2 every=3", "ha.cf:4: hbd_monitor: unknown option 'every=3'"),
        ("hbd_monitor mailer 2 window=5 window=6", "ha.cf:4: hbd_monitor: window given twice"),
        ("hbd_monitor mailer 2\nhbd_monitor mailer 3", "ha.cf:5: hbd_monitor mailer listed twice"),
    ],
)
def test_bad_lines_name_their_line(line: str, message: str) -> None:
    _, errors = parse(line + "\n")
    assert len(errors) == 1 and errors[0].startswith(message), errors


def test_a_resource_no_group_has_is_refused_at_its_line(tmp_path: Path) -> None:
    config_dir = tmp_path / "ha.d"
    shutil.copytree(DATA / "article", config_dir)
    os.chmod(config_dir / "authkeys", 0o600)
    hacf = config_dir / "ha.cf"
    text = hacf.read_text()
    hacf.write_text(text + "hbd_monitor mailer 5\nhbd_monitor postfix 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(config_dir, node="bob")
    line = len(text.splitlines()) + 2
    assert [str(p).split(" (")[0] for p in err.value.problems] == [
        f"{hacf}:{line}: hbd_monitor: no resource group has 'postfix'"
    ]
    hacf.write_text(text + "hbd_monitor mailer 5\n")
    assert [m.resource for m in load_config(config_dir, node="bob").config.cluster.monitors] == ["mailer"]
    # a script name and a spec can cover the same resource: one monitor each
    hacf.write_text(text + "hbd_monitor IPaddr 5\nhbd_monitor IPaddr::192.168.0.250/24 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(config_dir, node="bob")
    assert [str(p) for p in err.value.problems] == [
        f"{hacf}:{line}: hbd_monitor: IPaddr::192.168.0.250/24 is already monitored (by line {line - 1})"
    ]


def test_a_script_name_covers_every_resource_of_that_name_a_spec_only_its_own() -> None:
    web = ResourceGroup("bob", (Resource("svc", ("80",)), Resource("IPaddr", ("10.0.0.1",))))
    db = ResourceGroup("bobek", (Resource("svc", ("5432",)),))
    by_name = monitored(Monitor("svc", 1.0), (web, db))
    assert [(g.key, r.spec) for g, r in by_name] == [("svc::80", "svc::80"), ("svc::5432", "svc::5432")]
    by_spec = monitored(Monitor("IPaddr::10.0.0.1", 1.0), (web, db))
    assert [(g.key, r.spec) for g, r in by_spec] == [("svc::80", "IPaddr::10.0.0.1")]


def test_render_round_trip() -> None:
    text = BASE + "hbd_monitor mailer 1500ms timeout=300ms restarts=2 window=90\nhbd_monitor x 1\n"
    first = parse_hacf(text, Diagnostics("ha.cf"))
    diag = Diagnostics("rendered")
    again = parse_hacf(render_hacf(first), diag)
    assert diag.errors == []
    assert [(m.resource, m.interval_s, m.timeout_s, m.restarts, m.window_s) for m in again.monitors] == [
        ("mailer", 1.5, 0.3, 2, 90.0),
        ("x", 1.0, None, 3, 300.0),
    ]
