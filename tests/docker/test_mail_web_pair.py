"""The article's active/active pair "mail + web" on Docker (issue 13): postfix + dovecot (the mail group,
home bob) and apache2 + PostgreSQL (the web group, home bobek) on every node (the mailweb image), one
shared disk per group, the database replicated; each node powered off in turn while clients use both
groups. Synchronous commit loses no acknowledged row, asynchronous commit's loss is measured; every
acknowledged mail is found. Both are `long` (about 2 minutes each): make test keeps the cheaper
mail-power-off and db-replication-sync-power-off, which run the same image machinery and scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.backends.docker import dockerd
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario
from tests.marks import long_unless

pytestmark = pytest.mark.docker

MAIL_WEB_PAIR = ("mail-web-pair-sync-power-off", "mail-web-pair-async-power-off")


@pytest.mark.parametrize("name", long_unless(MAIL_WEB_PAIR, kept=[]))
def test_mail_web_pair_scenario_passes(name: str, engine: dockerd.EngineState, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    failed = [r for r in result.results if not r.ok]
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    by_name = {r.name: r for r in result.results}
    assert by_name["acked_mail"].value == 0
    rows = by_name["acked_rows"]
    assert rows.values["acked"] >= 20 and "read back from bob" in rows.detail
    if name == "mail-web-pair-async-power-off":
        # bobek acknowledged on while bob's standby was cut off: those rows are gone after the takeover.
        assert rows.value == rows.values["lost"] and rows.value > 0
    else:
        assert rows.value == 0
    for protocol in ("smtp", "pop3", "imap", "http", "sql"):
        assert by_name[f"{protocol}_takeover_latency"].ok
