"""The pytest plugin's Docker mode as a downstream user meets it: the issue's power-off example, in a file
outside this repository with no conftest, run by a separate pytest with `--hblab-backend docker`.

The `hbd_image` fixture (conftest.py) starts the engine when needed and builds the node image once per
session (content-addressed), so the inner run finds both and only builds the cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.backends.docker.backend import LABEL

pytestmark = pytest.mark.docker
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

POWER_OFF = """
import pytest

@pytest.mark.hblab_docker
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


def test_power_off_on_docker_from_a_file_outside_the_repository(
    hbd_image: str, pytester: pytest.Pytester, short_runs_root: Path
):
    import docker

    assert not str(pytester.path).startswith(str(ROOT))
    pytester.makepyfile(test_downstream=POWER_OFF)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--hblab-runs-root={short_runs_root}", "--hblab-backend=docker",
        timeout=600,
    )
    result.assert_outcomes(passed=1)
    (run_dir,) = [p.parent for p in short_runs_root.glob("*/*/lab-run.json") if not p.parent.is_symlink()]
    meta = json.loads((run_dir / "lab-run.json").read_text())
    assert meta["backend"] == "docker"
    verdict = json.loads((run_dir / "result.json").read_text())
    assert [c["name"] for c in verdict["checks"] if c["ok"]] == ["takeover_latency", "single_owner"]
    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"{LABEL}={meta['run_id']}"})
        assert left == [], "the cluster's containers outlived the test"
    finally:
        client.close()
