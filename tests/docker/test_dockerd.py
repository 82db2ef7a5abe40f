"""lab.backends.docker.dockerd never stops an engine it did not start (no root or engine needed for these)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab.backends.docker import dockerd


def test_pid_file_naming_another_program_stops_nothing(tmp_path: Path) -> None:
    pid_file = tmp_path / "hbl-dockerd.pid"
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        pid_file.write_text(f"{bystander.pid}\n")  # a reused pid: not a dockerd
        assert dockerd.our_pid(pid_file) is None
        assert dockerd.stop_if_ours(timeout_s=1, pid_file=pid_file) is False
        assert bystander.poll() is None, "stop_if_ours signalled a process that is not a dockerd"
        assert not pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_missing_or_garbage_pid_file_means_not_ours(tmp_path: Path) -> None:
    assert dockerd.our_pid(tmp_path / "absent") is None
    garbage = tmp_path / "garbage"
    garbage.write_text("not a pid\n")
    assert dockerd.our_pid(garbage) is None
    assert dockerd.stop_if_ours(timeout_s=1, pid_file=garbage) is False


def test_no_engine_on_a_socket_that_is_not_one(tmp_path: Path) -> None:
    assert dockerd.engine_answers(tmp_path / "no.sock") is False
    plain = tmp_path / "plain"
    plain.write_text("")
    assert dockerd.engine_answers(plain) is False
