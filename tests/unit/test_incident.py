"""`hblab incident` (issue 13): production events.jsonl -> a draft scenario. Each inference on a small
synthetic incident, the TODOs it must write instead of guessing, and the errors with FILE:LINE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.analysis.incident import IncidentError, draft_scenario
from lab.cli import main
from lab.spec.scenario import parse_scenario

DAEMON = {"keepalive": "50ms", "deadtime": "300ms", "warntime": "150ms", "initdead": "2s"}
VIP = "192.168.77.50"


def ev(wall: float, node: str, event: str, **fields: Any) -> dict[str, Any]:
    return {"mono": wall, "wall": wall, "node": node, "event": event, "level": "INFO", **fields}


def settled() -> list[dict[str, Any]]:
    """Both booted, bob holds the group from t=10."""
    return [
        ev(8.0, "bob", "daemon.start"),
        ev(8.0, "bobek", "daemon.start"),
        ev(9.9, "bob", "ip.added", ip=VIP),
        ev(10.0, "bob", "group.active", group="www"),
    ]


def write(tmp_path: Path, events: list[dict[str, Any]]) -> list[Path]:
    paths = []
    for node in sorted({e["node"] for e in events}):
        path = tmp_path / f"{node}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events if e["node"] == node))
        paths.append(path)
    return paths


def draft(tmp_path: Path, events: list[dict[str, Any]], daemon: dict[str, str] | None = DAEMON) -> str:
    text = draft_scenario(write(tmp_path, events), "incident", "two-node", daemon)
    parse_scenario(yaml.safe_load(text), "incident")  # every draft is a valid scenario
    return text


def steps(text: str) -> list[str]:
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.startswith("  - ")]


def test_a_medium_down_and_up_becomes_a_cut_and_its_heal_at_the_same_offsets(tmp_path: Path) -> None:
    cause = "nothing heard for 0.3 s"
    text = draft(
        tmp_path,
        [
            *settled(),
            ev(15.0, "bobek", "link.down", peer="bob", link="bcast:eth1", cause=cause),
            ev(15.01, "bob", "link.down", peer="bobek", link="bcast:eth1", cause=cause),
            ev(20.0, "bobek", "link.up", peer="bob", link="bcast:eth1"),
            ev(20.01, "bob", "link.up", peer="bobek", link="bcast:eth1"),
        ],
    )
    assert steps(text)[3:7] == [
        "- sleep: 4700ms",
        "- inject: {fault: link_cut, node: bobek, iface: eth1, phase: none}",
        "- sleep: 5300ms",
        "- heal: {fault: link_cut, node: bobek, iface: eth1}",
    ]
    assert "# TODO: bobek: link.down bcast:eth1 (peer bob): the events do not say which end" in text
    assert '- {check: failback, group: "www", count: 0}' in text


def test_a_goodbye_is_a_soft_stop_healed_at_the_restart(tmp_path: Path) -> None:
    text = draft(
        tmp_path,
        [
            *settled(),
            ev(15.0, "bob", "ip.removed", ip=VIP),
            ev(15.05, "bob", "node.stopped"),
            ev(15.06, "bobek", "peer.gone", peer="bob"),
            ev(15.06, "bobek", "link.down", peer="bob", link="bcast:eth0", cause="nothing heard for 0.3 s"),
            ev(15.2, "bobek", "ip.added", ip=VIP),
            ev(15.2, "bobek", "group.active", group="www"),
            ev(30.0, "bob", "daemon.start"),
            ev(31.0, "bob", "group.active", group="www"),
        ],
    )
    assert [s for s in steps(text) if "fault" in s] == [
        "- inject: {fault: soft_stop, node: bob, phase: none}",
        "- heal: {fault: soft_stop, node: bob}",
    ]
    assert "# production: www: bob -> bobek -> bob (ended on bob)" in text
    assert '- {check: failback, group: "www", count: 2}' in text
    assert "- {check: single_owner}  # production never had two owners" in text
    assert "# TODO" not in text


def test_a_silent_peer_whose_log_shows_a_stall_is_a_freeze_and_the_split_brain_is_asserted(
    tmp_path: Path,
) -> None:
    text = draft(
        tmp_path,
        [
            *settled(),
            ev(15.0, "bobek", "peer.dead", peer="bob", silence_s=0.3),
            ev(15.1, "bobek", "ip.added", ip=VIP),
            ev(15.1, "bobek", "group.active", group="www"),
            ev(16.5, "bob", "daemon.stall", late_s=2.0),
            ev(16.6, "bob", "ip.removed", ip=VIP),
        ],
    )
    assert "- inject: {fault: freeze, node: bob, ms: 2000, phase: none}" in steps(text)
    assert "production had two owners for 1.500 s" in text
    assert "- {check: single_owner, expect_split_brain: true, max: 2350ms}" in text


def test_a_silent_peer_whose_log_ends_is_a_power_off_and_without_its_log_a_todo(tmp_path: Path) -> None:
    dead = [
        *settled(),
        ev(15.0, "bobek", "peer.dead", peer="bob", silence_s=0.3),
        ev(15.1, "bobek", "group.active", group="www"),
    ]
    (tmp_path / "both").mkdir()
    text = draft(tmp_path / "both", dead)
    assert "- inject: {fault: power_off, node: bob, phase: none}" in steps(text)
    assert "# TODO" not in text
    (tmp_path / "restarted").mkdir()
    text = draft(tmp_path / "restarted", [*dead, ev(40.0, "bob", "daemon.start")])
    assert [s for s in steps(text) if "fault" in s] == [
        "- inject: {fault: power_off, node: bob, phase: none}",
        "- heal: {fault: power_off, node: bob}",
    ]
    assert "- sleep: 25300ms" in steps(text)  # 40 s - (15 s - 0.3 s of silence)
    only_bobek = [e for e in dead if e["node"] == "bobek"]
    text = draft(tmp_path, [ev(10.0, "bobek", "group.active", group="www"), *only_bobek[1:]])
    assert "# TODO: bobek: peer.dead bob after 0.3 s of silence: no events of bob were given" in text


def test_a_fence_asks_for_fencing_and_asserts_it(tmp_path: Path) -> None:
    fenced = [
        *settled(),
        ev(15.0, "bobek", "peer.dead", peer="bob", silence_s=0.3),
        ev(15.2, "bobek", "fence.ok", peer="bob", agent="fence_lab"),
        ev(15.4, "bobek", "group.active", group="www"),
    ]
    text = draft(tmp_path, fenced)
    assert 'fencing: "on"' in text and "- {check: fences, by: bobek, target: bob, count: 1}" in text
    text = draft_scenario(write(tmp_path, fenced), "incident", "two-node", None)
    assert "# TODO: production fenced (fence.ok)" in text


def test_the_cli_says_each_todo_and_bad_lines_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write(tmp_path, settled())
    out = tmp_path / "s.yaml"
    assert main(["incident", *map(str, paths), "--out", str(out)]) == 0
    assert "hblab incident: TODO: the topology" in capsys.readouterr().err
    assert "# TODO: the topology" in out.read_text()
    paths[0].write_text(paths[0].read_text() + "{not json\n")
    with pytest.raises(IncidentError, match=rf"{paths[0]}:4: not JSON"):
        draft_scenario(paths)
    assert main(["incident", str(paths[0])]) == 1
    assert main(["incident", str(paths[1]), "--daemon", "keepalive"]) == 2
    assert "--daemon wants KEY=VALUE, got 'keepalive'" in capsys.readouterr().err
