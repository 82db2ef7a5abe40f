"""The lab's host commands (lab/backends/host.py, plumbum): errors stay loud, naming the command line
and its stderr, for a failure, a timeout and a program that is not installed."""

from __future__ import annotations

import pytest

from lab.backends.base import LabError
from lab.backends.host import command, run_command


def test_a_failure_names_the_command_and_its_stderr() -> None:
    sh = command("sh")
    with pytest.raises(LabError, match=r"^sh -c echo nope >&2; exit 3: nope$"):
        run_command(sh["-c", "echo nope >&2; exit 3"])
    res = run_command(sh["-c", "echo out; exit 3"], check=False)
    assert (res.returncode, res.stdout) == (3, "out\n")


def test_input_reaches_the_command() -> None:
    assert run_command(command("cat"), input_text="link set x up\n").stdout == "link set x up\n"


def test_a_hang_is_an_error_not_a_wait() -> None:
    with pytest.raises(LabError, match=r"sleep 5: no answer within 0.2 s"):
        run_command(command("sleep")["5"], timeout_s=0.2)


def test_a_missing_program_says_so() -> None:
    with pytest.raises(LabError, match="not installed"):
        command("hblab-no-such-program")
