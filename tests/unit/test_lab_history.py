from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.history.records import load_history
from lab.history.store import latest_run, list_runs, new_run_dir, seed_of
from lab.spec.duration import DurationError, parse_duration


def write_jsonl(path: Path, objs: list[object], tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objs) + tail)


def test_load_history_merges_every_file_by_mono(tmp_path: Path):
    write_jsonl(
        tmp_path / "lab.jsonl",
        [{"mono": 2.0, "source": "lab", "event": "fault.inject", "fault": "power_off", "node": "bob"}],
    )
    write_jsonl(
        tmp_path / "probe.jsonl",
        [{"mono": 1.5, "source": "probe", "event": "probe", "ok": True, "answer": "bob", "rtt_ms": 0.1}],
    )
    write_jsonl(
        tmp_path / "owners.jsonl",
        [{"mono": 1.7, "source": "owner", "event": "vip.owners", "owners": ["bob"]}],
    )
    write_jsonl(
        tmp_path / "nodes" / "bobek" / "events.jsonl",
        [{"mono": 2.3, "wall": 0, "node": "bobek", "event": "peer.dead", "level": "WARN"}],
    )
    # A node file without a node field: the directory names the node.
    write_jsonl(
        tmp_path / "nodes" / "bob" / "events.jsonl",
        [{"mono": 1.0, "wall": 0, "event": "group.active", "level": "INFO"}],
    )
    h = load_history(tmp_path)
    assert [r.mono for r in h] == [1.0, 1.5, 1.7, 2.0, 2.3]
    assert [r.source for r in h] == ["node", "probe", "owner", "lab", "node"]
    assert h.records[0].node == "bob"
    assert h.nodes == ("bob", "bobek")
    assert h.problems == ()
    assert [r.get("fault") for r in h.faults()] == ["power_off"]


def test_malformed_lines_become_problems_with_file_and_line(tmp_path: Path):
    path = tmp_path / "nodes" / "bob" / "events.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"mono": 1, "event": "a"}\nnot json\n[1]\n{"mono": "x", "event": "b"}\n{"mono": 2}\n')
    h = load_history(tmp_path)
    assert len(h) == 1
    assert len(h.problems) == 4
    assert h.problems[0].endswith("events.jsonl:2: not JSON: Expecting value")
    assert ":3: expected a JSON object" in h.problems[1]
    assert ":4: 'mono' must be a finite number" in h.problems[2]
    assert ":5: 'event' must be a non-empty string" in h.problems[3]


def test_a_last_line_cut_by_a_kill_is_a_note_not_a_problem(tmp_path: Path):
    write_jsonl(
        tmp_path / "nodes" / "bob" / "events.jsonl", [{"mono": 1, "event": "a"}], tail='{"mono": 2, "ev'
    )
    h = load_history(tmp_path)
    assert h.problems == ()
    assert "cut short" in h.notes[0]


def test_empty_run_dir_is_a_problem(tmp_path: Path):
    assert "no history records" in load_history(tmp_path).problems[0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("50ms", 0.05),
        ("2s", 2.0),
        ("1.5", 1.5),
        (3, 3.0),
        ("250us", 0.00025),
        ("1m", 60.0),
        (" 10 MS ", 0.01),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "ms", "5 parsecs", "-1s", True, None, [1], "nan"])
def test_parse_duration_rejects(bad):
    with pytest.raises(DurationError):
        parse_duration(bad)


def test_new_run_dir_makes_unique_dirs_and_latest(tmp_path: Path):
    first = new_run_dir("power-off-active", 7, root=tmp_path)
    second = new_run_dir("power-off-active", 7, root=tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.parent == tmp_path / "power-off-active"
    assert latest_run("power-off-active", tmp_path) == second.resolve()
    assert (tmp_path / "power-off-active" / "latest").readlink() == Path(second.name)
    assert list_runs("power-off-active", tmp_path) == [first, second]
    assert seed_of(first) == 7 and seed_of(second) == 7


def test_new_run_dir_refuses_path_like_names(tmp_path: Path):
    with pytest.raises(ValueError, match="cannot name a directory"):
        new_run_dir("../evil", 1, root=tmp_path)


def test_load_run_includes_the_shared_disk(tmp_path: Path):
    """The one loader of a recorded run: `hblab report` judged a shared-disk run without its disk."""
    from lab.history.store import load_run

    write_jsonl(tmp_path / "lab.jsonl", [{"mono": 1.0, "source": "lab", "event": "run.start"}])
    write_jsonl(
        tmp_path / "shared-disk" / "data.log",
        [{"seq": 1, "mono": 1.1, "writer_node": "bob"}, {"seq": 2, "mono": 1.2, "writer_node": "bob"}],
        tail="{torn",
    )
    write_jsonl(
        tmp_path / "nodes" / "bob" / "state" / "disk-acks.jsonl",
        [{"mono": 1.15, "event": "disk.ack", "node": "bob", "seq": 1}],
    )
    h = load_run(tmp_path)
    assert [(r.event, r.source) for r in h] == [
        ("run.start", "lab"),
        ("disk.record", "disk"),
        ("disk.ack", "disk"),
        ("disk.record", "disk"),
        ("disk.torn", "disk"),
    ]
    assert not h.problems
    plain = tmp_path / "plain"
    write_jsonl(plain / "lab.jsonl", [{"mono": 1.0, "source": "lab", "event": "run.start"}])
    assert [r.event for r in load_run(plain)] == ["run.start"]  # no disk, nothing added
