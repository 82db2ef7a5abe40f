"""Codec tests. Packets are built here by hand (hmac/hashlib, the layout of heartbeat.md §6.2),
never with the codec itself, so a bug shared by encoder and decoder cannot hide."""

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import MAX_MESSAGE_BYTES, decode, decode_packet, encode
from hbd.wire.error import WireError
from hbd.wire.message import Message

DATA = Path(__file__).resolve().parents[1] / "data" / "wire"

HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def bitwise_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc ^ 0xFFFFFFFF


def hand_sign(text: bytes, index: int, method: str, key: bytes) -> bytes:
    if method == "crc":
        hexdigest = format(bitwise_crc(text), "x")
    else:
        hexdigest = hmac.new(key, text, HASHES[method]).hexdigest()
    return b"%d %s" % (index, hexdigest.encode())


def hand_classic(lines: list[bytes], index: int, method: str, key: bytes, nul: bool = True) -> bytes:
    """`lines` are the field lines without their newline; the auth line is computed and appended."""
    text = b"".join(line + b"\n" for line in lines if line)
    return (
        b">>>\n"
        + b"\n".join(lines)
        + b"\nauth="
        + hand_sign(text, index, method, key)
        + b"\n<<<\n"
        + (b"\0" if nul else b"")
    )


def ns_item(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


def hand_netstring(
    fields: list[tuple[bytes, bytes, int]],
    index: int,
    method: str,
    key: bytes,
    outer_index: int | None = None,
    inner_auth: bytes | None = None,
) -> bytes:
    """A heartbeat 3.0.6 packet: (TYPE)name=value netstrings, the inner classic auth, the outer trailer."""
    classic = b"".join(
        (b"(1)" + name + b"=" + base64.b64encode(value) if ftype == 1 else name + b"=" + value) + b"\n"
        for name, value, ftype in fields
    )
    if inner_auth is None:
        inner_auth = hand_sign(classic, index, method, key)
    frame = b"###\n"
    frame += b"".join(ns_item(b"(%d)%s=%s" % (ftype, name, value)) for name, value, ftype in fields)
    frame += ns_item(b"(0)auth=" + inner_auth) + b"%%%\n"
    return frame + ns_item(hand_sign(frame, index if outer_index is None else outer_index, method, key))


UUID = bytes.fromhex("5f1c2a0b9d3e4f60718293a4b5c6d7e8")
STATUS_306 = [
    (b"t", b"status", 0),
    (b"st", b"active", 0),
    (b"dt", b"1b58", 0),
    (b"protocol", b"1", 0),
    (b"src", b"nodea", 0),
    (b"srcuuid", UUID, 1),
    (b"seq", b"6", 0),
    (b"hg", b"6b06fbc0", 0),
    (b"ts", b"6b06fbbf", 0),
    (b"ld", b"0.24 0.16 0.09 8/143 15885", 0),
    (b"ttl", b"3", 0),
]

STATUS = Message.build("status", st="active", src="bob", seq=0x2F, hg=0x6B06FBC0, ts=0x6B06FBE1, dt=300)
STATUS_LINES = [b"t=status", b"st=active", b"src=bob", b"seq=2f", b"hg=6b06fbc0", b"ts=6b06fbe1", b"dt=12c"]
ONE_KEY = {
    m: AuthConfig(1, (AuthKey(1, m, b"" if m == "crc" else b"hbd-test-key"),)) for m in ["crc", *HASHES]
}


def reason_of(data: bytes, auth: AuthConfig) -> str:
    with pytest.raises(WireError) as err:
        decode(data, auth)
    return err.value.reason


# --- encoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["crc", "md5", "sha1", "sha256"])
def test_encode_golden_per_method(method):
    auth = ONE_KEY[method]
    assert encode(STATUS, auth) == hand_classic(STATUS_LINES, 1, method, auth.keys[0].key)


def test_encode_matches_stored_golden_packet():
    auth = AuthConfig(1, (AuthKey(1, "sha256", b"hbd-test-key"),))
    assert encode(STATUS, auth) == (DATA / "status-sha256.classic").read_bytes()


def test_encode_signs_with_the_active_index():
    auth = AuthConfig(2, (AuthKey(1, "md5", b"one"), AuthKey(2, "sha1", b"two")))
    assert encode(STATUS, auth) == hand_classic(STATUS_LINES, 2, "sha1", b"two")


def test_encode_renders_binary_fields_like_heartbeat():
    msg = Message.of(
        [("t", "status"), ("src", "a"), ("srcuuid", base64.b64encode(UUID).decode())], ["srcuuid"]
    )
    expected = hand_classic(
        [b"t=status", b"src=a", b"(1)srcuuid=" + base64.b64encode(UUID)], 1, "sha1", b"hbd-test-key"
    )
    assert encode(msg, ONE_KEY["sha1"]) == expected


def test_encode_refuses_oversized_message():
    msg = Message.build("status", src="a", pad="x" * MAX_MESSAGE_BYTES)
    with pytest.raises(WireError) as err:
        encode(msg, ONE_KEY["sha256"])
    assert err.value.reason == "too_large"


# --- classic decoding -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["crc", "md5", "sha1", "sha256"])
@pytest.mark.parametrize("nul", [True, False])
def test_decode_hand_built_classic(method, nul):
    auth = ONE_KEY[method]
    packet = decode_packet(hand_classic(STATUS_LINES, 1, method, auth.keys[0].key, nul=nul), auth)
    assert packet.message == STATUS
    assert (packet.key_index, packet.method, packet.encoding) == (1, method, "classic")


def test_decode_stored_golden_packet():
    auth = AuthConfig(1, (AuthKey(1, "sha256", b"hbd-test-key"),))
    assert decode((DATA / "status-sha256.classic").read_bytes(), auth) == STATUS


def test_decode_accepts_auth_anywhere_and_blank_lines():
    # Heartbeat skips blank lines and leaves `auth` out of the signed text wherever it sits.
    text = b"t=status\nsrc=bob\n"
    data = b">>>\n\nt=status\nauth=" + hand_sign(text, 1, "md5", b"hbd-test-key") + b"\n\nsrc=bob\n<<<\n"
    assert decode(data, ONE_KEY["md5"]) == Message.build("status", src="bob")


def test_decode_classic_binary_field_from_a_2x_peer():
    data = hand_classic(
        [b"t=status", b"src=a", b"(1)srcuuid=" + base64.b64encode(UUID)], 1, "sha1", b"hbd-test-key"
    )
    msg = decode(data, ONE_KEY["sha1"])
    assert msg.get_bytes("srcuuid") == UUID


def test_wrong_key_is_bad_auth():
    data = hand_classic(STATUS_LINES, 1, "sha256", b"another key")
    assert reason_of(data, ONE_KEY["sha256"]) == "bad_auth"


def test_same_index_other_method_is_bad_auth():
    data = hand_classic(STATUS_LINES, 1, "md5", b"hbd-test-key")
    assert reason_of(data, ONE_KEY["sha256"]) == "bad_auth"


def test_unknown_key_index():
    data = hand_classic(STATUS_LINES, 7, "sha256", b"hbd-test-key")
    assert reason_of(data, ONE_KEY["sha256"]) == "unknown_key"


def test_missing_auth():
    assert reason_of(b">>>\nt=status\nsrc=bob\n<<<\n\0", ONE_KEY["sha256"]) == "no_auth"


def test_key_rotation_accepts_every_listed_index():
    receiver = AuthConfig(2, (AuthKey(1, "md5", b"old secret"), AuthKey(2, "sha256", b"new secret")))
    sender_old = AuthConfig(1, receiver.keys)
    sender_new = AuthConfig(2, receiver.keys)
    for sender in (sender_old, sender_new):
        packet = decode_packet(encode(STATUS, sender), receiver)
        assert packet.message == STATUS
        assert packet.key_index == sender.active
    # A receiver that dropped the old key refuses it by index, not as a forgery.
    rotated = AuthConfig(2, (receiver.keys[1],))
    assert reason_of(encode(STATUS, sender_old), rotated) == "unknown_key"


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "starts with neither"),
        (b"hello", "starts with neither"),
        (b">>>\nt=status\n", "no '<<<'"),
        (b">>>\nauth=1 00\nauth=1 00\n<<<\n", "two auth"),
    ],
)
def test_malformed_framing(data, detail):
    with pytest.raises(WireError, match=detail) as err:
        decode(data, ONE_KEY["sha256"])
    assert err.value.reason == "malformed"


