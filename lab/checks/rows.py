"""acked_rows: no row whose COMMIT the database acknowledged is gone after the failover.

The SQL probe (lab/node/app_probe.py) records one `probe` record per INSERT (protocol sql, its `id`, ok
when the commit was answered) and, when the run ends, one `sql.rows` record with every id it read back
from the table on the VIP. An acknowledged id missing from that read is a lost row: with asynchronous
replication the promoted standby may not have it. The loss is the check's value and is listed in the
detail; `max_lost` says how many a scenario accepts. Rows whose INSERT failed are in doubt (the commit may
have happened with its answer lost): found or not, they are only counted.
"""

from __future__ import annotations

from lab.checks.result import CheckResult, Number
from lab.checks.timeline import at
from lab.history.records import History
from lab.spec.check_params import AckedRows

SHOWN = 10  # lost ids named in the detail; the values carry the count


def acked_rows(history: History, params: AckedRows) -> CheckResult:
    attempts = history.probes("sql")
    acked = {str(r.get("id")): r for r in attempts if r.get("ok") and r.get("id")}
    doubtful = {str(r.get("id")) for r in attempts if not r.get("ok") and r.get("id")}
    reads = history.select("sql.rows", source="probe")
    if not reads:
        return CheckResult("acked_rows", False, unit="rows", detail="the SQL probe never read the table back")
    final = reads[-1]
    if final.get("error") or not isinstance(final.get("ids"), list):
        return CheckResult(
            "acked_rows", False, unit="rows", detail=f"reading the table back failed: {final.get('error')}"
        )
    present = {str(i) for i in final.get("ids") or []}
    lost = sorted((r for i, r in acked.items() if i not in present), key=lambda r: r.mono)
    doubtful_found = len(doubtful & present)
    values: dict[str, Number] = {
        "acked": len(acked),
        "lost": len(lost),
        "in_doubt": len(doubtful),
        "in_doubt_committed": doubtful_found,
    }
    enough = len(acked) >= params.min_acked
    ok = enough and len(lost) <= params.max_lost
    detail = (
        f"{len(acked)} rows acknowledged, {len(lost)} lost (allowed {params.max_lost}); "
        f"{len(doubtful)} in doubt, {doubtful_found} of them committed; read back from {final.get('node')}"
    )
    if lost:
        named = [f"{r.get('id')} (acked by {r.get('answer')} at {at(history, r.mono)})" for r in lost[:SHOWN]]
        detail += f"; lost: {', '.join(named)}{', ...' if len(lost) > SHOWN else ''}"
    if not enough:
        detail += f"; fewer than min_acked {params.min_acked} acknowledged rows"
    return CheckResult("acked_rows", ok, len(lost), "rows", detail, values)
