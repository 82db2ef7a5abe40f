"""The runner end to end on the dummy lab: steps run, records land in the run dir, teardown is complete."""

import json
from pathlib import Path

from lab.runner import run_scenario
from lab.spec.names import RunNames
from lab.spec.scenario import parse_scenario

from .conftest import DATA, netns_list


def _own_namespaces(run_dir: Path) -> list[str]:
    """This run's namespaces still there (other labs may come and go on the host meanwhile)."""
    run_id = json.loads((run_dir / "lab-run.json").read_text())["run_id"]
    return [ns for ns in netns_list() if ns.startswith(RunNames(run_id).prefix)]


def test_dummy_scenario_records_everything_and_tears_down(tmp_path):
    raw = {
        "name": "dummy",
        "topology": str(DATA / "dummy-two-node.yaml"),
        "daemon": {"keepalive": "50ms"},
        "steps": [
            {"boot": ["bob", "bobek"]},
            {"probe": {"target": "vip", "every_ms": 5}},
            {"sleep": "200ms"},
            {"inject": {"fault": "power_off", "node": "bob"}},
            {"inject": {"fault": "power_on", "node": "bob"}},
            {"inject": {"fault": "link_cut", "link": "crossover", "how": "pull"}},
            {"heal": {"fault": "link_cut"}},
            {"sleep": "100ms"},
        ],
        "expect": [],
    }
    scenario = parse_scenario(raw, "dummy.yaml")
    result = run_scenario(scenario, seed=7, runs_root=tmp_path / "runs")
    assert result.error is None, result.error
    run_dir = result.run_dir
    assert _own_namespaces(run_dir) == []
    lab = [json.loads(line) for line in (run_dir / "lab.jsonl").read_text().splitlines()]
    events = [r["event"] for r in lab]
    assert events[0] == "run.start" and events[-1] == "run.end"
    injects = [r for r in lab if r["event"] == "fault.inject"]
    assert [r["fault"] for r in injects] == ["power_off", "power_on", "link_cut"]
    assert all(r["source"] == "lab" and isinstance(r["mono"], float) for r in lab)
    assert [r["fault"] for r in lab if r["event"] == "fault.heal"] == ["link_cut"]
    probes = [json.loads(line) for line in (run_dir / "probe.jsonl").read_text().splitlines()]
    assert probes and all(p["source"] == "probe" and "ok" in p and "rtt_ms" in p for p in probes)
    owners = (run_dir / "owners.jsonl").read_text().splitlines()
    assert owners and json.loads(owners[0])["owners"] == []  # sleep adds no VIP
    meta = json.loads((run_dir / "lab-run.json").read_text())
    assert meta["seed"] == 7 and meta["topology"] == "dummy-two-node"
    assert Path(run_dir / "nodes" / "bob" / "events.jsonl").is_symlink()


def test_a_failing_step_still_tears_down(tmp_path):
    raw = {
        "name": "dummy-fail",
        "topology": str(DATA / "dummy-two-node.yaml"),
        "steps": [
            {"boot": ["bob"]},
            {"wait_for": {"event": "group.active", "node": "bob", "within": "200ms"}},
        ],
        "expect": [],
    }
    result = run_scenario(parse_scenario(raw, "dummy.yaml"), seed=1, runs_root=tmp_path / "runs")
    assert result.error is not None and "group.active" in result.error and not result.ok
    assert _own_namespaces(result.run_dir) == []


def test_report_gives_the_run_its_own_verdict(short_runs_root, capsys):
    """`hblab report RUN_DIR` re-checks a recorded run from its files: a passing shared-disk run stays
    passing (report read the run without its shared disk and failed acked_records and single_writer)."""
    from lab.cli import main
    from lab.spec.scenario import load_scenario

    result = run_scenario(load_scenario("shared-disk-failover"), seed=3, runs_root=short_runs_root)
    assert result.ok, (result.error, [(r.name, r.detail) for r in result.results])
    verdict = {r.name: r.ok for r in result.results}
    assert {"acked_records", "single_writer"} <= set(verdict)
    capsys.readouterr()
    assert main(["report", str(result.run_dir)]) == 0
    lines = capsys.readouterr().out.split("\n")
    rechecked = {line.split()[1]: line.startswith("ok") for line in lines if line.strip()}
    assert rechecked == verdict
