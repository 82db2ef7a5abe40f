"""Verdicts: pure checkers over a recorded History (Jepsen's checkers, Pacemaker CTS's BadNews).

Each checker takes the history and the typed parameters of one `expect:` item (declared once in
lab/spec/check_params.py: durations already in seconds) and returns a CheckResult. Times are seconds on the
shared monotonic clock; `detail` gives them relative to the first fault (or the history start) so a reader
can find them on the timeline. A checker that cannot see what it needs fails: a latency "measured" from
missing records is worse than none.

Layers, bottom up: result (CheckResult), timeline (where things are in a history), then one module per
family — latency, ownership, events, safety — and this registry. Checks import only lab.history and the
parameter declarations of lab.spec: never backends, faults or the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lab.checks.events import bad_news, link_down_named, no_event, no_failover
from lab.checks.latency import breakdown, outage, takeover_latency
from lab.checks.mail import acked_mail
from lab.checks.metrics import metrics_agree
from lab.checks.ownership import failback, group_owners, single_owner
from lab.checks.result import CheckParamError, CheckResult
from lab.checks.rows import acked_rows
from lab.checks.safety import acked_records, fences, links_down_only, single_writer
from lab.history.records import History
from lab.spec.check_params import CHECK_PARAMS, COMMON_KEYS
from lab.spec.params import parse_params

__all__ = [
    "CHECKS",
    "CheckParamError",
    "CheckResult",
    "all_ok",
    "breakdown",
    "check_params",
    "group_owners",
    "outage",
    "run_checks",
    "takeover_latency",
]

Checker = Callable[[History, Any], CheckResult]

CHECKS: dict[str, Checker] = {
    "takeover_latency": takeover_latency,
    "outage": outage,
    "single_owner": single_owner,
    "failback": failback,
    "bad_news": bad_news,
    "no_failover": no_failover,
    "link_down_named": link_down_named,
    "breakdown": breakdown,
    "no_event": no_event,
    "fences": fences,
    "links_down_only": links_down_only,
    "acked_records": acked_records,
    "acked_rows": acked_rows,
    "acked_mail": acked_mail,
    "single_writer": single_writer,
    "metrics_agree": metrics_agree,
}
if set(CHECKS) != set(CHECK_PARAMS):  # a declared check without a checker, or the reverse
    raise ImportError(f"checks and their declarations differ: {sorted(set(CHECKS) ^ set(CHECK_PARAMS))}")


def check_params(item: Mapping[str, Any]) -> Any:
    """The typed parameters of one expect item; CheckParamError names the first bad key and why."""
    check = str(item.get("check", ""))
    params, problems = parse_params(CHECK_PARAMS[check], item, owner=check, ignore=COMMON_KEYS)
    if problems:
        raise CheckParamError("; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems))
    return params


def run_checks(history: History, expect: list[dict[str, Any]]) -> list[CheckResult]:
    """Run every expect item; never raises: a bad item or a crashing checker becomes a failed result."""
    results: list[CheckResult] = []
    for index, item in enumerate(expect):
        if not isinstance(item, Mapping):
            results.append(CheckResult(f"expect[{index}]", False, detail=f"not a mapping: {item!r}"))
            continue
        check = str(item.get("check", ""))
        name = str(item.get("name") or check or f"expect[{index}]")
        checker = CHECKS.get(check)
        if checker is None:
            known = ", ".join(CHECKS)
            results.append(
                CheckResult(name, False, detail=f"unknown check {check!r} (known: {known})", check=check)
            )
            continue
        try:
            result = checker(history, check_params(item))
        except CheckParamError as exc:
            result = CheckResult(check, False, detail=f"bad parameter {exc}")
        except Exception as exc:  # a checker bug must not hide the other verdicts
            result = CheckResult(check, False, detail=f"checker crashed: {type(exc).__name__}: {exc}")
        results.append(
            CheckResult(name, result.ok, result.value, result.unit, result.detail, result.values, check=check)
        )
    return results


def all_ok(results: list[CheckResult]) -> bool:
    return all(r.ok for r in results)
