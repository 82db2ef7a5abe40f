"""Bytes <-> Message in heartbeat's encodings (heartbeat.md §4, §6.2).

We send the classic format, which every heartbeat from 1.x to 3.0.6 accepts:

    >>>\\n  name=value\\n ...  auth=IDX HEX\\n  <<<\\n  \\0

and we receive both classic and the netstring format that 3.0.6 (with cluster-glue >= 1.0.10)
always sends:

    ###\\n  LEN:(TYPE)name=value, ...  %%%\\n  LEN:IDX HEX,

A netstring packet carries two signatures: the inner `auth` field over the classic rendering of
the fields, and the outer trailer over the bytes from `###\\n` through `%%%\\n`. Both are checked,
each with the key of the index it names.

Any input bytes produce either a Message or a WireError, never another exception.

Cost before trust. Anyone on a LAN can send bytes to port 694, so nothing is parsed field by field
before its signature is checked: the size cap, then a few bytes searches (`find`, `count`, run in C)
locate the end line, the `auth` line and the signed span, the HMAC is checked over that span, and
only an authentic packet is split into fields and validated. Rejecting junk without the key costs a
length check (oversize) or a few searches plus one HMAC over at most MAX_MESSAGE_BYTES (docs/security.md).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Literal

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire import auth as wire_auth
from hbd.wire.error import WireError
from hbd.wire.message import AUTH_FIELD, Message

# A real status is a few hundred bytes (heartbeat 3.0.6's is ~300). 8 KiB leaves room for long group
# lists in `hold`/`sby` and bounds the work an unauthenticated packet can cause. Heartbeat accepts up to
# 256 KiB, but nothing in haresources mode comes close.
MAX_MESSAGE_BYTES = 8 * 1024
MAX_FIELDS = 64  # heartbeat's own messages carry about a dozen

CLASSIC_START = b">>>\n"
CLASSIC_END = b"<<<"  # a line of its own
NETSTRING_START = b"###\n"
NETSTRING_END = b"%%%\n"

# Heartbeat field types (cluster-glue FT_*). Only string and binary occur in haresources-mode
# messages; struct, list and compressed fields are refused rather than half-supported.
_FT_STRING = 0
_FT_BINARY = 1
_BINARY_PREFIX = b"(1)"

# A netstring length: digits then ':'. Six digits already exceed MAX_MESSAGE_BYTES.
_NETSTRING_LEN = re.compile(rb"(\d{1,6}):")
_NETSTRING_TYPE = re.compile(rb"\(([0-9])\)")

# Details end up in events and logs; a field name can be 64 KiB long.
_MAX_DETAIL = 200

Encoding = Literal["classic", "netstring"]


@dataclass(frozen=True)
class Decoded:
    """A verified message and how it arrived (for `hbctl status` and events: which key, which format)."""

    message: Message
    key_index: int
    method: str
    encoding: Encoding


@dataclass(frozen=True)
class _RawField:
    """A field as bytes, before validation. `value` is the classic text (base64 for binary)."""

    name: bytes
    value: bytes
    binary: bool

    def classic_line(self) -> bytes:
        return (_BINARY_PREFIX if self.binary else b"") + self.name + b"=" + self.value + b"\n"


def render_fields(msg: Message) -> bytes:
    """The classic rendering of every field, `name=value\\n` each, in order: the text `auth` signs."""
    if not msg.binary:  # every message hbd sends: one join, one encode
        return "".join([f"{name}={value}\n" for name, value in msg.fields]).encode()
    return b"".join(_raw_fields(msg))


def _raw_fields(msg: Message) -> list[bytes]:
    return [
        _RawField(name.encode(), value.encode(), name in msg.binary).classic_line()
        for name, value in msg.fields
    ]


def encode(msg: Message, auth: AuthConfig) -> bytes:
    """The classic wire bytes of `msg`, signed with the active key, NUL-terminated like heartbeat's."""
    if len(msg.fields) > MAX_FIELDS:
        raise WireError("too_large", f"message has {len(msg.fields)} fields; the limit is {MAX_FIELDS}")
    return encode_rendered(render_fields(msg), auth)


def encode_rendered(body: bytes, auth: AuthConfig) -> bytes:
    """`encode` for a body already rendered by `render_fields` (of a valid Message): the sender keeps the
    rendering of its unchanged status fields and renders only what changes per packet."""
    signature = wire_auth.sign(body, auth.signing_key).encode("ascii")
    data = CLASSIC_START + body + AUTH_FIELD.encode() + b"=" + signature + b"\n" + CLASSIC_END + b"\n\0"
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(
            "too_large", f"encoded message is {len(data)} bytes; the limit is {MAX_MESSAGE_BYTES}"
        )
    return data