def test_trailing_bytes_after_end_are_refused():
    data = hand_classic(STATUS_LINES, 1, "sha256", b"hbd-test-key")
    assert reason_of(data + b"junk", ONE_KEY["sha256"]) == "malformed"


@pytest.mark.parametrize(
    ("lines", "detail"),
    [
        ([b"t=status", b"src=a", b"seq=zz"], "not a hex number"),
        ([b"t=status", b"src=a", b"src=b"], "twice"),
        ([b"src=a"], "no t field"),
        ([b"t=status"], "no src field"),
        ([b"t=status", b"src=\xff\xfe"], "UTF-8"),
        ([b"t=status", b"src=a", b"(1)srcuuid=***"], "not base64"),
        ([b"t=status", b"no equals sign"], "no '='"),
        ([b"(2)t=x"], "binary"),
    ],
)
def test_signed_but_invalid_content_is_malformed(lines, detail):
    # Correctly signed, so the rejection is about content, not authenticity.
    data = hand_classic(lines, 1, "sha256", b"hbd-test-key")
    with pytest.raises(WireError, match=detail) as err:
        decode(data, ONE_KEY["sha256"])
    assert err.value.reason == "malformed"


def test_too_large():
    data = b">>>\n" + b"x=" + b"y" * MAX_MESSAGE_BYTES + b"\n<<<\n"
    assert reason_of(data, ONE_KEY["sha256"]) == "too_large"


