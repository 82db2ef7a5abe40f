"""Issue 11 bug 7 (files and sockets): the state directory, state files, events.jsonl, the control socket."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

import pytest

from hbd.control import ControlServer
from hbd.events_log import EventLog
from hbd.statefile import StateDirError, ensure_private_dir, open_private, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_state_dir_is_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ensure_private_dir(tmp_path / "a" / "state")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a" / "state") == 0o700


def test_a_wide_state_dir_of_ours_is_tightened(tmp_path: Path) -> None:
    d = tmp_path / "state"
    d.mkdir()
    d.chmod(0o777)
    ensure_private_dir(d)
    assert mode(d) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_a_state_dir_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "state"
    d.mkdir()
    os.chown(d, 4242, 4242)
    with pytest.raises(StateDirError, match="owned by uid 4242"):
        ensure_private_dir(d)


def test_a_symlinked_state_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StateDirError, match="symlink"):
        ensure_private_dir(tmp_path / "state")


def test_state_files_are_0600_whatever_the_umask_and_replaced_atomically(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "generation", "41\n")
        write_private(tmp_path / "generation", "42\n")
    finally:
        os.umask(old)
    assert (tmp_path / "generation").read_text() == "42\n"
    assert mode(tmp_path / "generation") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["generation"]  # no temporary left behind


def test_a_symlink_planted_at_a_state_file_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "running").symlink_to(victim)
    write_private(tmp_path / "running", "123\n")
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "running").is_symlink()


def test_open_private_refuses_a_symlink_and_tightens_an_old_wide_file(tmp_path: Path) -> None:
    (tmp_path / "old.jsonl").write_text("")
    (tmp_path / "old.jsonl").chmod(0o644)
    os.close(open_private(tmp_path / "old.jsonl"))
    assert mode(tmp_path / "old.jsonl") == 0o600
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "old.jsonl")
    with pytest.raises(OSError):
        open_private(tmp_path / "link.jsonl")


def test_events_jsonl_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        log = EventLog(tmp_path / "events.jsonl", "bob", logging.getLogger("test"))
        log.emit("resource.op", output="a script's secret output")
        log.close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "events.jsonl") == 0o600


def test_the_control_socket_is_born_0600_without_any_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod by name: a window after bind, and it follows symlinks")

    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0o022)

    async def start_and_stop() -> int:
        server = ControlServer(tmp_path / "control.sock", lambda request: {"ok": True})
        await server.start()
        try:
            return mode(tmp_path / "control.sock")
        finally:
            await server.close()

    try:
        assert asyncio.run(start_and_stop()) == 0o600
        assert os.umask(0o022) == 0o022  # the process umask is restored after bind
    finally:
        os.umask(old)
