"""acked_rows: every acknowledged INSERT is in the table read back at the end; loss is counted, not hidden."""

from __future__ import annotations

from typing import Any

from lab.checks import check_params, run_checks
from lab.checks.rows import acked_rows
from lab.history.records import History, record_from_dict


def history(*objs: dict[str, Any]) -> History:
    return History(records=tuple(record_from_dict(o, "probe") for o in objs))


def insert(mono: float, row: str, ok: bool, node: str | None = "bobek") -> dict[str, Any]:
    rec: dict[str, Any] = {"mono": mono, "event": "probe", "protocol": "sql", "id": row, "ok": ok}
    return {**rec, "answer": node if ok else None, **({} if ok else {"error": "timeout"})}


def readback(mono: float, *ids: str, node: str = "bob") -> dict[str, Any]:
    return {"mono": mono, "event": "sql.rows", "ids": list(ids), "node": node}


def params(**kw: Any) -> Any:
    return check_params({"check": "acked_rows", **kw})


def test_every_acked_row_present_passes_and_counts_rows_in_doubt() -> None:
    h = history(insert(1, "a", True), insert(2, "b", False), insert(3, "c", True), readback(9, "a", "b", "c"))
    r = acked_rows(h, params())
    assert r.ok and r.value == 0
    assert r.values == {"acked": 2, "lost": 0, "in_doubt": 1, "in_doubt_committed": 1}


def test_a_lost_acked_row_fails_and_is_named() -> None:
    h = history(insert(1, "a", True), insert(2, "b", True), readback(9, "a"))
    r = acked_rows(h, params())
    assert not r.ok and r.value == 1
    assert "b (acked by bobek" in r.detail and "1 lost (allowed 0)" in r.detail


def test_max_lost_accepts_a_measured_loss_and_still_reports_it() -> None:
    h = history(insert(1, "a", True), insert(2, "b", True), readback(9, "a"))
    r = acked_rows(h, params(max_lost=1))
    assert r.ok and r.value == 1 and r.values["lost"] == 1


def test_no_readback_or_a_failed_one_fails() -> None:
    assert not acked_rows(history(insert(1, "a", True)), params()).ok
    failed = {"mono": 9, "event": "sql.rows", "error": "could not read the table back: timeout"}
    r = acked_rows(history(insert(1, "a", True), failed), params())
    assert not r.ok and "timeout" in r.detail


def test_too_few_acknowledged_rows_fail() -> None:
    r = acked_rows(history(insert(1, "a", False), readback(9)), params())
    assert not r.ok and "min_acked" in r.detail


def test_other_probes_do_not_count_and_latency_checks_select_by_protocol() -> None:
    tcp = {"mono": 1.5, "event": "probe", "ok": True, "answer": "bob"}
    fault = {"mono": 1.0, "event": "fault.inject", "fault": "power_off", "node": "bob"}
    h = History(
        records=(
            record_from_dict(fault, "lab"),
            record_from_dict(tcp, "probe"),
            record_from_dict(insert(2.0, "a", True, node="bobek"), "probe"),
            record_from_dict(readback(9, "a"), "probe"),
        )
    )
    assert acked_rows(h, params()).values["acked"] == 1
    [sql, anyone] = run_checks(
        h, [{"check": "takeover_latency", "protocol": "sql"}, {"check": "takeover_latency", "by": "bob"}]
    )
    assert sql.ok and abs(sql.value - 1.0) < 1e-9
    assert anyone.ok and abs(anyone.value - 0.5) < 1e-9
