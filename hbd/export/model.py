"""What the export produces, as plain values: a Pacemaker configuration and the notes that go with it.

The builders (`resources`, `pacemaker`) fill these; the renderers (`crm`, `pcs`, `cib`) only read them, so
the three output formats cannot disagree about what the cluster is. Times are whole milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Op:
    """An operation of a resource: `monitor` every `interval_ms`, or a start/stop timeout."""

    name: str  # "monitor" | "start" | "stop"
    interval_ms: int = 0
    timeout_ms: int | None = None


@dataclass(frozen=True)
class Primitive:
    """One resource: `standard:provider:type` (provider empty for lsb and stonith)."""

    id: str
    standard: str  # "ocf" | "lsb" | "stonith"
    type: str
    provider: str = ""
    params: tuple[tuple[str, str], ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    ops: tuple[Op, ...] = ()

    @property
    def agent(self) -> str:
        """The agent as crmsh and pcs write it: `ocf:heartbeat:IPaddr2`, `lsb:mailer`, `stonith:fence_x`."""
        parts = [self.standard, self.provider, self.type] if self.provider else [self.standard, self.type]
        return ":".join(parts)


@dataclass(frozen=True)
class Group:
    """A haresources line: members start left to right on one node and stop right to left."""

    id: str
    members: tuple[str, ...]  # primitive ids
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Clone:
    """A resource run on every node (the ping resource)."""

    id: str
    member: str


@dataclass(frozen=True)
class Location:
    """`rsc` prefers `node` with `score` (node form), or by a rule: `score_attribute` where `attribute` is
    defined (rule form, for pingd)."""

    id: str
    rsc: str
    score: str = "0"
    node: str | None = None
    rule_attribute: str | None = None  # rule form: the node attribute that must be defined
    score_attribute: str | None = None  # rule form: the score is that attribute's value


@dataclass(frozen=True)
class Note:
    """A line of the comment at the top of every output: what was not carried over, and why."""

    kind: str  # "dropped" | "placeholder" | "warning" | "mapped"
    text: str
    where: str | None = None  # FILE:LINE of the setting, when it came from one

    def __str__(self) -> str:
        return f"{self.where}: {self.text}" if self.where else self.text


@dataclass(frozen=True)
class Configuration:
    """A whole Pacemaker configuration (what `crm configure`, `pcs` or a CIB document say)."""

    nodes: tuple[tuple[int, str], ...]  # (nodeid, name)
    primitives: tuple[Primitive, ...]
    groups: tuple[Group, ...] = ()
    clones: tuple[Clone, ...] = ()
    locations: tuple[Location, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    rsc_defaults: tuple[tuple[str, str], ...] = ()
    op_defaults: tuple[tuple[str, str], ...] = ()
    notes: tuple[Note, ...] = field(default=())

    def primitive(self, rsc_id: str) -> Primitive:
        return next(p for p in self.primitives if p.id == rsc_id)

    @property
    def grouped(self) -> frozenset[str]:
        return frozenset(m for g in self.groups for m in g.members) | {c.member for c in self.clones}


def ms_text(ms: int) -> str:
    """A Pacemaker time: whole seconds as `10s`, else milliseconds `1500ms`."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def comment_text(text: str) -> str:
    """Text an XML comment may hold (crmsh stores its comments in the CIB as XML comments too): no `--`,
    no `-` at the end."""
    while "--" in text:
        text = text.replace("--", "- -")
    return text + " " if text.endswith("-") else text


def header(config_dir: str, notes: tuple[Note, ...] | list[Note]) -> list[str]:
    """The comment at the top of every output: every setting that was not carried over, and why."""
    lines = [f"Written by `hbd export pacemaker` from {config_dir} (ha.cf, haresources, authkeys)."]
    if not notes:
        return [*lines, "Every setting was carried over.", ""]
    lines.append("Not carried over, to fill in, or to know (nothing is dropped silently):")
    lines += [f"- [{note.kind}] {note}" for note in notes]
    return [*lines, ""]
