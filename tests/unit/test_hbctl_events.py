"""`hbctl events`: the decision log, written by the daemon's own EventLog, read back readably, raw and
followed."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from hbd.control_cli import main
from hbd.event_view import follow, last_lines, line_view, render
from hbd.events_log import EventLog

ROOT = Path(__file__).resolve().parents[2]


def write_events(state: Path) -> Path:
    log = EventLog(state / "events.jsonl", "bobek", logging.getLogger("test.hbctl.events"))
    log.emit("daemon.start", generation=17, pid=42)
    log.emit("peer.dead", "WARN", peer="bob", silence_s=0.30012345, links=["bcast:eth0", "serial:/dev/ttyS0"],
             cause="no heartbeat for deadtime")  # fmt: skip
    log.emit("group.acquire.start", group="IPaddr::10.0.0.10", cause="peer dead")
    log.emit("group.failed", "ERROR", group="g", op="start", detail="line one\nline two " + "x" * 100)
    log.close()
    return state / "events.jsonl"


def test_each_record_is_one_line_with_time_node_event_fields_and_cause(tmp_path, capsys):
    write_events(tmp_path)
    assert main(["--state-dir", str(tmp_path), "events"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    clock = r"\d\d:\d\d:\d\d\.\d{3}"
    assert re.fullmatch(clock + r" bobek daemon.start generation=17 pid=42", lines[0])
    assert lines[1].endswith(
        " bobek WARN peer.dead peer=bob silence_s=0.300123 links=bcast:eth0,serial:/dev/ttyS0: "
        "no heartbeat for deadtime"
    )
    assert lines[2].endswith(" bobek group.acquire.start group=IPaddr::10.0.0.10: peer dead")
    # A script's output stays on one line and is cut short (the --json view has all of it).
    assert "detail=line one\\nline two xxx" in lines[3] and lines[3].endswith("...")


def test_n_shows_the_last_records_and_json_passes_them_through(tmp_path, capsys):
    path = write_events(tmp_path)
    assert main(["--state-dir", str(tmp_path), "events", "-n", "2", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == path.read_text().splitlines()[-2:]
    assert [json.loads(line)["event"] for line in out] == ["group.acquire.start", "group.failed"]
    assert main(["--state-dir", str(tmp_path), "events", "-n", "0"]) == 0
    assert capsys.readouterr().out == ""


def test_a_missing_log_is_an_error_and_a_line_being_written_is_held_back(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path), "events"]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "peer.up", "node": "bob", "wall": 0}\n{"event": "peer.de')
    lines, offset = last_lines(path, 10)
    assert len(lines) == 1 and offset == path.read_text().index("{", 1)
    assert line_view("not json") == "?? not JSON: not json"
    assert render({"event": "x", "node": "n"}) == "--:--:--.--- n x"


def test_follow_yields_new_complete_lines_and_starts_over_on_a_new_file(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("a\n")
    writes = iter(
        [
            lambda: path.open("a").write("b\nc-part"),
            lambda: path.open("a").write("ial\n"),
            lambda: (path.unlink(), path.write_text("fresh\n")),  # a new state dir / logrotate
            lambda: None,
        ]
    )
    done = []

    def sleep(_s: float) -> None:
        step = next(writes, None)
        if step is None:
            done.append(True)
        else:
            step()

    got = list(follow(path, offset=2, sleep=sleep, stop=lambda: bool(done)))
    assert got == ["b", "c-partial", "fresh"]


def test_hbctl_events_follow_prints_records_as_they_come_and_stops_on_ctrl_c(tmp_path):
    write_events(tmp_path)
    argv = [sys.executable, "-m", "hbd.control_cli", "--state-dir", str(tmp_path), "events", "-f", "-n", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        assert "group.failed" in proc.stdout.readline()
        log = EventLog(tmp_path / "events.jsonl", "bobek", logging.getLogger("test.hbctl.follow"))
        log.emit("group.active", group="IPaddr::10.0.0.10", duration_s=0.08, cause="peer dead")
        log.close()
        assert (
            proc.stdout.readline()
            .rstrip()
            .endswith("bobek group.active group=IPaddr::10.0.0.10 duration_s=0.08: peer dead")
        )
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
