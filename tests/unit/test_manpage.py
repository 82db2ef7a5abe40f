"""contrib/manpage.py: the man pages list every subcommand and option --help lists (they are made from
the same parsers), with roff's special characters escaped."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from hbd import cli, control_cli

SPEC = importlib.util.spec_from_file_location("manpage", Path(__file__).parents[2] / "contrib" / "manpage.py")
assert SPEC is not None and SPEC.loader is not None
manpage = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(manpage)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))


@pytest.mark.parametrize(("prog", "module"), [("hbd", cli), ("hbctl", control_cli)])
def test_every_subcommand_and_option_of_help_is_in_the_page(prog: str, module) -> None:
    page = manpage.page(prog)
    assert page.startswith(f".TH {prog.upper()} 8")
    for name, sub in subcommands(module._parser()).items():
        assert f"\\fB{prog} {name}" in page
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option.replace("-", "\\-") in page, (name, option)


def test_roff_escapes_backslashes_dashes_and_leading_dots() -> None:
    assert manpage.roff(".x -y \\z") == "\\&.x \\-y \\ez"
