"""hbd.logconfig: heartbeat's logfacility / logfile / debugfile, and the journal's priority prefixes."""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hbd.config.model import ClusterConfig
from hbd.logconfig import configure


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"hbd.test.{uuid.uuid4().hex}")
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)


def cluster(**fields: object) -> ClusterConfig:
    return ClusterConfig(nodes=("bob", "bobek"), media=(), **fields)  # type: ignore[arg-type]


def emit_three(log: logging.Logger) -> None:
    log.debug("(bob) group g: resource.op op=status rc=0: probe")
    log.info("(bob) group g: group.active duration_s=0.08: peer dead")
    log.warning("(bob) peer bobek: peer.dead silence_s=0.3: no heartbeat for deadtime")


def test_logfile_gets_all_but_debug_and_debugfile_gets_everything(logger, tmp_path: Path):
    err = (tmp_path / "stderr").open("w")
    problems = configure(
        logger,
        cluster(logfile=str(tmp_path / "ha-log"), debugfile=str(tmp_path / "ha-debug")),
        stderr=err,
        env={},
    )
    assert problems == []
    emit_three(logger)
    log_lines = (tmp_path / "ha-log").read_text().splitlines()
    debug_lines = (tmp_path / "ha-debug").read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in log_lines] == [
        "(bob) group g: group.active duration_s=0.08: peer dead",
        "(bob) peer bobek: peer.dead silence_s=0.3: no heartbeat for deadtime",
    ]
    assert len(debug_lines) == 3 and "DEBUG: (bob) group g: resource.op" in debug_lines[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ hbd\[\d+\] INFO: \(bob\)", log_lines[0])
    assert (tmp_path / "ha-log").stat().st_mode & 0o777 == 0o640
    err.close()
    assert len((tmp_path / "stderr").read_text().splitlines()) == 2  # no -v: stderr without DEBUG


def test_a_log_file_moved_away_by_logrotate_is_created_again(logger, tmp_path: Path):
    configure(logger, cluster(logfile=str(tmp_path / "ha-log")), stderr=(tmp_path / "err").open("w"), env={})
    logger.info("(bob) before")
    (tmp_path / "ha-log").rename(tmp_path / "ha-log.1")
    logger.info("(bob) after")
    assert "(bob) after" in (tmp_path / "ha-log").read_text()
    assert "(bob) after" not in (tmp_path / "ha-log.1").read_text()


def test_an_unwritable_log_file_is_a_problem_not_a_crash(logger, tmp_path: Path):
    problems = configure(
        logger,
        cluster(logfile=str(tmp_path / "no" / "such" / "ha-log")),
        stderr=(tmp_path / "e").open("w"),
        env={},
    )
    assert problems == [f"logfile {tmp_path}/no/such/ha-log: cannot open: No such file or directory"]
    logger.info("(bob) still logging")


def journal_env(stream_path: Path) -> dict[str, str]:
    st = os.stat(stream_path)
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def test_under_journald_stderr_lines_carry_the_priority_and_no_timestamp(logger, tmp_path: Path):
    path = tmp_path / "journal-stream"
    with path.open("w") as stream:
        configure(logger, cluster(), verbose=True, stderr=stream, env=journal_env(path))
        emit_three(logger)
    assert path.read_text().splitlines() == [
        "<7>(bob) group g: resource.op op=status rc=0: probe",
        "<6>(bob) group g: group.active duration_s=0.08: peer dead",
        "<4>(bob) peer bobek: peer.dead silence_s=0.3: no heartbeat for deadtime",
    ]


def test_a_journal_stream_that_is_not_our_stderr_is_ignored(logger, tmp_path: Path):
    other = tmp_path / "other"
    other.write_text("")
    path = tmp_path / "stderr"
    with path.open("w") as stream:
        configure(logger, cluster(), stderr=stream, env=journal_env(other))
        logger.info("(bob) hello")
    assert re.match(r"\d{4}-.* hbd\[\d+\] INFO: \(bob\) hello$", path.read_text())


def syslog_listener(tmp_path: Path) -> tuple[socket.socket, str]:
    address = str(tmp_path / "dev-log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock, address


def test_logfacility_sends_to_syslog_with_that_facility_and_the_journal_gets_it_once(logger, tmp_path: Path):
    sock, address = syslog_listener(tmp_path)
    path = tmp_path / "journal-stream"
    with path.open("w") as stream:
        problems = configure(
            logger, cluster(logfacility="local3"), stderr=stream, env=journal_env(path), syslog_socket=address
        )
        logger.warning("(bob) peer bobek: peer.dead: silence")
    assert problems == []
    datagram = sock.recv(4096).decode()
    sock.close()
    # local3 is facility 19; warning is severity 4: <19*8+4>.
    assert re.fullmatch(r"<156>hbd\[\d+\]: \(bob\) peer bobek: peer\.dead: silence\x00?", datagram)
    assert path.read_text() == ""  # journald reads the syslog socket itself: not twice


def test_logfacility_none_means_no_syslog_and_a_missing_socket_is_reported(logger, tmp_path: Path):
    err = (tmp_path / "e").open("w")
    assert (
        configure(logger, cluster(logfacility="none"), stderr=err, env={}, syslog_socket="/nonexistent") == []
    )
    problems = configure(
        logger, cluster(logfacility="daemon"), stderr=err, env={}, syslog_socket="/nonexistent"
    )
    assert problems == ["logfacility daemon: no syslog socket at /nonexistent"]


def test_a_refused_configuration_reaches_the_journal_as_errors(tmp_path: Path):
    import subprocess
    import sys

    conf = tmp_path / "ha.d"
    conf.mkdir()
    (conf / "ha.cf").write_text("node bob bobek\nbcast eth0\nauto_failback on\nkeepalive\n")
    (conf / "haresources").write_text("bob 10.0.0.10\n")
    (conf / "authkeys").write_text("auth 1\n1 sha256 secret\n")
    (conf / "authkeys").chmod(0o600)
    err = tmp_path / "journal-stream"
    with err.open("w") as stream:
        env = {**os.environ, **journal_env(err)}
        argv = [sys.executable, "-m", "hbd.cli", "check", "--config-dir", str(conf), "--node", "bob"]
        done = subprocess.run(
            argv, stderr=stream, stdout=subprocess.DEVNULL, env=env, cwd=Path(__file__).parents[2]
        )
    assert done.returncode == 1
    lines = err.read_text().splitlines()
    assert lines[0].startswith("<3>hbd: configuration refused")
    assert any(line.startswith("<3>") and "ha.cf:4" in line for line in lines), lines
    assert all(line.startswith("<3>") for line in lines)
