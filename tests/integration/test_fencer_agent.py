"""hbd.fencing.Fencer against a real agent process speaking the fence-agents stdin interface."""

import asyncio
import stat
from pathlib import Path

from hbd.config.model import StonithHost
from hbd.fencing.fencer import Fencer

# Records every invocation's stdin; `off` succeeds, `status` answers "off" (exit 2) unless told otherwise.
AGENT = """#!/bin/sh
input=$(cat)
printf '%s\\n--\\n' "$input" >> "$(dirname "$0")/calls"
case "$input" in
  *action=off*) exit 0 ;;
  *action=status*) exit "${STATUS_RC:-2}" ;;
esac
exit 1
"""


def _agent(tmp_path: Path, status_rc: int = 2) -> str:
    path = tmp_path / "fence_test"
    path.write_text(AGENT.replace("${STATUS_RC:-2}", str(status_rc)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path.name  # found by name in the fencer's search directories (tmp_path here)


def _calls(tmp_path: Path) -> list[dict[str, str]]:
    blocks = (tmp_path / "calls").read_text().split("--\n")
    return [dict(line.split("=", 1) for line in b.split("\n") if line) for b in blocks if b.strip()]


def test_off_then_status_with_the_mapped_plug_and_no_pcmk_options(tmp_path: Path) -> None:
    device = StonithHost("*", _agent(tmp_path), (("ip", "127.0.0.1"), ("pcmk_host_map", "bobek:hbl1-bobek")))
    result = asyncio.run(Fencer("bob", [device], lambda *a, **k: None, [tmp_path]).fence("bobek", "test"))
    assert result.ok, result.detail
    assert result.agent == device.agent
    calls = _calls(tmp_path)
    assert [c["action"] for c in calls] == ["off", "status"]
    assert all(c["plug"] == "hbl1-bobek" and c["ip"] == "127.0.0.1" for c in calls)
    assert not any("pcmk_host_map" in c for c in calls)


def test_a_peer_missing_from_the_map_is_not_fenced(tmp_path: Path) -> None:
    device = StonithHost("*", _agent(tmp_path), (("pcmk_host_map", "ken3:outlet-4"),))
    result = asyncio.run(Fencer("bob", [device], lambda *a, **k: None, [tmp_path]).fence("bobek", "test"))
    assert not result.ok and "no entry for bobek" in result.detail
    assert not (tmp_path / "calls").exists()


def test_off_without_a_confirming_status_is_a_failure(tmp_path: Path) -> None:
    device = StonithHost("*", _agent(tmp_path, status_rc=0), ())
    result = asyncio.run(Fencer("bob", [device], lambda *a, **k: None, [tmp_path]).fence("bobek", "test"))
    assert not result.ok and "not off" in result.detail
    assert [c["plug"] for c in _calls(tmp_path)] == ["bobek", "bobek"]
