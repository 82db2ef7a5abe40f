"""Round trips; decode() raises nothing but WireError and never accepts a changed message."""

import base64
import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import decode, decode_packet, encode
from hbd.wire.error import REASONS, WireError
from hbd.wire.message import HEX_FIELDS, Message

SETTINGS = settings(deadline=None, max_examples=200)

_text_chars = st.characters(blacklist_characters="=\n\r\0", blacklist_categories=("Cs",))
names = st.text(_text_chars, min_size=1, max_size=12).filter(
    lambda n: not n.startswith("(") and n not in {"auth", "t", "src", *HEX_FIELDS}
)
values = st.text(st.characters(blacklist_characters="\n\r\0", blacklist_categories=("Cs",)), max_size=40)
hex_values = st.integers(0, 2**64 - 1).map(lambda n: format(n, "x"))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    fields = [("t", draw(values)), ("src", draw(values))]
    for name in sorted(HEX_FIELDS):
        if draw(st.booleans()):
            fields.append((name, draw(hex_values)))
    extras = draw(st.lists(st.tuples(names, values), max_size=6, unique_by=lambda f: f[0]))
    binary = draw(st.lists(st.tuples(names, st.binary(max_size=20)), max_size=2, unique_by=lambda f: f[0]))
    binary = [(n, base64.b64encode(v).decode()) for n, v in binary if n not in {e[0] for e in extras}]
    fields += extras + binary
    order = draw(st.permutations(fields))
    return Message.of(order, binary=[n for n, _ in binary])


@st.composite
def auth_configs(draw: st.DrawFn) -> AuthConfig:
    indices = draw(st.lists(st.integers(0, 15), min_size=1, max_size=3, unique=True))
    keys = []
    for index in indices:
        method = draw(st.sampled_from(["crc", "md5", "sha1", "sha256"]))
        key = b"" if method == "crc" else draw(st.binary(min_size=1, max_size=80))
        keys.append(AuthKey(index, method, key))
    return AuthConfig(draw(st.sampled_from(indices)), tuple(keys))


def decode_or_reason(data: bytes, auth: AuthConfig) -> Message | str:
    try:
        return decode(data, auth)
    except WireError as err:
        assert err.reason in REASONS
        return err.reason


@SETTINGS
@given(messages(), auth_configs())
def test_round_trip(msg, auth):
    packet = decode_packet(encode(msg, auth), auth)
    assert packet.message == msg
    assert packet.key_index == auth.active


@SETTINGS
@given(messages(), auth_configs())
def test_rotation_any_listed_key_verifies(msg, auth):
    for key in auth.keys:
        sender = AuthConfig(key.index, auth.keys)
        assert decode(encode(msg, sender), auth) == msg


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b">>>\n", b"###\n"]).flatmap(
            lambda head: st.binary(max_size=300).map(lambda tail: head + tail)
        ),
    )
)
def test_random_bytes_only_raise_wire_error(data):
    auth = AuthConfig(1, (AuthKey(1, "crc"),))
    decode_or_reason(data, auth)  # any exception other than WireError fails the test


mutations = st.lists(
    st.one_of(
        st.tuples(st.just("replace"), st.integers(0, 10_000), st.integers(0, 255)),
        st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=4)),
        st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 8)),
        st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, steps: list) -> bytes:
    for kind, where, arg in steps:
        pos = where % (len(data) + 1)
        if kind == "replace" and pos < len(data):
            data = data[:pos] + bytes([arg]) + data[pos + 1 :]
        elif kind == "insert":
            data = data[:pos] + arg + data[pos:]
        elif kind == "delete":
            data = data[:pos] + data[pos + arg :]
        elif kind == "truncate":
            data = data[:pos]
    return data


@SETTINGS
@given(messages(), auth_configs(), mutations)
def test_mutated_classic_packet_is_rejected_or_unchanged(msg, auth, steps):
    data = encode(msg, auth)
    result = decode_or_reason(mutate(data, steps), auth)
    # Some edits are harmless by design (an inserted blank line, a dropped final NUL): then the
    # message must be exactly the one that was signed.
    assert isinstance(result, str) or result == msg


def netstring_packet(msg: Message, key: AuthKey) -> bytes:
    """A heartbeat 3.0.6 style packet, built without the codec (same layout as the unit tests')."""

    def sign(data: bytes) -> bytes:
        return b"%d %s" % (
            key.index,
            hmac.new(key.key, data, getattr(hashlib, key.method)).hexdigest().encode(),
        )

    classic = b"".join(
        (b"(1)" if n in msg.binary else b"") + n.encode() + b"=" + v.encode() + b"\n" for n, v in msg.fields
    )
    items = [
        b"(1)%s=%s" % (n.encode(), base64.b64decode(v))
        if n in msg.binary
        else b"(0)%s=%s" % (n.encode(), v.encode())
        for n, v in msg.fields
    ]
    items.append(b"(0)auth=" + sign(classic))
    frame = b"###\n" + b"".join(b"%d:%s," % (len(i), i) for i in items) + b"%%%\n"
    trailer = sign(frame)
    return frame + b"%d:%s," % (len(trailer), trailer)


hmac_keys = st.builds(
    AuthKey,
    st.integers(0, 15),
    st.sampled_from(["md5", "sha1", "sha256"]),
    st.binary(min_size=1, max_size=70),
)


@SETTINGS
@given(messages(), hmac_keys)
def test_netstring_round_trip(msg, key):
    auth = AuthConfig(key.index, (key,))
    packet = decode_packet(netstring_packet(msg, key), auth)
    assert packet.message == msg
    assert packet.encoding == "netstring"


@SETTINGS
@given(messages(), hmac_keys, mutations)
def test_mutated_netstring_packet_is_rejected_or_unchanged(msg, key, steps):
    auth = AuthConfig(key.index, (key,))
    result = decode_or_reason(mutate(netstring_packet(msg, key), steps), auth)
    assert isinstance(result, str) or result == msg
