"""Parameters declared once, as frozen dataclasses, and validated from what a scenario author wrote.

A fault (lab/spec/fault_params.py) or a check (lab/spec/check_params.py) declares its parameters as the
fields of a frozen dataclass: the field's type says what a value may be, a missing default makes it
required. `parse_params` turns a YAML mapping into that typed object, or into problems that name the YAML
path and list what is allowed; `describe` renders a field for the docs. The scenario validator, the
faults, the checkers and docs/scenarios.md all read the same declaration.

Types understood (anything else is a declaration bug, caught by a unit test):
  bool, str, int, float, Literal[...], X | None, Annotated[int | float, Range(...)],
  Seconds (a duration: `50ms`, `2s`, a number of seconds), NodeName / LinkName / SerialName (a name the
  topology must have), tuple[NodeName, ...] (a non-empty list of distinct nodes), tuple[Dataclass, ...]
  (a list of mappings, each validated against the nested dataclass).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

from lab.spec.duration import DurationError, parse_duration


@dataclass(frozen=True)
class Range:
    """Bounds of a number; `low_open`: the low bound itself is refused (`> 0`)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False


@dataclass(frozen=True)
class Names:
    """The value names a thing of the topology: "node", "link" (a LAN or link segment) or "serial"."""

    what: str


class _Duration:
    """Marker: a duration as people write it, stored as float seconds."""


Seconds = Annotated[float, _Duration]
NodeName = Annotated[str, Names("node")]
LinkName = Annotated[str, Names("link")]
SerialName = Annotated[str, Names("serial")]
Positive = Annotated[float, Range(0, None, low_open=True)]
Count = Annotated[int, Range(0)]
Ordinal = Annotated[int, Range(1)]  # 1-based: the first, the second ...

T = TypeVar("T")


class Declared:
    """Optional class-level rules a parameter dataclass may add to its fields."""

    ONE_OF: ClassVar[tuple[str, ...]] = ()  # at least one of these must be given

    def problems(self) -> list[tuple[str, str]]:
        """Rules across fields: (field, message) pairs; called only on a complete, typed object."""
        return []


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the mapping: "how", "allow[0].reason", "" for the mapping itself
    message: str


@dataclass(frozen=True)
class _Kind:
    """What one field accepts, resolved from its type once."""

    base: Any  # bool, int, float, str, "duration", "literal", "names", "nested"
    optional: bool = False
    choices: tuple[Any, ...] = ()
    bounds: Range | None = None
    names: str | None = None  # node / link / serial
    many: bool = False  # tuple[..., ...]
    nested: Any = None  # a dataclass for tuple[Dataclass, ...]


def _kind(tp: Any) -> _Kind:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"only X | None unions are supported, got {tp!r}")
        return dataclasses.replace(_kind(args[0]), optional=True)
    if origin is Annotated:
        inner, *meta = typing.get_args(tp)
        kind = _kind(inner)
        for m in meta:
            if m is _Duration:
                kind = dataclasses.replace(kind, base="duration")
            elif isinstance(m, Range):
                kind = dataclasses.replace(kind, bounds=m)
            elif isinstance(m, Names):
                kind = dataclasses.replace(kind, names=m.what)
        return kind
    if origin is Literal:
        return _Kind("literal", choices=typing.get_args(tp))
    if origin is tuple:
        item, ellipsis = typing.get_args(tp)
        if ellipsis is not Ellipsis:
            raise TypeError(f"only tuple[X, ...] is supported, got {tp!r}")
        if dataclasses.is_dataclass(item):
            return _Kind("nested", many=True, nested=item)
        inner = _kind(item)
        return dataclasses.replace(inner, many=True)
    if tp in (bool, int, float, str):
        return _Kind(tp)
    raise TypeError(f"unsupported parameter type {tp!r}")


def fields_of(cls: type) -> dict[str, tuple[dataclasses.Field[Any], _Kind]]:
    """name -> (field, kind), in declaration order (base class fields first)."""
    return _fields_of(cls)


@cache
def _fields_of(cls: type) -> dict[str, tuple[dataclasses.Field[Any], _Kind]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: (f, _kind(hints[f.name])) for f in dataclasses.fields(cls)}


def is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def help_of(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("help", ""))


def doc(text: str) -> dict[str, str]:
    """Field metadata with the help text for the docs (and the `required:` message of a nested field):
    `max: Seconds | None = field(default=None, metadata=doc("fail above this latency"))`."""
    return {"help": text}


def names_in(cls: type) -> dict[str, str]:
    """Fields that name topology things: field -> node / link / serial."""
    return {name: kind.names for name, (_f, kind) in fields_of(cls).items() if kind.names}


# ---------------------------------------------------------------- validation


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _number_text(kind: _Kind) -> str:
    word = "an integer" if kind.base is int else "a number"
    b = kind.bounds
    if b is None:
        return word
    low, high = b.low, b.high
    if low is not None and high is not None:
        return f"{word} in {'(' if b.low_open else '['}{_num(low)}, {_num(high)}]"
    if low == 0 and not b.low_open:
        return "a non-negative integer" if kind.base is int else "a non-negative number"
    if low == 0 and b.low_open:
        return "a positive integer" if kind.base is int else "a positive number"
    if low is not None:
        return f"{word} {'>' if b.low_open else '>='} {_num(low)}"
    return f"{word} <= {_num(high)}" if high is not None else word


def _in_bounds(value: float, b: Range | None) -> bool:
    if b is None:
        return True
    if b.low is not None and (value < b.low or (b.low_open and value == b.low)):
        return False
    return b.high is None or value <= b.high


