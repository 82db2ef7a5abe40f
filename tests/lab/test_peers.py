"""Root lab test: one peer (keepalived) through a single bench power-off in real namespaces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.bench.metrics import run_metrics
from lab.bench.run import BenchRun
from lab.bench.suite import bench_scenario, select_settings
from lab.history.records import load_history
from tests.lab.conftest import netns_list


@pytest.mark.root
def test_keepalived_power_off_moves_the_vip(tmp_path: Path) -> None:
    if shutil.which("keepalived") is None:
        pytest.skip("keepalived is not installed (apt-get install -y keepalived)")
    setting = select_settings(["keepalived v3 100ms"])[0]
    run = BenchRun(bench_scenario("power-off", setting), setting, runs_root=tmp_path, seed=7)
    result = run.execute()
    assert result.error is None, result.error
    assert not [n for n in netns_list() if n.startswith(run.backend.names.prefix)]
    conf = (result.run_dir / "nodes" / "bob" / "peer" / "keepalived.conf").read_text()
    assert "advert_int 0.10" in conf
    m = run_metrics(load_history(result.run_dir), "power-off")
    # The survivor answered (no bound on how fast: the machine is shared), took the VIP once while
    # probing (the boot before it is setup), and the VIP was never held twice.
    assert m["takeover_s"] is not None and m["takeover_s"] > 0
    assert m["acquisitions"] == 1 and m["false_failovers"] == 0 and m["dual_owner_s"] == 0
