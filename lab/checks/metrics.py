"""metrics_agree: hbd's Prometheus counters, scraped inside each node during the run (lab/node/scraper.py),
against the same node's events.jsonl.

A scrape is served on the daemon's event loop, between two events (hbd/metrics.py), and the scraper notes
when it asked (`sent_mono`) and when the answer came (`mono`). So for every counter derived from events,
the value scraped must lie between the number of matching events written before `sent_mono` and the number
written by `mono`. The worker that answered is the one whose `daemon.start` carries the scraped
`hbd_generation`: its counters begin at that record (a restarted worker starts from zero), and the
supervisor's `daemon.restarted` records (another process) are not among them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hbd.event_names import DAEMON_RESTARTED, DAEMON_START, GROUP_ACQUIRE_START, PACKET_REJECTED
from lab.checks.result import CheckResult
from lab.checks.timeline import at
from lab.history.records import History, Record
from lab.spec.check_params import MetricsAgree

SampleKey = tuple[str, frozenset[tuple[str, str]]]
MAX_SHOWN = 5


def metrics_agree(history: History, params: MetricsAgree) -> CheckResult:
    nodes = sorted({r.node for r in history.select(source="node") if r.node})
    problems: list[str] = []
    scraped = 0
    for node in nodes:
        events = history.select(source="node", node=node)
        attempts = history.scrapes(node)
        scrapes = [s for s in attempts if s.get("ok")]
        scraped += len(scrapes)
        if len(scrapes) < params.min_scrapes:
            why = (
                f" (last error: {attempts[-1].get('error')})"
                if attempts and not attempts[-1].get("ok")
                else ""
            )
            problems.append(f"{node}: {len(scrapes)} successful scrapes of {len(attempts)}, need "
                            f"{params.min_scrapes}{why}")  # fmt: skip
        for scrape in scrapes:
            problems += [
                f"{node} scrape at {at(history, scrape.mono)}: {p}" for p in _compare(scrape, events)
            ]
    ok = not problems
    detail = (
        f"{scraped} scrapes on {len(nodes)} nodes agree with events.jsonl"
        if ok
        else "; ".join(problems[:MAX_SHOWN])
        + (f" ... ({len(problems)} in all)" if len(problems) > MAX_SHOWN else "")
    )
    return CheckResult(
        "metrics_agree", ok, len(problems), "disagreements", detail, {"scrapes": scraped, "nodes": len(nodes)}
    )


def _samples(scrape: Record) -> dict[SampleKey, float]:
    out: dict[SampleKey, float] = {}
    for name, labels, value in scrape.get("samples") or ():
        out[(str(name), frozenset((str(k), str(v)) for k, v in dict(labels).items()))] = float(value)
    return out


def _compare(scrape: Record, node_events: list[Record]) -> list[str]:
    samples = _samples(scrape)
    t0, t1 = float(scrape.get("sent_mono", scrape.mono)), scrape.mono
    generation = samples.get(("hbd_generation", frozenset()))
    starts = [r for r in node_events if r.event == DAEMON_START and r.mono <= t1]
    start = next((r for r in reversed(starts) if r.get("generation") == generation), None)
    if start is None:
        return [f"no daemon.start with the scraped generation {generation} before the scrape"]
    later = [r for r in node_events if r.event == DAEMON_START and r.mono > start.mono]
    end = later[0].mono if later else float("inf")
    own = [r for r in node_events if start.mono <= r.mono < end and r.event != DAEMON_RESTARTED]
    problems = _bounded(
        samples,
        "hbd_events_total",
        own,
        t0,
        t1,
        lambda r: {"event": r.event, "level": r.level},
    )
    acquisitions = [r for r in own if r.event == GROUP_ACQUIRE_START and _cause(r).startswith("peer")]
    problems += _bounded(
        samples,
        "hbd_failovers_total",
        acquisitions,
        t0,
        t1,
        lambda r: {"group": str(r.get("group", "")), "cause": _cause(r)},
    )
    problems += _rejections(samples, own, t0)
    restarts = samples.get(("hbd_supervisor_restarts_total", frozenset()))
    if restarts is not None:
        before = [r for r in node_events if r.event == DAEMON_RESTARTED and r.mono < start.mono]
        expected = int(before[-1].get("restarts", 0)) if before else 0
        if restarts != expected:
            problems.append(f"hbd_supervisor_restarts_total {restarts:g}, daemon.restarted says {expected}")
    return problems


def _cause(r: Record) -> str:
    """The cause as hbd.metrics labels it (the phrase before any ':' detail); a failover is an acquisition
    whose cause is the peer's (hbd.metrics.is_failover: every such policy cause starts with 'peer')."""
    return str(r.get("cause") or "").split(":", 1)[0].strip()[:60]


def _bounded(
    samples: Mapping[SampleKey, float],
    metric: str,
    records: Iterable[Record],
    t0: float,
    t1: float,
    labels_of: Callable[[Record], dict[str, str]],
) -> list[str]:
    """Per label set: events before t0 <= the scraped counter <= events by t1."""
    low: dict[frozenset[tuple[str, str]], int] = {}
    high: dict[frozenset[tuple[str, str]], int] = {}
    for r in records:
        key = frozenset(labels_of(r).items())
        if r.mono < t0:
            low[key] = low.get(key, 0) + 1
        if r.mono <= t1:
            high[key] = high.get(key, 0) + 1
    scraped = {labels: v for (name, labels), v in samples.items() if name == metric}
    problems = []
    for labels in sorted(set(scraped) | set(high), key=sorted):
        value = scraped.get(labels, 0.0)
        lo, hi = low.get(labels, 0), high.get(labels, 0)
        if not lo <= value <= hi:
            shown = ",".join(f"{k}={v}" for k, v in sorted(labels))
            expected = str(lo) if lo == hi else f"{lo}..{hi}"
            problems.append(f"{metric}{{{shown}}} = {value:g}, events.jsonl has {expected}")
    return problems


def _rejections(samples: Mapping[SampleKey, float], records: list[Record], t0: float) -> list[str]:
    """packet.rejected is rate-limited in the file, but each record carries the running `count` of its
    reason: the counter can only be at or above the last count written before the scrape."""
    latest: dict[str, Any] = {}
    for r in records:
        if r.event == PACKET_REJECTED and r.mono < t0 and isinstance(r.get("count"), int):
            latest[str(r.get("reason"))] = r.get("count")
    problems = []
    for reason, count in sorted(latest.items()):
        value = samples.get(("hbd_packets_rejected_total", frozenset({("reason", reason)})), 0.0)
        if value < count:
            problems.append(
                f"hbd_packets_rejected_total{{reason={reason}}} = {value:g} < count {count} logged"
            )
    return problems