def _one(kind: _Kind, value: Any) -> tuple[Any, str | None]:
    """(typed value, None) or (None, message) for one scalar value."""
    base = kind.base
    if base == "duration":
        try:
            return parse_duration(value), None
        except DurationError as exc:
            return None, str(exc)
    if base == "literal":
        if value in kind.choices and not isinstance(value, bool):
            return value, None
        return None, f"expected one of {', '.join(map(str, kind.choices))}, got {value!r}"
    if base is bool:
        return (value, None) if isinstance(value, bool) else (None, f"expected true or false, got {value!r}")
    if base is str:
        if isinstance(value, str) and value.strip():
            return value, None
        what = f"a {kind.names} name" if kind.names else "a non-empty string"
        return None, f"expected {what}, got {value!r}"
    if base in (int, float):
        ok_type = isinstance(value, int) if base is int else isinstance(value, int | float)
        if ok_type and not isinstance(value, bool) and _in_bounds(value, kind.bounds):
            return (value if base is int else float(value)), None
        return None, f"expected {_number_text(kind)}, got {value!r}"
    raise AssertionError(base)  # pragma: no cover - _kind only builds the bases above


def _value(kind: _Kind, value: Any, path: str, problems: list[Problem]) -> Any:
    if value is None and kind.optional:
        return None
    if not kind.many:
        typed, message = _one(kind, value)
        if message is not None:
            problems.append(Problem(path, message))
        return typed
    if kind.nested is not None:
        fields = ", ".join(fields_of(kind.nested))
        if not isinstance(value, list):
            problems.append(Problem(path, f"expected a list of mappings with {fields}, got {value!r}"))
            return None
        out = []
        for i, entry in enumerate(value):
            typed, sub = parse_params(kind.nested, entry, owner="")
            at = f"{path}[{i}]"
            problems.extend(Problem(f"{at}.{p.path}" if p.path else at, p.message) for p in sub)
            out.append(typed)
        return tuple(out)
    what = f"{kind.names} names" if kind.names else "values"
    if not isinstance(value, list) or not value:
        problems.append(Problem(path, f"expected a non-empty list of {what}, got {value!r}"))
        return None
    if len({repr(v) for v in value}) != len(value):
        problems.append(Problem(path, f"a {kind.names or 'value'} is listed twice: {value!r}"))
        return None
    items = []
    for v in value:
        typed, message = _one(kind, v)
        if message is not None:
            problems.append(Problem(path, f"expected a non-empty list of {what}, got {value!r}"))
            return None
        items.append(typed)
    return tuple(items)


def parse_params(
    cls: type[T],
    raw: Any,
    *,
    owner: str,
    ignore: Sequence[str] = (),
    partial: bool = False,
) -> tuple[T | None, list[Problem]]:
    """Validate `raw` against the dataclass `cls`: (typed object, []) or (None, problems).

    `ignore`: keys that belong to the caller (`fault`, `check`, `name`), listed first among the known keys.
    `partial`: check only the keys given (a `heal` names just what it matches on); no object is built.
    `owner` names the fault or check in `required by ...` messages ("" inside a nested list).
    """
    fields = fields_of(cls)
    if not isinstance(raw, Mapping):
        shown = ", ".join(f for f in fields)
        return None, [Problem("", f"expected a mapping with {shown}, got {raw!r}")]
    problems: list[Problem] = []
    known = (*ignore, *fields)
    for key in raw:
        if key not in known:
            problems.append(Problem(str(key), f"unknown parameter (known: {', '.join(known)})"))
    values: dict[str, Any] = {}
    for name, (f, kind) in fields.items():
        if name in raw:
            values[name] = _value(kind, raw[name], name, problems)
        elif is_required(f) and not partial:
            hint = help_of(f)
            by = f"required by {owner}" if owner else "required"
            problems.append(Problem(name, f"{by}: {hint}" if hint else by))
    one_of: tuple[str, ...] = getattr(cls, "ONE_OF", ())
    if one_of and not partial and not any(k in raw for k in one_of):
        problems.append(Problem("", f"{owner} needs {' or '.join(one_of)}"))
    if problems or partial:
        return None, problems
    obj = cls(**values)
    check = getattr(obj, "problems", None)
    if check is not None:
        problems.extend(Problem(k, m) for k, m in check())
    return (None, problems) if problems else (obj, [])


# ---------------------------------------------------------------- docs


def describe_kind(kind: _Kind) -> str:
    """A field's type in words for docs/scenarios.md: `duration`, `down | drop | pull`, `list of node`."""
    if kind.nested is not None:
        return "list of {" + ", ".join(fields_of(kind.nested)) + "}"
    if kind.base == "duration":
        text = "duration"
    elif kind.base == "literal":
        text = " \\| ".join(map(str, kind.choices))
    elif kind.names:
        text = kind.names
    elif kind.base in (int, float):
        text = _number_text(kind).removeprefix("an ").removeprefix("a ")
    else:
        text = {bool: "bool", str: "string"}[kind.base]
    return f"list of {text}{'s' if kind.names else ''}" if kind.many else text


def describe_field(f: dataclasses.Field[Any], kind: _Kind) -> str:
    """`how: down \\| drop \\| pull = down`, `node: node (required)`."""
    text = f"`{f.name}`: {describe_kind(kind)}"
    if is_required(f):
        return text + " (required)"
    if f.default is not None and f.default != ():
        default = f.default
        shown = str(default).lower() if isinstance(default, bool) else f"{default!s}"
        text += f" = {shown}"
    return text
