"""The pytest plugin as a downstream user meets it: pytester writes a test file in a temporary directory
(outside this repository, no conftest, no ini), a separate pytest process runs it, and that process finds the
plugin only through the installed `pytest11` entry point."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.cli import main as lab_cli
from lab.spec.scenario import load_scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
DUMMY = Path(__file__).parent / "data" / "dummy-two-node.yaml"

# The example, verbatim: only the public API.
POWER_OFF = """
def test_power_off(hblab_cluster):
    c = hblab_cluster("two-node", daemon={"keepalive": "50ms", "deadtime": "300ms"})
    c.boot("bob", "bobek")
    c.wait_for("group.active", node="bob", within="10s")
    c.probe("vip", every_ms=5)
    c.inject("power_off", node="bob")
    c.wait_for("group.active", node="bobek", within="5s")
    assert c.check("takeover_latency", max="1s").ok
    assert c.check("single_owner").ok
"""


def leftover_netns(run_dir: Path) -> list[str]:
    """The run's namespaces still there (other engineers' runs may have theirs: only this run's prefix)."""
    prefix = f"hbl{json.loads((run_dir / 'lab-run.json').read_text())['run_id']}-"
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [ns for ns in names if ns.startswith(prefix)]


def run_dirs(runs_root: Path) -> list[Path]:
    return sorted(p.parent for p in runs_root.glob("*/*/lab-run.json") if not p.parent.is_symlink())


def run_outside(pytester: pytest.Pytester, runs_root: Path, *args: str) -> pytest.RunResult:
    assert not str(pytester.path).startswith(str(ROOT))
    assert not list(pytester.path.glob("conftest.py"))
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--hblab-runs-root={runs_root}", *args, timeout=300
    )


def test_power_off_from_a_file_outside_the_repository(pytester: pytest.Pytester, short_runs_root: Path):
    pytester.makepyfile(test_downstream=POWER_OFF)
    result = run_outside(pytester, short_runs_root, "--hblab-backend=netns")
    result.assert_outcomes(passed=1)
    (run_dir,) = run_dirs(short_runs_root)
    verdict = json.loads((run_dir / "result.json").read_text())
    assert [c["name"] for c in verdict["checks"]] == ["takeover_latency", "single_owner"]
    assert all(c["ok"] for c in verdict["checks"])
    assert (run_dir / "timeline.png").is_file()
    assert leftover_netns(run_dir) == [], "the cluster's namespaces outlived the test"
    # The calls were recorded as a scenario file: `hblab report` re-checks the run from it.
    replay = load_scenario(run_dir / "scenario.yaml")
    assert [s.kind for s in replay.steps] == ["boot", "wait_for", "probe", "inject", "wait_for"]
    assert (replay.topology, replay.daemon) == ("two-node", {"keepalive": "50ms", "deadtime": "300ms"})
    assert lab_cli(["report", str(run_dir)]) == 0


def test_a_failing_check_shows_run_dir_failed_checks_and_timeline(
    pytester: pytest.Pytester, short_runs_root: Path
):
    pytester.makepyfile(
        test_fails="""
        def test_boot(hblab_cluster):
            c = hblab_cluster("two-node", daemon={"keepalive": "50ms", "deadtime": "300ms"})
            c.boot("bob", "bobek")
            c.wait_for("group.active", node="bob", within="10s")
            assert c.check("no_event", event="group.active").ok
        """
    )
    result = run_outside(pytester, short_runs_root, "--show-capture=no")
    result.assert_outcomes(failed=1)
    (run_dir,) = run_dirs(short_runs_root)
    result.stdout.fnmatch_lines(
        [
            "*- hblab -*",
            f"run dir:  {run_dir}",
            "cluster:  two-node on netns, seed *",
            f"timeline: {run_dir / 'timeline.png'}",
            "failed checks:",
            "  no_event*group.active*",
        ]
    )
    assert (run_dir / "timeline.png").is_file(), "the timeline the report names must exist"


def test_interrupted_test_still_tears_down(pytester: pytest.Pytester, short_runs_root: Path):
    """Ctrl-C mid-test (KeyboardInterrupt): pytest stops, the cluster (from the user's own topology file,
    given by path) is still removed, and lab.jsonl ends with run.end."""
    shutil.copy(DUMMY, pytester.path / "my-topology.yaml")
    pytester.makepyfile(
        test_interrupt="""
        def test_interrupted(hblab_cluster):
            c = hblab_cluster("my-topology.yaml")
            c.boot("bob", "bobek")
            raise KeyboardInterrupt
        """
    )
    result = run_outside(pytester, short_runs_root)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    (run_dir,) = run_dirs(short_runs_root)
    events = [json.loads(line).get("event") for line in (run_dir / "lab.jsonl").read_text().splitlines()]
    assert "boot" in events and events[-1] == "run.end"
    assert leftover_netns(run_dir) == [], "an interrupted test left its namespaces"


def test_the_docs_example_runs_as_written(pytester: pytest.Pytester, short_runs_root: Path):
    """docs/pytest.md's downstream example (its netns tests: heal, sleep, exec, history and a topology file of
    the user's own), taken from the page itself so the page cannot drift from the API."""
    page = (ROOT / "docs" / "pytest.md").read_text()
    start = "`tests/test_failover.py` in your repository:\n\n```python\n"
    code = page.split(start, 1)[1].split("\n```", 1)[0]
    tests = pytester.mkdir("tests")
    (tests / "test_failover.py").write_text(code)
    topology = (ROOT / "lab" / "topologies" / "two-node.yaml").read_text()
    (tests / "my-cluster.yaml").write_text(topology.replace("name: two-node", "name: my-cluster"))
    result = run_outside(pytester, short_runs_root, "-m", "not hblab_docker", "tests/test_failover.py")
    result.assert_outcomes(passed=2, deselected=1)


def test_sigterm_still_tears_down(pytester: pytest.Pytester, short_runs_root: Path):
    """A CI runner's timeout (SIGTERM to pytest) mid-test: the cluster is removed before pytest exits."""
    shutil.copy(DUMMY, pytester.path / "my-topology.yaml")
    pytester.makepyfile(
        test_sigterm="""
        import time

        def test_hangs(hblab_cluster):
            c = hblab_cluster("my-topology.yaml")
            c.boot("bob", "bobek")
            time.sleep(120)
        """
    )
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--hblab-runs-root={short_runs_root}"]
    proc = subprocess.Popen(argv, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not any('"event": "boot"' in p.read_text() for p in short_runs_root.glob("*/2*/lab.jsonl")):
            assert proc.poll() is None and time.monotonic() < deadline, "the test never booted its cluster"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    (run_dir,) = run_dirs(short_runs_root)
    events = [json.loads(line).get("event") for line in (run_dir / "lab.jsonl").read_text().splitlines()]
    assert events[-1] == "run.end"
    assert leftover_netns(run_dir) == [], "SIGTERM left the cluster's namespaces"