def decode(data: bytes, auth: AuthConfig) -> Message:
    """Parse and verify one packet. Raises WireError only."""
    return decode_packet(data, auth).message


def decode_packet(data: bytes, auth: AuthConfig) -> Decoded:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("malformed", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError("too_large", f"{len(data)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    if data.startswith(CLASSIC_START):
        return _decode_classic(data, auth)
    if data.startswith(NETSTRING_START):
        return _decode_netstring(data, auth)
    raise WireError("malformed", "starts with neither '>>>' (classic) nor '###' (netstring)")


# --- classic ---------------------------------------------------------------------------------


def _decode_classic(data: bytes, auth: AuthConfig) -> Decoded:
    signed, auth_value = _locate_classic(data)
    key = wire_auth.verify(signed, auth_value, auth)
    pairs = _plain_pairs(signed)
    if pairs is not None:
        try:
            return Decoded(_checked(Message.of(pairs)), key.index, key.method, "classic")
        except ValueError:
            pass  # the field-by-field path below names the problem
    return Decoded(_to_message(_parse_classic(signed)), key.index, key.method, "classic")


def _plain_pairs(signed: bytes) -> list[tuple[str, str]] | None:
    """The fields of a verified classic text that is plain (UTF-8, no typed field, every line `name=value`),
    as text pairs in one pass; None for anything else, which `_parse_classic` then reads (and names)."""
    try:
        text = signed.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pairs = []
    for line in text.split("\n")[:-1]:
        name, sep, value = line.partition("=")
        if not sep or name.startswith("("):
            return None
        pairs.append((name, value))
    return pairs


_CLASSIC_END_LINE = b"\n" + CLASSIC_END + b"\n"
_AUTH_LINE = b"\n" + AUTH_FIELD.encode() + b"="
_BLANK_LINES = re.compile(rb"\n\n+")


def _locate_classic(data: bytes) -> tuple[bytes, bytes]:
    """The signed text and the auth value, found with bytes searches only (no per-line Python work).

    The signed text is every line between `>>>` and `<<<` except the auth line and blank lines (which
    heartbeat skips), each with its newline: exactly what a sender signs."""
    first = len(CLASSIC_START) - 1  # the newline ending `>>>`: the end line may follow at once
    end = data.find(_CLASSIC_END_LINE, first)
    if end < 0:
        raise WireError("malformed", "no '<<<' end line")
    # Heartbeat sends the terminating NUL too; anything else after the end line is not ours.
    rest = len(data) - (end + len(_CLASSIC_END_LINE))
    if rest and data[-rest:] != b"\0":
        raise WireError("malformed", f"{rest} unexpected bytes after '<<<'")
    lines = data.count(b"\n", first, end)
    if lines > MAX_FIELDS + 1:  # + the auth line
        raise WireError("too_large", f"{lines} lines; the limit is {MAX_FIELDS} fields")
    at = data.find(_AUTH_LINE, first, end)
    if at < 0:
        raise WireError("no_auth", "message has no auth field")
    value_start = at + len(_AUTH_LINE)
    value_end = data.index(b"\n", value_start)  # found: the end line starts with a newline
    if data.find(_AUTH_LINE, value_end, end) >= 0:
        raise WireError("malformed", "two auth fields")
    signed = data[len(CLASSIC_START) : at + 1] + data[value_end + 1 : end + 1]
    if b"\n\n" in signed or signed.startswith(b"\n"):
        signed = _BLANK_LINES.sub(b"\n", signed).lstrip(b"\n")
    return signed, data[value_start:value_end]


def _parse_classic(signed: bytes) -> list[_RawField]:
    """Split the (already verified) signed text into fields: `name=value` lines, `(1)name` for binary."""
    fields: list[_RawField] = []
    for line_no, line in enumerate(signed.split(b"\n")[:-1], start=1):
        name, sep, value = line.partition(b"=")
        if not sep:
            raise WireError("malformed", f"field line {line_no} has no '='")
        binary = False
        if name.startswith(b"("):
            match = _NETSTRING_TYPE.match(name)
            if match is None or int(match.group(1)) != _FT_BINARY:
                detail = f"field line {line_no}: only binary '(1)' typed fields are allowed"
                raise WireError("malformed", detail)
            name, binary = name[match.end() :], True
        fields.append(_RawField(name, value, binary))
    return fields


# --- netstring (heartbeat 3.0.6) --------------------------------------------------------------


def _decode_netstring(data: bytes, auth: AuthConfig) -> Decoded:
    # The trailer after `%%%\n` holds only digits, ':', hex, ' ' and ',', so the last end marker is
    # the real one in any genuine packet: found without walking the fields.
    marker = data.rfind(NETSTRING_END, len(NETSTRING_START) - 1)
    if marker < 0:
        raise WireError("malformed", "no '%%%' end marker")
    frame_end = marker + len(NETSTRING_END)
    if frame_end == len(data) or data[frame_end:] == b"\0":
        raise WireError("no_auth", "netstring has no outer auth trailer after '%%%'")
    trailer, end = _peel_netstring(data, frame_end)
    if data[end:] not in (b"", b"\0"):
        raise WireError("malformed", f"{len(data) - end} unexpected bytes after the netstring auth trailer")
    outer_key = wire_auth.verify(data[:frame_end], trailer, auth)
    fields, inner_auth = _parse_netstring_fields(data, marker)
    if inner_auth is None:
        raise WireError("no_auth", "netstring message has no inner auth field")
    inner_key: AuthKey = wire_auth.verify(b"".join(f.classic_line() for f in fields), inner_auth, auth)
    if inner_key.index != outer_key.index:
        # Legitimate 3.0.6 senders sign both with the active index; a mix means someone spliced packets.
        raise WireError(
            "bad_auth", f"inner auth uses key index {inner_key.index}, outer uses {outer_key.index}"
        )
    return Decoded(_to_message(fields), inner_key.index, inner_key.method, "netstring")


def _parse_netstring_fields(data: bytes, marker: int) -> tuple[list[_RawField], bytes | None]:
    """The fields between `###\n` and the end marker at `marker` (outer signature already checked),
    and the inner auth value."""
    fields: list[_RawField] = []
    auth_value: bytes | None = None
    pos = len(NETSTRING_START)
    while pos < marker:
        if len(fields) >= MAX_FIELDS:
            raise WireError("too_large", f"more than {MAX_FIELDS} fields")
        payload, pos = _peel_netstring(data, pos)
        match = _NETSTRING_TYPE.match(payload)
        if match is None:
            raise WireError("malformed", f"netstring field before offset {pos} has no '(TYPE)' prefix")
        field_type = int(match.group(1))
        name, sep, value = payload[match.end() :].partition(b"=")
        if not sep or not name:
            raise WireError("malformed", f"netstring field before offset {pos} is not 'name=value'")
        if field_type == _FT_STRING:
            if name == AUTH_FIELD.encode():
                if auth_value is not None:
                    raise WireError("malformed", "two auth fields")
                auth_value = value
                continue
            fields.append(_RawField(name, value, binary=False))
        elif field_type == _FT_BINARY:
            # The inner auth was computed over the classic text, where binary values are base64.
            fields.append(_RawField(name, base64.b64encode(value), binary=True))
        else:
            raise WireError("malformed", f"netstring field {name[:40]!r} has unsupported type {field_type}")
    if pos != marker:
        raise WireError("malformed", "a netstring field overruns the '%%%' end marker")
    return fields, auth_value


def _peel_netstring(data: bytes, pos: int) -> tuple[bytes, int]:
    """One `LEN:payload,` at `pos`: the payload and the offset after the comma."""
    match = _NETSTRING_LEN.match(data, pos)
    if match is None:
        raise WireError("malformed", f"expected a netstring length at offset {pos}")
    start = match.end()
    end = start + int(match.group(1))
    if end >= len(data) or data[end : end + 1] != b",":
        raise WireError("malformed", f"netstring at offset {pos} overruns the packet or lacks its ','")
    return data[start:end], end + 1


# --- validation ------------------------------------------------------------------------------


def _to_message(fields: list[_RawField]) -> Message:
    try:
        pairs = [(f.name.decode("utf-8"), f.value.decode("utf-8")) for f in fields]
        msg = Message.of(pairs, binary=(f.name.decode("utf-8") for f in fields if f.binary))
    except UnicodeDecodeError:
        raise WireError("malformed", "a field is not UTF-8 text") from None
    except ValueError as exc:
        raise WireError("malformed", str(exc)[:_MAX_DETAIL]) from None
    return _checked(msg)


def _checked(msg: Message) -> Message:
    # Everything downstream (peer tracking, replay guard) keys on these two.
    if msg.msg_type is None:
        raise WireError("malformed", "message has no t field")
    if msg.src is None:
        raise WireError("malformed", "message has no src field")
    return msg
