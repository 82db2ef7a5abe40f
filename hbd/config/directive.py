"""The machinery of ha.cf directives: the parse state, the `Directive` row, generic parsers.

`hacf.DIRECTIVES` is the table; the parsers for media live in `media`, the others in `hacf`.
Each parser has the signature `(state, tokens, line, name)` and records values or problems
in the state; nothing is raised.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hbd.config.errors import Diagnostics
from hbd.config.model import Medium, Monitor, StonithHost, Where
from hbd.config.syntax import BadValue

DEFAULT_UDPPORT = 694
DEFAULT_BAUD = 19200


@dataclass
class ParseState:
    """What the directives above the current line have set."""

    diag: Diagnostics
    nodes: list[str] = field(default_factory=list)
    node_lines: dict[str, int] = field(default_factory=dict)
    media: list[Medium] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # single-valued settings by field name
    lines: dict[str, int] = field(default_factory=dict)  # field name -> line that set it
    udpport: int = DEFAULT_UDPPORT  # applies to bcast/ucast lines below it
    baud: int = DEFAULT_BAUD  # applies to serial lines below it
    ping_nodes: list[str] = field(default_factory=list)
    stonith_hosts: list[StonithHost] = field(default_factory=list)
    resource_dirs: list[str] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)
    nice_failback: tuple[bool, int] | None = None  # (value, line) of an obsolete nice_failback

    def set_once(self, name: str, value: Any, line: int, directive: str) -> None:
        if name in self.lines:
            self.diag.error(line, f"{directive} set twice", f"first set on line {self.lines[name]}")
            return
        self.values[name] = value
        self.lines[name] = line

    def add_medium(self, medium: Medium, line: int) -> None:
        for existing in self.media:
            if existing.name == medium.name:
                where = existing.where.line if existing.where else "?"
                self.diag.error(line, f"medium {medium.name} listed twice", f"first on line {where}")
                return
        self.media.append(medium)


Parser = Callable[[ParseState, list[str], int, str], None]


@dataclass(frozen=True)
class Derived:
    """A default computed from the settings above it in the table (heartbeat's `init_config()`)."""

    compute: Callable[[Mapping[str, Any]], Any]
    text: str  # how help shows it: "deadtime/2"


@dataclass(frozen=True)
class Directive:
    """One ha.cf directive: `parse(state, tokens, line, name)` records its effect.

    A directive that sets one value names it `key` (in `ParseState.values`); `default` is that value
    when ha.cf does not set it (None: no value), a constant or `Derived` from earlier rows.
    """

    name: str
    parse: Parser
    help: str
    whole_line: bool = False  # heartbeat hands the whole line to the plugin: split on blanks only
    key: str | None = None
    default: Any = None

    @property
    def usage(self) -> str:
        """The help text with the default, in ha.cf's units: `interval between heartbeats (1)`."""
        if self.default is None:
            return self.help
        return f"{self.help} ({default_text(self.key or '', self.default)})"


def setting(
    name: str, key: str, convert: Callable[[str], Any], help: str, default: Any = None
) -> Directive:
    """A directive with exactly one value, stored once under `key`."""
    return Directive(name, scalar(key, convert), help, key=key, default=default)


def default_text(key: str, default: Any) -> str:
    """A default as a user would write it in ha.cf: times in seconds, booleans on/off."""
    if isinstance(default, Derived):
        return default.text
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, enum.Enum):
        return str(default.value)
    if key.endswith("_ms"):
        return f"{default / 1000:g}"
    return str(default)


def resolve(directives: Mapping[str, Directive], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every keyed setting: the value ha.cf set, else the row's default (derived ones see the rows above)."""
    settings = dict(values)
    for directive in directives.values():
        key, default = directive.key, directive.default
        if key is None or key in settings:
            continue
        settings[key] = default.compute(settings) if isinstance(default, Derived) else default
    return settings


def scalar(field_name: str, convert: Callable[[str], Any]) -> Parser:
    """A directive with exactly one value, stored once under `field_name`."""

    def parse(state: ParseState, tokens: list[str], line: int, name: str) -> None:
        if len(tokens) != 1:
            hint = "one value"
            if len(tokens) == 2 and tokens[1].lower() in ("ms", "msec", "us", "usec"):
                hint = f"write {tokens[0]}{tokens[1]} without a space"
            state.diag.error(line, f"{name} takes one value, got {len(tokens)}", hint)
            return
        try:
            value = convert(tokens[0])
        except BadValue as bad:
            state.diag.error(line, f"{name}: {bad.message}", bad.hint)
            return
        state.set_once(field_name, value, line, name)

    return parse


def ignored(why: str) -> Parser:
    def parse(state: ParseState, tokens: list[str], line: int, name: str) -> None:
        state.diag.warn(line, f"{name} ignored: {why}")

    return parse


def unsupported(hint: str, allowed: frozenset[str] = frozenset()) -> Parser:
    """A heartbeat directive hbd refuses; `allowed` values mean "feature off" and pass."""

    def parse(state: ParseState, tokens: list[str], line: int, name: str) -> None:
        if allowed and len(tokens) == 1 and tokens[0].lower() in allowed:
            return
        state.diag.error(line, f"{name} is not supported by hbd", hint)

    return parse


def where_of(state: ParseState, line: int) -> Where:
    return Where(state.diag.file, line)
