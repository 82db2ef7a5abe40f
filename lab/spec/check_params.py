"""What each check of a scenario's `expect:` list accepts: one frozen dataclass per check.

`expect: [{check: takeover_latency, max: 1s, name: failback_latency}]`: `check` picks the declaration,
`name` (any check) labels the result; the other keys are the check's fields below. The scenario validator
(lab/spec/scenario.py), the checkers (lab/checks/, which receive the typed object: `max` already in
seconds) and docs/scenarios.md all derive from CHECK_PARAMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.spec.params import Count, Ordinal, Seconds, doc

COMMON_KEYS = ("check", "name")  # every expect item: which check, and the result's label


@dataclass(frozen=True, kw_only=True)
class FaultRef:
    """The fault a measurement starts from: the nth `fault.inject` of `fault` (default: any fault)."""

    fault: str | None = field(
        default=None, metadata=doc("the fault to measure from (default: the first fault of any kind)")
    )
    nth: Ordinal | None = field(default=None, metadata=doc("which injection of it, 1-based (default 1)"))


@dataclass(frozen=True, kw_only=True)
class TakeoverLatency(FaultRef):
    """Fault -> first probe answered by the survivor."""

    max: Seconds | None = field(default=None, metadata=doc("fail above this latency"))
    by: str | None = field(
        default=None, metadata=doc("the node that must answer (default: any node but the fault's victim)")
    )
    protocol: str | None = field(
        default=None,
        metadata=doc("only this probe's answers: tcp, http, sql, smtp, pop3, imap (default: any probe)"),
    )


@dataclass(frozen=True, kw_only=True)
class Outage:
    """The largest gap between answered probes (a run that never recovers counts to its end)."""

    max: Seconds | None = field(default=None, metadata=doc("fail above this gap"))
    protocol: str | None = field(
        default=None,
        metadata=doc("only this probe's attempts: tcp, http, sql, smtp, pop3, imap (default: every probe)"),
    )


@dataclass(frozen=True, kw_only=True)
class SingleOwner:
    """Time two nodes held the VIP at once: 0, or with expect_split_brain a window that healed."""

    expect_split_brain: bool = field(
        default=False, metadata=doc("the scenario must show dual ownership, and it must heal")
    )
    max: Seconds | None = field(
        default=None, metadata=doc("with expect_split_brain: the longest acceptable dual ownership")
    )
    ip: str | None = field(default=None, metadata=doc("the address to follow (default: every VIP)"))
    slack: Seconds | None = field(
        default=None, metadata=doc("ownership evidence this close together counts as one instant")
    )


@dataclass(frozen=True, kw_only=True)
class Failback:
    """How many times a group changed owner (from group.active events)."""

    count: Count | None = field(default=None, metadata=doc("the exact number of owner changes expected"))
    group: str | None = field(default=None, metadata=doc("only this resource group"))


@dataclass(frozen=True, kw_only=True)
class AllowEntry:
    """One expected bad-news record."""

    event: str = field(metadata=doc("the event name (wildcards allowed) to accept"))
    reason: str = field(metadata=doc("say why this bad news is expected"))
    node: str | None = field(default=None, metadata=doc("only on this node"))


@dataclass(frozen=True, kw_only=True)
class BadNews:
    """ERROR/CRITICAL records fail unless allow-listed with a reason; holes in the history always fail."""

    allow: tuple[AllowEntry, ...] = field(default=(), metadata=doc("records to accept, each with the reason"))


@dataclass(frozen=True, kw_only=True)
class NoFailover(FaultRef):
    """After the fault no group moved: no acquire/release events, and one node kept answering."""


@dataclass(frozen=True, kw_only=True)
class LinkDownNamed(FaultRef):
    """A link.down event names the given link (optionally on a node, within a time of the fault)."""

    link: str = field(metadata=doc("the link as the lab or hbd names it (crossover, bcast:eth1, serial)"))
    node: str | None = field(default=None, metadata=doc("the node that must report it"))
    within: Seconds | None = field(default=None, metadata=doc("at most this long after the fault"))


@dataclass(frozen=True, kw_only=True)
class Breakdown(FaultRef):
    """Fault -> detected -> acquire -> resources started -> ARP sent -> client answered."""

    by: str | None = field(
        default=None, metadata=doc("the survivor (default: any node but the fault's victim)")
    )
    max: Seconds | None = field(default=None, metadata=doc("fail when the client answered later than this"))


@dataclass(frozen=True, kw_only=True)
class NoEvent:
    """A node event that must not happen (e.g. peer.dead after a graceful stop)."""

    event: str = field(metadata=doc("the event name"))
    node: str | None = field(default=None, metadata=doc("only on this node"))


@dataclass(frozen=True, kw_only=True)
class Fences:
    """Exactly `count` fence power-offs, each by `by` and aimed at `target` when given."""

    by: str | None = field(default=None, metadata=doc("the node that must have fenced"))
    target: str | None = field(default=None, metadata=doc("the node that must have been fenced"))
    count: Count = field(default=1, metadata=doc("how many fence power-offs"))


@dataclass(frozen=True, kw_only=True)
class LinksDownOnly:
    """Every link.down names one of these media, and each of them was reported."""

    links: str = field(metadata=doc("media names separated by blanks, like 'bcast:eth0 serial'"))


@dataclass(frozen=True, kw_only=True)
class AckedRecords:
    """Every acknowledged shared-disk record is on the disk exactly once; no sequence number written twice."""

    expect_violation: bool = field(
        default=False, metadata=doc("the scenario must show the damage (split brain, no fencing)")
    )


@dataclass(frozen=True, kw_only=True)
class AckedMail:
    """Every mail acknowledged by SMTP (250 to DATA) is later found by IMAP and by POP3, none twice."""

    min_acked: Count = field(default=1, metadata=doc("fail with fewer acknowledged mails (the client ran?)"))


@dataclass(frozen=True, kw_only=True)
class SingleWriter:
    """Writing sessions of writers on different nodes never overlap."""

    expect_violation: bool = field(default=False, metadata=doc("the scenario must show two writers at once"))


@dataclass(frozen=True, kw_only=True)
class MetricsAgree:
    """Every /metrics scrape (daemon key `metrics`) agrees with the node's events.jsonl: events, group
    transitions, failovers, rejected packets, supervisor restarts and the generation."""

    min_scrapes: Count = field(default=3, metadata=doc("successful scrapes needed on each node with events"))


@dataclass(frozen=True, kw_only=True)
class AckedRows:
    """Every row whose INSERT was acknowledged (COMMIT answered) by the SQL probe is in the table the
    probe reads back at the end; the acknowledged rows missing are counted and listed, never hidden."""

    max_lost: Count = field(
        default=0, metadata=doc("acknowledged rows allowed missing (asynchronous replication loses some)")
    )
    min_acked: Count = field(default=1, metadata=doc("fail with fewer acknowledged rows (the client ran?)"))


CHECK_PARAMS: dict[str, type] = {
    "takeover_latency": TakeoverLatency,
    "outage": Outage,
    "single_owner": SingleOwner,
    "failback": Failback,
    "bad_news": BadNews,
    "no_failover": NoFailover,
    "link_down_named": LinkDownNamed,
    "breakdown": Breakdown,
    "no_event": NoEvent,
    "fences": Fences,
    "links_down_only": LinksDownOnly,
    "acked_records": AckedRecords,
    "acked_rows": AckedRows,
    "acked_mail": AckedMail,
    "single_writer": SingleWriter,
    "metrics_agree": MetricsAgree,
}