@pytest.mark.parametrize("method", ["crc", "sha256"])
def test_tampering_any_byte_is_rejected(method):
    auth = ONE_KEY[method]
    data = encode(STATUS, auth)
    for pos in range(len(data)):
        for replacement in {data[pos] ^ 0x01, data[pos] ^ 0x20, ord("="), ord("\n"), 0}:
            if replacement == data[pos]:
                continue
            tampered = data[:pos] + bytes([replacement]) + data[pos + 1 :]
            if pos == len(data) - 1 and replacement == 0:
                continue
            with pytest.raises(WireError):
                decode(tampered, auth)


def test_truncation_at_any_length_is_rejected():
    data = encode(STATUS, ONE_KEY["sha256"])
    for end in range(len(data) - 1):  # dropping only the final NUL is fine
        with pytest.raises(WireError):
            decode(data[:end], ONE_KEY["sha256"])


def test_decode_accepts_bytearray_and_memoryview_and_refuses_str():
    data = encode(STATUS, ONE_KEY["sha1"])
    assert decode(bytearray(data), ONE_KEY["sha1"]) == STATUS
    assert decode(memoryview(data), ONE_KEY["sha1"]) == STATUS
    assert reason_of(data.decode(), ONE_KEY["sha1"]) == "malformed"  # type: ignore[arg-type]


# --- netstring (heartbeat 3.0.6) ----------------------------------------------------------------

NS_AUTH = AuthConfig(1, (AuthKey(1, "sha1", b"hbd-test-key"),))


