"""The web + database group of the article's active/active pair on Docker (issue 13): real apache2 and
PostgreSQL 15 started by hbd through the webserver and pgsql init scripts, their files on the shared disk,
a client speaking HTTP and SQL; every committed row is there after the takeover."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.backends.docker import dockerd
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario

pytestmark = pytest.mark.docker

# Docker only (their topology runs from the webdb image). web-db-power-off takes about 40 s once the image
# is built; the replication scenarios are run by experiments/db-replication (hblab experiment).
WEBDB = ("web-db-power-off",)


@pytest.mark.parametrize("name", WEBDB)
def test_web_db_scenario_passes(name: str, engine: dockerd.EngineState, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    failed = [r for r in result.results if not r.ok]
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    by_name = {r.name: r for r in result.results}
    # Rows were committed before and after the takeover, read back from the survivor, none lost.
    rows = by_name["acked_rows"]
    assert rows.value == 0 and rows.values["acked"] >= 20
    assert "read back from bob" in rows.detail
    for protocol in ("http", "sql"):
        assert by_name[f"{protocol}_takeover_latency"].ok
