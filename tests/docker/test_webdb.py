"""The web + database group of the article's active/active pair on Docker (issue 13): real apache2 and
PostgreSQL 15 started by hbd through the webserver and pgsql init scripts, their files on the shared disk,
a client speaking HTTP and SQL; every committed row is there after the takeover. The database replicated
instead (PostgreSQL streaming replication, pgpromote/pgstandby): synchronous commit loses no acknowledged
row, asynchronous commit's loss is measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.backends.docker import dockerd
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario
from tests.marks import long_unless

pytestmark = pytest.mark.docker

# Docker only (their topologies run from the webdb image); all four took 90 s here once the image was built.
WEBDB = (
    "web-db-power-off",
    "web-db-soft-stop",
    "db-replication-sync-power-off",
    "db-replication-async-power-off",
)


@pytest.mark.parametrize(
    "name", long_unless(WEBDB, kept=["web-db-power-off", "db-replication-sync-power-off"])
)
def test_web_db_scenario_passes(name: str, engine: dockerd.EngineState, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    failed = [r for r in result.results if not r.ok]
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    by_name = {r.name: r for r in result.results}
    # Rows were committed before and after the takeover and read back from the survivor.
    rows = by_name["acked_rows"]
    assert rows.values["acked"] >= 20 and "read back from bob" in rows.detail
    if name == "db-replication-async-power-off":
        # The primary acknowledged on while its standby was cut off: those rows are gone after the
        # takeover, counted in the value and named in the detail (measured: 221 of 753).
        assert rows.value == rows.values["lost"] and rows.value > 0
        assert "lost: " in rows.detail
    else:
        assert rows.value == 0  # shared disk, or synchronous commit: nothing acknowledged is lost
    assert by_name["sql_takeover_latency"].ok
    if name.startswith("web-db-"):
        assert by_name["http_takeover_latency"].ok
