"""Numbers in config files (issue 11, item 6): a Unicode digit or thousands of digits is a FILE:LINE error,
never a traceback, in every file and directive that reads a number."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.cli import main
from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.syntax import BadValue, parse_int, parse_time_ms

ERRORS = Path(__file__).parent.parent / "data" / "config" / "errors"
BASE = "node bob bobek\nauto_failback on\nbcast eth0\n"
NUMERIC = [
    "keepalive",
    "deadtime",
    "warntime",
    "initdead",
    "deadping",
    "udpport",
    "baud",
    "hbd_resource_timeout",
    "hbd_fence_delay",
    "hbd_garp_count",
    "hbd_garp_interval",
]
HUGE = ["1" * 5000, "9" * 5000 + "ms", "0." + "9" * 5000]
TRAPS = ["²", "١٢", "٣ms", *HUGE, "1e400", "inf", "nan", "-1", "1_000"]
# One token as the line splitter leaves it: no blanks, commas or comment signs.
tokens = st.text(st.characters(blacklist_categories=["Zs", "Cc"], blacklist_characters=",#"), min_size=1)


@pytest.mark.parametrize("value", TRAPS)
@pytest.mark.parametrize("directive", NUMERIC)
def test_numeric_directives_refuse_odd_numbers_with_a_line(directive: str, value: str) -> None:
    diag = Diagnostics("ha.cf")
    parse_hacf(f"{BASE}{directive} {value}\n", diag)
    assert [p.line for p in diag.errors] == [4], [str(p) for p in diag.errors]
    assert all(len(str(p)) < 300 for p in diag.errors), "a message quotes the whole token"


@pytest.mark.parametrize("value", TRAPS)
def test_mcast_authkeys_and_prefixes_refuse_odd_numbers(value: str) -> None:
    diag = Diagnostics("ha.cf")
    parse_hacf(f"{BASE}mcast eth1 225.0.0.1 {value} {value} {value}\n", diag)
    assert {p.line for p in diag.errors} == {4}
    diag = Diagnostics("authkeys")
    parse_authkeys(f"auth {value}\n{value} sha256 k\n1 sha256 k\n", diag)
    assert {p.line for p in diag.errors} >= {1, 2}
    diag = Diagnostics("haresources")
    parse_haresources(f"bob IPaddr::10.0.0.1/{value}\n", diag, ("bob", "bobek"))
    assert [p.line for p in diag.errors] == [1]


@settings(max_examples=300)
@given(tokens)
def test_number_parsers_raise_only_bad_value(token: str) -> None:
    for parse in (parse_time_ms, lambda t: parse_int(t, 0, 10, "n")):
        try:
            value = parse(token)
        except BadValue:
            continue
        assert isinstance(value, int)


@settings(max_examples=200)
@given(st.sampled_from([*NUMERIC, "mcast eth1 225.0.0.1", "ping"]), tokens)
def test_any_token_in_a_numeric_directive_is_a_value_or_a_problem(directive: str, token: str) -> None:
    parse_hacf(f"{BASE}{directive} {token}\n", Diagnostics("ha.cf"))


@pytest.mark.parametrize("case", ["numbers-unicode", "numbers-huge"])
def test_hbd_check_refuses_with_file_and_line_not_a_traceback(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ha.cf", "haresources", "authkeys"):
        shutil.copy(ERRORS / case / name, tmp_path / name)
    os.chmod(tmp_path / "authkeys", 0o600)
    assert main(["check", "--config-dir", str(tmp_path), "--node", "bob"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{tmp_path}/ha.cf:4: warntime" in err


def test_a_long_positional_stonith_parameter_name_prints(tmp_path: Path, capsys) -> None:
    """`hbd check` renders the config: a name like p<5000 digits> once made int() raise there."""
    article = Path(__file__).parent.parent / "data" / "config" / "article"
    for name in ("ha.cf", "haresources", "authkeys"):
        shutil.copy(article / name, tmp_path / name)
    os.chmod(tmp_path / "authkeys", 0o600)
    with (tmp_path / "ha.cf").open("a") as f:
        f.write(f"stonith_host * fence_ipmilan p{'1' * 5000}=x\n")
    assert main(["check", "--config-dir", str(tmp_path), "--node", "bob"]) == 0
    assert "fence_ipmilan" in capsys.readouterr().out
