"""The article's mail server on Docker (issue 13): real postfix and dovecot started by hbd through the
mailer, pop3 and imapd init scripts, mail on the shared disk, a client speaking SMTP, POP3 and IMAP."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.backends.docker import dockerd
from lab.runner import run_scenario
from lab.spec.scenario import load_scenario
from tests.marks import long_unless

pytestmark = pytest.mark.docker

# Docker only (their topology runs from the mail image); each 40-70 s once the image is built.
# mail-article-ha-d runs from the article's own ha.d files, copied unchanged (topology `ha_d:`). The
# article's test plan on the mail server (experiments/article-mail-cluster): make test runs the power-off,
# make test-long the others.
MAIL = (
    "mail-power-off",
    "mail-soft-stop",
    "mail-article-ha-d",
    "mail-link-cut",
    "mail-boot-together",
    "mail-failback",
)


@pytest.mark.parametrize("name", long_unless(MAIL, kept=["mail-power-off"]))
def test_mail_scenario_passes(name: str, engine: dockerd.EngineState, short_runs_root: Path) -> None:
    result = run_scenario(load_scenario(name), backend_name="docker", runs_root=short_runs_root)
    assert result.error is None, f"{name}: {result.error} (run dir {result.run_dir})"
    failed = [r for r in result.results if not r.ok]
    assert not failed, f"{name}: failed checks {failed} (run dir {result.run_dir})"
    by_name = {r.name: r for r in result.results}
    # Mail flowed on both sides of the takeover: acknowledged before and after, all found by both readers
    # (where the mailboxes are shared: the article's own haresources shares none).
    if "acked_mail" in by_name:
        mail = by_name["acked_mail"]
        assert mail.values["imap_found"] == mail.values["pop3_found"] == mail.values["acked"]
    # Each protocol measured: its takeover (or failback) where the service moves, its outage where not.
    for protocol in ("smtp", "pop3", "imap"):
        measured = [f"{protocol}_{m}" for m in ("takeover_latency", "failback_latency", "outage")]
        assert any(m in by_name for m in measured), f"{name}: no {protocol} measure"
