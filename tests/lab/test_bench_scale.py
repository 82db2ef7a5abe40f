"""Root lab test: the scale bench (lab/bench/scale.py) end to end at a small size, one run each (~7 s):
hbd with 10 VIPs in one group through a soft stop; keepalived with 10 VIPs in one instance (long)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab.bench.scale import SETTINGS, Case, run_case, vips
from lab.bench.scale_report import write_scale_outputs

CASE = Case("vips", 10)


def _setting(label: str):
    return next(s for s in SETTINGS if s.label == label)


def test_hbd_soft_stop_with_ten_vips_serves_the_last_one(tmp_path: Path) -> None:
    row = run_case(CASE, "soft-stop", _setting("hbd 50/300ms"), tmp_path / "runs", seed=7)
    assert "error" not in row, row.get("error")
    m = row["metrics"]
    # The probed address is the tenth, and the survivor added it last of the ten it added.
    assert m["vips_added"] == 10 and m["garp_vips"] == 10 and m["probed_last"] is True
    assert m["arp_vips"] == 10 and m["arp_frames"] >= 20  # the client saw a request and a reply for each
    assert m["takeover_s"] is not None and m["takeover_s"] > 0 and m["dual_owner_s"] == 0
    haresources = (Path(m["run_dir"]) / "nodes" / "bob" / "ha.d" / "haresources").read_text()
    assert haresources.rstrip().endswith(f"IPaddr::{vips(10)[-1].ip}/22/eth0")
    for node in ("bob", "bobek"):  # supervisor and worker, sampled over the steady window
        usage = m["usage"][node]
        assert len(usage["pids"]) == 2 and usage["rss_mb"] > 5 and usage["cpu_pct"] > 0
    out = write_scale_outputs([row], tmp_path / "out", {"started": "t", "repeat": 1, "cpus": 2, "lan": "x"})
    assert [p.name for p in out] == ["bench.json", "bench.md", "bench.png"]
    assert json.loads(out[0].read_text())["cells"][0]["probed_last"] == [True]


@pytest.mark.long  # keepalived through a bench run is in make test already (tests/lab/test_peers.py)
def test_keepalived_with_ten_vips_in_one_instance_moves_them(tmp_path: Path) -> None:
    if shutil.which("keepalived") is None:
        pytest.skip("keepalived is not installed (apt-get install -y keepalived)")
    row = run_case(CASE, "power-off", _setting("keepalived v3 100ms"), tmp_path / "runs", seed=7)
    assert "error" not in row, row.get("error")
    m = row["metrics"]
    assert m["takeover_s"] is not None and m["takeover_s"] > 0 and m["dual_owner_s"] == 0
    conf = (Path(m["run_dir"]) / "nodes" / "bobek" / "peer" / "keepalived.conf").read_text()
    assert conf.count("vrrp_instance") == 1 and conf.count(" dev eth0") == 10
    assert m["usage"]["bobek"]["rss_mb"] > 1 and m["arp_vips"] == 10
