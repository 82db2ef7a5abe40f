"""One run's history: lab records, probe answers, VIP owner samples and every node's events, merged by `mono`.

All lab nodes share the host kernel's monotonic clock, so sorting by `mono` gives an exact timeline.
Malformed lines never crash the loader: each becomes a `problem` ("file:line: message") that the checks
report, because a history with holes must not yield a clean verdict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAB_FILE = "lab.jsonl"
PROBE_FILE = "probe.jsonl"
PROTOCOL_PROBE_FILES = "probe-*.jsonl"
OWNERS_FILE = "owners.jsonl"
NODES_DIR = "nodes"
NODE_EVENTS_FILE = "events.jsonl"
NODE_METRICS_FILE = "metrics.jsonl"  # lab/node/scraper.py: the node's /metrics, scraped inside the node


@dataclass(frozen=True)
class Record:
    """One line of any history file. `fields` is the whole JSON object (including mono/source/event)."""

    mono: float
    source: str  # "lab" | "probe" | "owner" | "node" | "metrics"
    event: str
    node: str | None
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def level(self) -> str:
        return str(self.fields.get("level", "INFO")).upper()


@dataclass(frozen=True)
class History:
    records: tuple[Record, ...]
    problems: tuple[str, ...] = ()  # holes in the record: checks fail on these
    notes: tuple[str, ...] = ()  # expected oddities (a last line cut short by a SIGKILL)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def start(self) -> float | None:
        return self.records[0].mono if self.records else None

    @property
    def end(self) -> float | None:
        return self.records[-1].mono if self.records else None

    def select(
        self,
        event: str | Iterable[str] | None = None,
        *,
        source: str | None = None,
        node: str | None = None,
        after: float | None = None,
        before: float | None = None,
    ) -> list[Record]:
        """Records matching every given filter; `after` is inclusive, `before` exclusive."""
        names = {event} if isinstance(event, str) else (set(event) if event is not None else None)
        return [
            r
            for r in self.records
            if (names is None or r.event in names)
            and (source is None or r.source == source)
            and (node is None or r.node == node)
            and (after is None or r.mono >= after)
            and (before is None or r.mono < before)
        ]

    def first(self, event: str | Iterable[str] | None = None, **filters: Any) -> Record | None:
        found = self.select(event, **filters)
        return found[0] if found else None

    def faults(self, name: str | None = None) -> list[Record]:
        """`fault.inject` lab records, optionally only those of one fault name."""
        injects = self.select("fault.inject", source="lab")
        return [r for r in injects if name is None or r.get("fault") == name]

    def probes(self, protocol: str | None = None) -> list[Record]:
        """Probe attempts; with `protocol` (tcp, http, sql) only that probe's (tcp: those without one)."""
        found = self.select("probe", source="probe")
        if protocol is None:
            return found
        return [r for r in found if r.get("protocol", "tcp") == protocol]

    def owner_samples(self) -> list[Record]:
        return self.select("vip.owners", source="owner")

    def scrapes(self, node: str | None = None) -> list[Record]:
        """`metrics.scrape` records (lab/node/scraper.py), successful or not."""
        return self.select("metrics.scrape", source="metrics", node=node)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every node named by a node event, an owner sample or a probe answer, sorted."""
        names: set[str] = set()
        for r in self.records:
            if r.source == "node" and r.node:
                names.add(r.node)
            elif r.source == "owner":
                names.update(str(o) for o in r.get("owners") or () if o)
            elif r.source == "probe" and r.get("answer"):
                names.add(str(r.get("answer")))
        return tuple(sorted(names))


def record_from_dict(obj: Mapping[str, Any], source: str, node: str | None = None) -> Record:
    """A Record from one decoded JSON object; raises ValueError naming what is wrong."""
    mono = obj.get("mono")
    if isinstance(mono, bool) or not isinstance(mono, int | float) or not math.isfinite(mono):
        raise ValueError(f"'mono' must be a finite number, got {mono!r}")
    event = obj.get("event")
    if not isinstance(event, str) or not event:
        raise ValueError(f"'event' must be a non-empty string, got {event!r}")
    src = obj.get("source", source)
    if not isinstance(src, str):
        raise ValueError(f"'source' must be a string, got {src!r}")
    rec_node = obj.get("node", node)
    if rec_node is not None and not isinstance(rec_node, str):
        raise ValueError(f"'node' must be a string, got {rec_node!r}")
    fields = dict(obj)
    fields["source"] = src
    return Record(mono=float(mono), source=src, event=event, node=rec_node, fields=fields)


def history_from_records(objs: Iterable[Mapping[str, Any]], problems: Iterable[str] = ()) -> History:
    """A History from dicts (each with `mono`, `event`, `source` and for node records `node`). For tests."""
    records = [record_from_dict(o, source=str(o.get("source", "lab"))) for o in objs]
    return History(records=_sorted(records), problems=tuple(problems))


def load_history(run_dir: Path | str) -> History:
    """Merge lab.jsonl, probe.jsonl, owners.jsonl, nodes/*/events.jsonl and nodes/*/metrics.jsonl of a run
    directory.

    Only these files: to read a recorded run (shared disk included) use lab.history.store.load_run."""
    run_dir = Path(run_dir)
    records: list[Record] = []
    problems: list[str] = []
    notes: list[str] = []
    for name, source in ((LAB_FILE, "lab"), (PROBE_FILE, "probe"), (OWNERS_FILE, "owner")):
        path = run_dir / name
        if path.exists():
            records.extend(_read_jsonl(path, source, None, problems, notes))
    for path in sorted(run_dir.glob(PROTOCOL_PROBE_FILES)):  # lab/node/app_probe.py, one per protocol
        records.extend(_read_jsonl(path, "probe", None, problems, notes))
    nodes_dir = run_dir / NODES_DIR
    if nodes_dir.is_dir():
        for node_dir in sorted(p for p in nodes_dir.iterdir() if p.is_dir()):
            path = node_dir / NODE_EVENTS_FILE
            if path.exists():
                # The directory names the node; records claiming another node are suspicious but kept.
                records.extend(_read_jsonl(path, "node", node_dir.name, problems, notes, force_source=True))
            path = node_dir / NODE_METRICS_FILE
            if path.exists():
                records.extend(
                    _read_jsonl(path, "metrics", node_dir.name, problems, notes, force_source=True)
                )
    if not records:
        problems.append(f"{run_dir}: no history records found")
    return History(records=_sorted(records), problems=tuple(problems), notes=tuple(notes))


def _read_jsonl(
    path: Path,
    source: str,
    node: str | None,
    problems: list[str],
    notes: list[str],
    force_source: bool = False,
) -> list[Record]:
    out: list[Record] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return out
    lines = text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == len(lines) and not text.endswith("\n"):
                # A last line without its newline is what a SIGKILL mid-write leaves (power_off).
                notes.append(f"{path}:{lineno}: last line cut short ({exc.msg}), ignored")
            else:
                problems.append(f"{path}:{lineno}: not JSON: {exc.msg}")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            continue
        if force_source:
            obj["source"] = source
        try:
            out.append(record_from_dict(obj, source=source, node=node))
        except ValueError as exc:
            problems.append(f"{path}:{lineno}: {exc}")
    return out


def _sorted(records: list[Record]) -> tuple[Record, ...]:
    # Stable: records with equal mono keep file order (a node's own events stay in the order it wrote them).
    return tuple(sorted(records, key=lambda r: r.mono))
