"""lab.cluster without root: arguments are checked by the scenario file's parser (same messages, with the
caller's FILE:LINE), before anything is built; the plugin's failure text names where to look."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lab.backends.base import LabError
from lab.checks.result import CheckResult
from lab.cluster import Cluster, run_name
from lab.pytest_plugin import describe
from lab.spec.fault_params import FAULTS
from lab.spec.scenario import ScenarioError, parse_daemon, parse_expect_item, parse_step

HERE = Path(__file__).name


@pytest.fixture
def cluster(short_runs_root: Path) -> Cluster:
    """A cluster that is never started: validation happens before the backend is touched."""
    return Cluster("two-node", daemon={"keepalive": "50ms", "deadtime": "300ms"}, runs_root=short_runs_root)


def test_parse_step_reads_like_a_scenario_file() -> None:
    step = parse_step("inject", {"fault": "power_off", "node": "bob"}, "t.py:3")
    assert (step.kind, step.args["fault"], step.where) == ("inject", "power_off", "t.py:3")
    with pytest.raises(ScenarioError, match=r"^t\.py:3: inject\.fault: unknown fault 'powr_off' \(known: "):
        parse_step("inject", {"fault": "powr_off"}, "t.py:3")
    with pytest.raises(ScenarioError, match=r"^t\.py:4: wait_for\.within: required"):
        parse_step("wait_for", {"event": "group.active"}, "t.py:4")
    with pytest.raises(ScenarioError, match=r"^t\.py:5: unknown step 'reboot'"):
        parse_step("reboot", {}, "t.py:5")


def test_parse_daemon_and_expect_item() -> None:
    assert parse_daemon({"keepalive": "50ms", "auto_failback": True}, "t.py:1") == {
        "keepalive": "50ms",
        "auto_failback": "on",
    }
    with pytest.raises(ScenarioError, match=r"^t\.py:1: daemon\.deadtime: must be longer than keepalive"):
        parse_daemon({"keepalive": "1s", "deadtime": "500ms"}, "t.py:1")
    assert parse_expect_item({"check": "takeover_latency", "max": "1s"}, "t.py:2")["max"] == "1s"
    with pytest.raises(ScenarioError, match=r"^t\.py:2: expect\.max: unknown unit 'x'"):
        parse_expect_item({"check": "takeover_latency", "max": "1x"}, "t.py:2")
    with pytest.raises(ScenarioError, match=r"^t\.py:2: expect\.check: unknown check 'fast'"):
        parse_expect_item({"check": "fast"}, "t.py:2")


def test_a_bad_daemon_setting_names_the_callers_line(short_runs_root: Path) -> None:
    with pytest.raises(ScenarioError) as err:
        Cluster("two-node", daemon={"keepalive": "5 parsecs"}, runs_root=short_runs_root)
    assert str(err.value).startswith(f"{HERE}:")
    assert "daemon.keepalive: unknown unit 'parsecs'" in str(err.value)


def test_step_arguments_are_checked_before_anything_runs(cluster: Cluster) -> None:
    with pytest.raises(ScenarioError, match=rf"^{HERE}:\d+: inject\.fault: unknown fault 'powr_off'"):
        cluster.inject("powr_off", node="bob")
    with pytest.raises(ScenarioError, match=rf"^{HERE}:\d+: boot\.nodes: unknown node 'alice' in topology"):
        cluster.boot("bob", "alice")
    with pytest.raises(ScenarioError, match=rf"^{HERE}:\d+: expect\.max: unknown unit"):
        cluster.check("takeover_latency", max="1 fortnight")
    assert cluster.steps == 0  # nothing was carried out


def test_a_fault_declared_for_some_backends_is_refused_on_another(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No shipped fault is limited any more (the scapy attacks run on Docker too): a declared one is.
    limited = dataclasses.replace(FAULTS["junk_flood"], backends=("netns",), backends_why="a reason")
    monkeypatch.setitem(FAULTS, "junk_flood", limited)
    refused = rf"^{HERE}:\d+: inject\.fault: junk_flood needs the netns backend \(a reason"
    with pytest.raises(ScenarioError, match=refused):
        Cluster("two-node", backend="docker", runs_root=cluster.run_dir.parent.parent).inject(
            "junk_flood", node="bob", link="lan"
        )


def test_a_closed_cluster_refuses_steps(cluster: Cluster) -> None:
    cluster.run.finished = True  # as after close(): no backend was built here
    with pytest.raises(LabError, match=r"the cluster is closed"):
        cluster.sleep("1ms")


def test_a_runs_root_too_long_for_unix_sockets_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60)
    with pytest.raises(LabError, match=r"over the 107 a unix socket path may have: choose a shorter"):
        Cluster("two-node", runs_root=deep)


def test_run_name() -> None:
    assert run_name("test_power_off[netns]") == "test_power_off-netns"
    assert run_name("Test Über Long Name That Goes On And On") == "test-ber-long-name-that"
    assert run_name("[]") == "cluster"


def test_describe_names_run_dir_timeline_and_failed_checks(cluster: Cluster) -> None:
    cluster.checks += [
        CheckResult("single_owner", True),
        CheckResult("takeover_latency", False, 1.5, "s", "first answer after 1.500s > max 1.000s"),
    ]
    text = describe(cluster)
    assert f"run dir:  {cluster.run_dir}" in text
    assert f"timeline: {cluster.run_dir / 'timeline.png'}" in text
    assert "takeover_latency = 1.5 s: first answer after 1.500s > max 1.000s" in text
    assert "single_owner" not in text  # only the failing ones


def test_newest_reads_complete_lines_of_a_growing_file(tmp_path: Path) -> None:
    from lab.cluster import _newest

    path = tmp_path / "probe.jsonl"
    path.write_text("")
    assert _newest(path, "sent_mono") == 0.0
    # Attempts overlap: an old attempt's timeout can be the last line; a line being written is not read.
    path.write_text('{"sent_mono": 5.0}\n{"sent_mono": 7.0}\n{"sent_mono": 4.0}\n{"sent_mono": 9')
    assert _newest(path, "sent_mono") == 7.0


def test_topology_ref_names_shipped_topologies_and_resolves_others(tmp_path: Path) -> None:
    from lab.cluster import _topology_ref
    from lab.paths import TOPOLOGY_DIR

    assert _topology_ref(TOPOLOGY_DIR / "two-node.yaml") == "two-node"
    assert _topology_ref(tmp_path / "mine.yaml") == str((tmp_path / "mine.yaml").resolve())
