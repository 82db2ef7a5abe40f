"""For any bytes: no field is parsed before a signature over the packet has been verified (issue 11, bug 1).

The decoder's order is the defence against a flood from a host without the key, so it is checked as an
invariant over arbitrary and mutated packets, not only on the handful of examples in the unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire import codec
from hbd.wire.codec import decode_packet, encode
from hbd.wire.error import WireError
from hbd.wire.message import Message

AUTH = AuthConfig(1, (AuthKey(1, "sha256", b"hbd-test-key"),))
VALID = encode(Message.build("status", st="active", src="bob", seq=5, hg=0x6B06FBC0, dt=300), AUTH)


@contextmanager
def watched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records 'verified' after each successful signature check and 'parsed' at each field parse."""
    log: list[str] = []
    verify, parse_classic, parse_netstring = (
        codec.wire_auth.verify,
        codec._parse_classic,
        codec._parse_netstring_fields,
    )

    def logged_verify(*args: object, **kwargs: object) -> AuthKey:
        key = verify(*args, **kwargs)  # type: ignore[arg-type]
        log.append("verified")
        return key

    def logged(parse):  # type: ignore[no-untyped-def]
        def run(*args: object) -> object:
            log.append("parsed")
            return parse(*args)

        return run

    monkeypatch.setattr(codec.wire_auth, "verify", logged_verify)
    monkeypatch.setattr(codec, "_parse_classic", logged(parse_classic))
    monkeypatch.setattr(codec, "_parse_netstring_fields", logged(parse_netstring))
    yield log


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    edits = st.lists(
        st.tuples(st.integers(0, len(data)), st.binary(max_size=4), st.integers(0, 3)), max_size=4
    )

    def apply(changes: list[tuple[int, bytes, int]]) -> bytes:
        buf = bytearray(data)
        for pos, insert, delete in changes:
            buf[pos : pos + delete] = insert
        return bytes(buf)

    return edits.map(apply)


packets = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=200).map(lambda b: b">>>\n" + b + b"\n<<<\n\0"),
    st.binary(max_size=200).map(lambda b: b"###\n" + b + b"%%%\n12:1 00,"),
    mutated(VALID),
)


@settings(max_examples=400, deadline=None)
@given(packets)
def test_fields_are_parsed_only_after_a_signature_was_verified(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch, watched(monkeypatch) as log:
        try:
            decode_packet(data, AUTH)
        except WireError:
            pass
    if "parsed" in log:
        assert log.index("verified") < log.index("parsed"), log
