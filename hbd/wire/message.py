"""A heartbeat message: an ordered list of `name=value` text fields (heartbeat.md §6.2, §6.3).

Field order matters: the signature is computed over the fields in the order they are sent.
Values are kept as the text that travels on the wire; the typed accessors parse heartbeat's
number formats (`seq`, `hg`, `ts` and `dt` are hex). A Message never holds the `auth` field:
the codec adds it when encoding and checks and strips it when decoding.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

AUTH_FIELD = "auth"

# Fields heartbeat writes with printf("%lx") (heartbeat.md §6.5, "Number formats on the wire").
HEX_FIELDS: frozenset[str] = frozenset({"seq", "hg", "ts", "dt"})

# 16 hex digits is a 64-bit value, the widest heartbeat's `%lx` can produce.
_HEX_VALUE = re.compile(r"[0-9a-fA-F]{1,16}")

# Characters that would break the classic line format or C string handling on a heartbeat peer
# (heartbeat itself rewrites a newline in a value as byte 0x13; we refuse instead, so the text
# a sender signs is always the text the receiver sees).
_FORBIDDEN_IN_VALUE = ("\n", "\r", "\0")


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValueError(f"field name must be str, not {type(name).__name__}")
    if not name:
        raise ValueError("empty field name")
    for ch in ("=", *_FORBIDDEN_IN_VALUE):
        if ch in name:
            raise ValueError(f"field name {name!r} contains {ch!r}")
    if name.startswith("("):
        # On the wire `(1)name` means "binary field called name"; a name starting with "(" would be misread.
        raise ValueError(f"field name {name!r} starts with '('")
    if name == AUTH_FIELD:
        raise ValueError("the auth field is added by the codec, not by the message")
    return name


def _check_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"field {name}: value must be str, not {type(value).__name__}")
    for ch in _FORBIDDEN_IN_VALUE:
        if ch in value:
            raise ValueError(f"field {name}: value contains {ch!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"field {name}: value is not encodable as UTF-8 ({exc.reason})") from None
    if name in HEX_FIELDS and not _HEX_VALUE.fullmatch(value):
        raise ValueError(f"field {name}: {value!r} is not a hex number")
    return value


def _check_each(pairs: tuple[tuple[object, ...], ...]) -> set[str]:
    """Check field by field (ValueError naming the first bad one); the names seen."""
    seen: set[str] = set()
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"field {pair!r} is not a (name, value) pair")
        name = _check_name(pair[0])
        _check_value(name, pair[1])
        if name in seen:
            # Heartbeat never repeats a field; refusing repeats means get() has one answer.
            raise ValueError(f"field {name} appears twice")
        seen.add(name)
    return seen


def _all_valid(pairs: tuple[tuple[object, ...], ...]) -> bool:
    """True when every pair is a valid (name, value) and no name repeats: what the field-by-field checks
    of `Message.__post_init__` accept, decided in a few whole-message passes. False means "look closer"
    (the slow path then names the problem), never that the fields are wrong."""
    names: list[str] = []
    for pair in pairs:
        if len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not str or not pair[0]:
            return False
        names.append(pair[0])
    if len(set(names)) != len(names) or AUTH_FIELD in names:
        return False
    names_text = "".join(names)
    text = names_text + "".join(str(p[1]) for p in pairs)  # every character of the message, once
    if "=" in names_text or "\n" in text or "\r" in text or "\0" in text:
        return False
    if any(name[0] == "(" for name in names):
        return False
    if not text.isascii():  # non-ASCII text is fine, but its UTF-8 check is left to the slow path
        return False
    return all(_HEX_VALUE.fullmatch(str(p[1])) for p in pairs if p[0] in HEX_FIELDS)


@dataclass(frozen=True)
class Message:
    """Ordered `(name, value)` fields. `binary` names the fields whose value is base64 of raw bytes
    (heartbeat's type 1, rendered `(1)name=<base64>` in the classic format; e.g. `srcuuid`)."""

    fields: tuple[tuple[str, str], ...]
    binary: frozenset[str] = frozenset()
    # Names are unique (checked in __post_init__): one dict for the several lookups every received packet
    # needs (a linear scan each before). Not part of the value: no init, repr, comparison or hash.
    _by_name: dict[str, str] = field(init=False, repr=False, compare=False, hash=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Accept any iterable of pairs, but store tuples so the message stays hashable and immutable.
        pairs = tuple(tuple(pair) for pair in self.fields)
        if not self.binary and _all_valid(pairs):
            # Every packet builds one (sent and received, on every medium): the common case is checked in a
            # few C-level passes; anything unusual takes the field-by-field path below for its exact error.
            object.__setattr__(self, "fields", pairs)
            object.__setattr__(self, "binary", frozenset())
            object.__setattr__(self, "_by_name", dict(self.fields))
            return
        seen = _check_each(pairs)
        binary = frozenset(self.binary)
        for name in binary:
            if name not in seen:
                raise ValueError(f"binary field {name!r} is not in the message")
        for name, value in pairs:
            if name in binary:
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise ValueError(f"binary field {name}: value is not base64") from None
        object.__setattr__(self, "fields", pairs)
        object.__setattr__(self, "binary", binary)
        object.__setattr__(self, "_by_name", dict(self.fields))

    @classmethod
    def of(cls, fields: Iterable[tuple[str, str]], binary: Iterable[str] = ()) -> Message:
        return cls(tuple(fields), frozenset(binary))

    @classmethod
    def build(cls, t: str, **fields: str | int) -> Message:
        """`Message.build("status", st="active", src="bob", seq=5, hg=gen)`: `t` first, then keyword order.

        An int is accepted only for the hex fields (seq, hg, ts, dt) and rendered as lower-case hex like
        heartbeat does; anything else must be text, so a decimal field (ttl, rexmit firstseq) can never be
        silently written in hex."""
        pairs: list[tuple[str, str]] = [("t", t)]
        for name, value in fields.items():
            if isinstance(value, bool) or (isinstance(value, int) and name not in HEX_FIELDS):
                raise TypeError(f"field {name}: pass text; only {sorted(HEX_FIELDS)} take an int")
            if isinstance(value, int):
                if value < 0:
                    raise ValueError(f"field {name}: {value} is negative")
                value = format(value, "x")
            pairs.append((name, value))
        return cls(tuple(pairs))

    def get(self, name: str) -> str | None:
        return self._by_name.get(name)

    def get_bytes(self, name: str) -> bytes | None:
        """The raw bytes of a binary field (None if absent or not binary)."""
        value = self.get(name)
        if value is None or name not in self.binary:
            return None
        return base64.b64decode(value)

    def __contains__(self, name: object) -> bool:
        return any(field_name == name for field_name, _ in self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    @property
    def msg_type(self) -> str | None:
        return self.get("t")

    @property
    def src(self) -> str | None:
        return self.get("src")

    @property
    def dest(self) -> str | None:
        return self.get("dest")

    def _hex(self, name: str) -> int | None:
        value = self.get(name)
        # Validated in __post_init__, so int() cannot fail here.
        return None if value is None else int(value, 16)

    @property
    def seq(self) -> int | None:
        return self._hex("seq")

    @property
    def generation(self) -> int | None:
        return self._hex("hg")

    @property
    def ts(self) -> int | None:
        """Sender's wall clock, unix seconds (heartbeat never checks it)."""
        return self._hex("ts")

    @property
    def deadtime_ms(self) -> int | None:
        """`dt`: the deadtime the receiver should use for this sender, in milliseconds."""
        return self._hex("dt")
