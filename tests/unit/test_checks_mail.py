"""acked_mail (lab/checks/mail.py) over hand-made histories, and the mail client's greeting parser."""

from __future__ import annotations

from typing import Any

import pytest

from lab.checks import check_params, run_checks
from lab.checks.mail import acked_mail
from lab.history.records import History, history_from_records
from lab.node.mail_probe import node_of_greeting


def _smtp(mono: float, mail_id: str, acked: bool) -> dict[str, Any]:
    return {"mono": mono, "source": "probe", "event": "probe", "protocol": "smtp", "ok": acked,
            "answer": "bob", "mail_id": mail_id, "acked": acked}  # fmt: skip


def _inventory(protocol: str, ids: dict[str, int], ok: bool = True) -> dict[str, Any]:
    rec = {"mono": 100.0, "source": "probe", "event": "mail.inventory", "protocol": protocol, "ok": ok}
    return {**rec, "answer": "bobek", "ids": ids} if ok else {**rec, "error": "timeout"}


def _history(*records: dict[str, Any]) -> History:
    return history_from_records(list(records))


def _check(history: History, **params: Any) -> Any:
    return acked_mail(history, check_params({"check": "acked_mail", **params}))


SENT = (_smtp(1.0, "m1", True), _smtp(2.0, "m2", False), _smtp(3.0, "m3", True))


def test_every_acked_mail_found_once_by_both_readers_passes() -> None:
    # m2 was never acknowledged: delivered or not, it is not owed to anybody.
    both = {"m1": 1, "m3": 1}
    result = _check(_history(*SENT, _inventory("imap", both), _inventory("pop3", {**both, "m2": 1})))
    assert result.ok, result.detail
    assert result.value == 2
    assert result.values["imap_found"] == 2 and result.values["pop3_lost"] == 0


def test_an_acked_mail_missing_from_one_reader_fails() -> None:
    result = _check(_history(*SENT, _inventory("imap", {"m1": 1, "m3": 1}), _inventory("pop3", {"m1": 1})))
    assert not result.ok
    assert "pop3: 1 acknowledged mail(s) missing (m3)" in result.detail
    assert result.values["pop3_lost"] == 1


def test_a_mail_delivered_twice_fails() -> None:
    twice = {"m1": 2, "m3": 1}
    result = _check(_history(*SENT, _inventory("imap", twice), _inventory("pop3", twice)))
    assert not result.ok
    assert "imap: 1 mail(s) in the mailbox twice (m1)" in result.detail


@pytest.mark.parametrize("missing", ["imap", "pop3"])
def test_no_inventory_of_a_reader_fails(missing: str) -> None:
    other = "pop3" if missing == "imap" else "imap"
    result = _check(_history(*SENT, _inventory(other, {"m1": 1, "m3": 1})))
    assert not result.ok
    assert f"{missing}: no inventory" in result.detail


def test_a_failed_inventory_fails() -> None:
    result = _check(_history(*SENT, _inventory("imap", {}, ok=False), _inventory("pop3", {"m1": 1, "m3": 1})))
    assert not result.ok
    assert "imap: inventory failed: timeout" in result.detail


def test_too_few_acknowledged_mails_fail() -> None:
    history = _history(_smtp(1.0, "m1", False), _inventory("imap", {}), _inventory("pop3", {}))
    assert not _check(history).ok
    assert _check(history, min_acked=0).ok


def test_acked_mail_is_a_scenario_check() -> None:
    both = {"m1": 1, "m3": 1}
    [result] = run_checks(_history(*SENT, _inventory("imap", both), _inventory("pop3", both)),
                          [{"check": "acked_mail", "min_acked": 2}])  # fmt: skip
    assert result.ok, result.detail


@pytest.mark.parametrize(
    ("greeting", "node"),
    [
        ("bob.lab.test ESMTP hblab", "bob"),
        ("+OK bobek pop3 ready.", "bobek"),
        ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE] bob imap ready.", "bob"),
        ("", None),
    ],
)
def test_the_node_is_read_from_the_greeting(greeting: str, node: str | None) -> None:
    assert node_of_greeting(greeting) == node
