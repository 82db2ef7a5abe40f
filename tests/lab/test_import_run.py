"""An imported /etc/ha.d runs (issue 13): the Debian-style directory of tests/data, imported with
`hblab import`, boots in real namespaces from its own files and fails over on a soft stop (bob's goodbye:
no 30 s deadtime to wait). The article's mailer, pop3 and imapd are stood in by the user's own resource.d
scripts wrapping the lab's responder on the same ports, as a user without postfix on the host would."""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.cli import main
from lab.runner import run_scenario
from lab.spec.scenario import parse_scenario

DEBIAN_HA_D = Path(__file__).resolve().parents[1] / "data" / "debian-ha.d"
STAND_INS = {"mailer": (25, "smtp"), "pop3": (110, "pop3"), "imapd": (143, "imap")}


def test_the_imported_debian_directory_boots_and_fails_over_on_soft_stop(short_runs_root: Path) -> None:
    ha_d = short_runs_root / "ha.d"
    shutil.copytree(DEBIAN_HA_D, ha_d)
    (ha_d / "resource.d").mkdir()
    for name, (port, label) in STAND_INS.items():
        script = ha_d / "resource.d" / name
        script.write_text(f'#!/bin/sh\nexec "$(dirname "$0")/hblab-service" {port} {label} "$@"\n')
        script.chmod(0o755)
    topology = short_runs_root / "imported.yaml"
    assert main(["import", str(ha_d), "--out", str(topology)]) == 0
    scenario = parse_scenario(
        {
            "name": "imported-soft-stop",
            "topology": str(topology),
            "steps": [
                {"boot": ["bob", "bobek"]},
                {"wait_for": {"event": "group.active", "node": "bob", "within": "30s"}},
                {"probe": {"target": "vip", "every_ms": 50}},
                {"sleep": "1s"},
                {"inject": {"fault": "soft_stop", "node": "bob"}},
                {"wait_for": {"event": "group.active", "node": "bobek", "within": "20s"}},
                {"sleep": "1s"},
            ],
            "expect": [
                {"check": "no_event", "event": "peer.dead", "node": "bobek"},
                {"check": "single_owner"},
                {"check": "failback", "count": 1},
            ],
        },
        "imported-soft-stop",
    )
    result = run_scenario(scenario, runs_root=short_runs_root / "runs")
    assert result.error is None, f"{result.error} (run dir {result.run_dir})"
    failed = [f"{r.name}: {r.detail}" for r in result.results if not r.ok]
    assert not failed, f"{failed} (run dir {result.run_dir})"
    assert {r.name for r in result.results} >= {"single_owner", "failback"}
