"""Junk from a host without the key must cost almost nothing: it is refused before any field is parsed
(issue 11, bug 1: 64 KiB of tiny `a=` lines cost ~20 ms of CPU each when every line was parsed first)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire import codec
from hbd.wire.codec import MAX_FIELDS, MAX_MESSAGE_BYTES, decode, encode
from hbd.wire.error import WireError
from hbd.wire.message import Message

KEY = b"hbd-test-key"
AUTH = AuthConfig(1, (AuthKey(1, "sha256", KEY),))
FORGED_AUTH = b"auth=1 " + b"0" * 64 + b"\n"


def reason_of(data: bytes) -> str:
    with pytest.raises(WireError) as err:
        decode(data, AUTH)
    return err.value.reason


def flood_packet(size: int, *, with_auth: bool = True) -> bytes:
    """The attacker's packet: tiny `a=` lines inside classic framing, a made-up signature, `size` bytes."""
    head, tail = b">>>\n", (FORGED_AUTH if with_auth else b"") + b"<<<\n\0"
    lines = (size - len(head) - len(tail)) // 3
    return head + b"a=\n" * lines + tail


def signed_classic(lines: list[bytes]) -> bytes:
    text = b"".join(line + b"\n" for line in lines)
    digest = hmac.new(KEY, text, hashlib.sha256).hexdigest().encode()
    return b">>>\n" + text + b"auth=1 " + digest + b"\n<<<\n\0"


@pytest.fixture
def no_field_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any field-by-field parse fails the test: rejection must come from the signature or the caps."""

    def forbidden(*_args: object) -> None:
        raise AssertionError("fields were parsed before the packet was authenticated")

    monkeypatch.setattr(codec, "_parse_classic", forbidden)
    monkeypatch.setattr(codec, "_parse_netstring_fields", forbidden)
    monkeypatch.setattr(codec, "_to_message", forbidden)


def test_the_flood_packet_is_refused_by_size_alone(no_field_parsing: None) -> None:
    assert reason_of(flood_packet(64 * 1024)) == "too_large"
    assert reason_of(flood_packet(MAX_MESSAGE_BYTES + 1)) == "too_large"


def test_junk_under_the_size_cap_is_refused_by_its_signature_without_parsing(no_field_parsing: None) -> None:
    few_lines = b">>>\n" + b"a=\n" * (MAX_FIELDS - 1) + FORGED_AUTH + b"<<<\n\0"
    assert reason_of(few_lines) == "bad_auth"
    assert reason_of(few_lines.replace(b"auth=1 ", b"auth=9 ")) == "unknown_key"
    assert reason_of(b">>>\n" + b"a=\n" * 10 + b"<<<\n\0") == "no_auth"


def test_netstring_junk_is_refused_by_its_outer_signature_without_parsing(no_field_parsing: None) -> None:
    frame = b"###\n" + b"7:(0)a=b," * 500 + b"%%%\n"
    assert reason_of(frame + b"66:1 " + b"0" * 64 + b",") == "bad_auth"


def test_too_many_lines_are_refused_before_the_signature_check(no_field_parsing: None) -> None:
    # Many lines would be harmless to an HMAC, but a status never has them: refuse without hashing.
    assert reason_of(flood_packet(MAX_MESSAGE_BYTES)) == "too_large"


def test_a_signed_packet_with_too_many_fields_is_refused() -> None:
    lines = [b"t=status", b"src=bob", *(b"f%d=x" % i for i in range(MAX_FIELDS))]
    assert reason_of(signed_classic(lines)) == "too_large"
    assert decode(signed_classic(lines[: MAX_FIELDS - 1]), AUTH).src == "bob"


def test_encode_never_produces_what_the_receiver_refuses() -> None:
    with pytest.raises(WireError) as err:
        encode(Message.build("status", src="bob", pad="x" * MAX_MESSAGE_BYTES), AUTH)
    assert err.value.reason == "too_large"
    many = Message.of([("t", "status"), ("src", "bob"), *((f"f{i}", "x") for i in range(MAX_FIELDS))])
    with pytest.raises(WireError) as err:
        encode(many, AUTH)
    assert err.value.reason == "too_large"
