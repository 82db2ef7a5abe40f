"""Bytes <-> Message in heartbeat's encodings (heartbeat.md §4, §6.2).

We send the classic format, which every heartbeat from 1.x to 3.0.6 accepts:

    >>>\\n  name=value\\n ...  auth=IDX HEX\\n  <<<\\n  \\0

and we receive both classic and the netstring format that 3.0.6 (with cluster-glue >= 1.0.10)
always sends:

    ###\\n  LEN:(TYPE)name=value, ...  %%%\\n  LEN:IDX HEX,

A netstring packet carries two signatures: the inner `auth` field over the classic rendering of
the fields, and the outer trailer over the bytes from `###\\n` through `%%%\\n`. Both are checked,
each with the key of the index it names.

Any input bytes produce either a Message or a WireError, never another exception: the order is
parse the framing, check the signatures over the exact bytes, then validate field contents.
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

MAX_MESSAGE_BYTES = 64 * 1024

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
    return b"".join(_raw_fields(msg))


def _raw_fields(msg: Message) -> list[bytes]:
    return [
        _RawField(name.encode(), value.encode(), name in msg.binary).classic_line()
        for name, value in msg.fields
    ]


def encode(msg: Message, auth: AuthConfig) -> bytes:
    """The classic wire bytes of `msg`, signed with the active key, NUL-terminated like heartbeat's."""
    body = render_fields(msg)
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
    fields, auth_value = _parse_classic(data)
    if auth_value is None:
        raise WireError("no_auth", "message has no auth field")
    key = wire_auth.verify(b"".join(f.classic_line() for f in fields), auth_value, auth)
    return Decoded(_to_message(fields), key.index, key.method, "classic")


def _parse_classic(data: bytes) -> tuple[list[_RawField], bytes | None]:
    fields: list[_RawField] = []
    auth_value: bytes | None = None
    pos = len(CLASSIC_START)
    line_no = 1
    while True:
        line_no += 1
        newline = data.find(b"\n", pos)
        if newline < 0:
            raise WireError("malformed", "no '<<<' end line")
        line = data[pos:newline]
        pos = newline + 1
        if line == CLASSIC_END:
            break
        if not line:
            continue  # heartbeat skips blank lines; they are not part of the signed text either
        name, sep, value = line.partition(b"=")
        if not sep:
            raise WireError("malformed", f"line {line_no} has no '='")
        binary = False
        if name.startswith(b"("):
            match = _NETSTRING_TYPE.match(name)
            if match is None or int(match.group(1)) != _FT_BINARY:
                raise WireError("malformed", f"line {line_no}: only binary '(1)' typed fields are supported")
            name, binary = name[match.end() :], True
        if name == AUTH_FIELD.encode() and not binary:
            if auth_value is not None:
                raise WireError("malformed", "two auth fields")
            auth_value = value
            continue
        fields.append(_RawField(name, value, binary))
    # Heartbeat sends the terminating NUL too; anything else after the end line is not ours.
    if data[pos:] not in (b"", b"\0"):
        raise WireError("malformed", f"{len(data) - pos} unexpected bytes after '<<<'")
    return fields, auth_value


# --- netstring (heartbeat 3.0.6) --------------------------------------------------------------


def _decode_netstring(data: bytes, auth: AuthConfig) -> Decoded:
    fields, inner_auth, frame_end = _parse_netstring_fields(data)
    if frame_end == len(data) or data[frame_end:] == b"\0":
        raise WireError("no_auth", "netstring has no outer auth trailer after '%%%'")
    trailer, end = _peel_netstring(data, frame_end)
    if data[end:] not in (b"", b"\0"):
        raise WireError("malformed", f"{len(data) - end} unexpected bytes after the netstring auth trailer")
    outer_key = wire_auth.verify(data[:frame_end], trailer, auth)
    if inner_auth is None:
        raise WireError("no_auth", "netstring message has no inner auth field")
    inner_key: AuthKey = wire_auth.verify(b"".join(f.classic_line() for f in fields), inner_auth, auth)
    if inner_key.index != outer_key.index:
        # Legitimate 3.0.6 senders sign both with the active index; a mix means someone spliced packets.
        raise WireError(
            "bad_auth", f"inner auth uses key index {inner_key.index}, outer uses {outer_key.index}"
        )
    return Decoded(_to_message(fields), inner_key.index, inner_key.method, "netstring")


def _parse_netstring_fields(data: bytes) -> tuple[list[_RawField], bytes | None, int]:
    """The fields, the inner auth value, and the offset just after `%%%\\n`."""
    fields: list[_RawField] = []
    auth_value: bytes | None = None
    pos = len(NETSTRING_START)
    while not data.startswith(NETSTRING_END, pos):
        if pos >= len(data):
            raise WireError("malformed", "no '%%%' end marker")
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
    return fields, auth_value, pos + len(NETSTRING_END)


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
    # Everything downstream (peer tracking, replay guard) keys on these two.
    if msg.msg_type is None:
        raise WireError("malformed", "message has no t field")
    if msg.src is None:
        raise WireError("malformed", "message has no src field")
    return msg