def test_decode_hand_built_306_packet():
    packet = decode_packet(hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key"), NS_AUTH)
    msg = packet.message
    assert packet.encoding == "netstring"
    assert (packet.key_index, packet.method) == (1, "sha1")
    assert msg.names == ("t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl")
    assert msg.get_bytes("srcuuid") == UUID
    assert (msg.src, msg.seq, msg.generation, msg.deadtime_ms) == ("nodea", 6, 0x6B06FBC0, 7000)
    assert msg.get("ld") == "0.24 0.16 0.09 8/143 15885"


def test_hand_built_306_packet_has_the_captured_layout():
    # The byte counts of heartbeat.md §6.2's capture: 11:(0)t=status, 27:(1)srcuuid=<16 bytes>, 50:(0)auth=...
    data = hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key")
    assert data.startswith(b"###\n11:(0)t=status,12:(0)st=active,10:(0)dt=1b58,13:(0)protocol=1,")
    assert b"27:(1)srcuuid=" + UUID + b"," in data
    assert b",50:(0)auth=1 " in data
    assert b"%%%\n42:1 " in data
    assert data.endswith(b",")


def test_decode_stored_306_packet():
    msg = decode((DATA / "status-306-sha1.netstring").read_bytes(), NS_AUTH)
    assert msg.src == "nodea"
    assert msg.get_bytes("srcuuid") == UUID


def test_netstring_signed_with_a_non_active_index_is_accepted():
    # The rotation case 3.0.6 itself gets wrong (heartbeat.md §4): receiver active=1, packet signed with 2.
    receiver = AuthConfig(1, (AuthKey(1, "sha1", b"hbd-test-key"), AuthKey(2, "md5", b"next key")))
    msg = decode(hand_netstring(STATUS_306, 2, "md5", b"next key"), receiver)
    assert msg.src == "nodea"


def test_netstring_outer_auth_is_checked():
    data = hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key")
    frame_end = data.index(b"%%%\n") + 4
    forged = data[:frame_end] + ns_item(b"1 " + b"0" * 40)
    assert reason_of(forged, NS_AUTH) == "bad_auth"


def test_netstring_inner_auth_is_checked_even_with_a_valid_outer_one():
    # An attacker who knows nothing could not do this; it proves the inner check is not skipped.
    data = hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key", inner_auth=b"1 " + b"0" * 40)
    assert reason_of(data, NS_AUTH) == "bad_auth"


def test_netstring_mixed_key_indices_are_refused():
    keys = AuthConfig(1, (AuthKey(1, "sha1", b"hbd-test-key"), AuthKey(2, "sha1", b"hbd-test-key")))
    data = hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key", outer_index=2)
    assert reason_of(data, keys) == "bad_auth"


def test_netstring_without_trailer_or_inner_auth():
    data = hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key")
    frame = data[: data.index(b"%%%\n") + 4]
    assert reason_of(frame, NS_AUTH) == "no_auth"
    assert reason_of(frame + b"\0", NS_AUTH) == "no_auth"
    no_inner = b"###\n" + ns_item(b"(0)t=status") + ns_item(b"(0)src=a") + b"%%%\n"
    no_inner += ns_item(hand_sign(no_inner, 1, "sha1", b"hbd-test-key"))
    assert reason_of(no_inner, NS_AUTH) == "no_auth"


@pytest.mark.parametrize(
    "frame",
    [
        b"###\n",  # no end marker
        b"###\n5:(0)t=status,%%%\n",  # length too short
        b"###\n99:(0)t=status,%%%\n",  # length overruns
        b"###\n:(0)t=status,%%%\n",  # no length
        b"###\n8:t=status,%%%\n",  # no type
        b"###\n11:(0)tstatus%,%%%\n",  # no '='
        b"###\n8:(0)=value,%%%\n",  # empty name
        b"###\n13:(2)t=###\n%%%\n,%%%\n",  # struct field: unsupported
    ],
)
def test_malformed_netstring(frame):
    data = frame + ns_item(hand_sign(frame, 1, "sha1", b"hbd-test-key"))
    assert reason_of(data, NS_AUTH) == "malformed"


def test_netstring_tampering_any_byte_is_rejected():
    data = hand_netstring(STATUS_306, 1, "sha1", b"hbd-test-key")
    for pos in range(len(data)):
        tampered = data[:pos] + bytes([data[pos] ^ 0x04]) + data[pos + 1 :]
        with pytest.raises(WireError):
            decode(tampered, NS_AUTH)
