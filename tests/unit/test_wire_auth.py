"""Digests checked against independent computations (hashlib/hmac, a bit-by-bit CRC)."""

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.auth import crc32_heartbeat, digest, sign, verify
from hbd.wire.error import WireError

TEXT = b"t=status\nst=active\nsrc=bob\nseq=2f\nhg=6b06fbc0\n"


def bitwise_crc(data: bytes) -> int:
    """CRC-32/CKSUM without the length, one bit at a time: a different algorithm from the table in auth.py."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc ^ 0xFFFFFFFF


def test_crc_check_value():
    assert crc32_heartbeat(b"123456789") == 0x765E7680
    assert digest(AuthKey(1, "crc"), b"123456789") == "765e7680"


@pytest.mark.parametrize("data", [b"", b"\0", b"\xff" * 7, TEXT, bytes(range(256))])
def test_crc_matches_bitwise_reference(data):
    assert crc32_heartbeat(data) == bitwise_crc(data)


def test_crc_hex_has_no_zero_padding():
    # Find an input whose CRC has a leading zero nibble, as heartbeat's printf("%lx") would print it.
    data = next(d for i in range(1000) if bitwise_crc(d := b"x%d" % i) < 0x10000000)
    assert digest(AuthKey(1, "crc"), data) == format(bitwise_crc(data), "x")
    assert len(digest(AuthKey(1, "crc"), data)) < 8


@pytest.mark.parametrize(
    ("method", "hashfn"), [("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256)]
)
def test_hmac_golden(method, hashfn):
    key = AuthKey(3, method, b"Sekrit!")
    expected = hmac.new(b"Sekrit!", TEXT, hashfn).hexdigest()
    assert digest(key, TEXT) == expected
    assert sign(TEXT, key) == f"3 {expected}"


def test_sha1_long_key_is_hashed_first_like_rfc2104():
    long_key = b"k" * 100
    expected = hmac.new(hashlib.sha1(long_key).digest(), TEXT, hashlib.sha1).hexdigest()
    assert digest(AuthKey(1, "sha1", long_key), TEXT) == expected


def test_known_hmac_md5_vector():
    # RFC 2104 test case 2.
    assert (
        digest(AuthKey(1, "md5", b"Jefe"), b"what do ya want for nothing?")
        == "750c783e6ab0b503eaa86e310a5db738"
    )


def test_unknown_method_is_a_config_error():
    with pytest.raises(ValueError, match="rot13"):
        digest(AuthKey(1, "rot13", b"k"), TEXT)


OLD_KEY, NEW_KEY = b"old-Zq9w", b"new-Xy7v"
KEYS = AuthConfig(active=2, keys=(AuthKey(1, "md5", OLD_KEY), AuthKey(2, "sha256", NEW_KEY)))


def test_verify_uses_the_key_of_the_index_in_the_packet():
    for key in KEYS.keys:
        assert verify(TEXT, sign(TEXT, key).encode(), KEYS) == key


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"5 " + hashlib.sha256(b"x").hexdigest().encode(), "unknown_key"),
        (b"2 " + b"0" * 64, "bad_auth"),
        (b"2 " + hmac.new(NEW_KEY, TEXT, hashlib.sha256).hexdigest().upper().encode(), "bad_auth"),
        (b"2", "bad_auth"),
        (b"2  abc", "bad_auth"),
        (b"x abc", "bad_auth"),
        (b"", "bad_auth"),
        (b"2 " + b"a" * 65, "bad_auth"),
    ],
)
def test_verify_rejects(value, reason):
    with pytest.raises(WireError) as err:
        verify(TEXT, value, KEYS)
    assert err.value.reason == reason


def test_verify_detects_changed_text():
    value = sign(TEXT, KEYS.key(1)).encode()
    with pytest.raises(WireError, match="bad_auth"):
        verify(TEXT + b"x=1\n", value, KEYS)


def test_error_detail_never_contains_key_material():
    with pytest.raises(WireError) as err:
        verify(TEXT, b"2 " + b"0" * 64, KEYS)
    for secret in (OLD_KEY, NEW_KEY):
        assert secret.decode() not in str(err.value)
        assert secret.decode() not in repr(KEYS)  # AuthKey hides its key from repr


@settings(max_examples=200)
@given(
    st.sampled_from(["md5", "sha1", "sha256"]),
    st.binary(max_size=150),  # keys longer than the 64-byte block are hashed first (RFC 2104)
    st.binary(max_size=300),
)
def test_hmac_from_precomputed_key_states_is_the_standard_hmac(method: str, key: bytes, data: bytes) -> None:
    expected = hmac.new(key, data, getattr(hashlib, method)).hexdigest()
    assert digest(AuthKey(1, method, key), data) == expected
    assert digest(AuthKey(1, method, key), data) == expected  # the cached states are not consumed
