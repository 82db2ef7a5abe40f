"""Signing and checking heartbeat's `auth=IDX HEX` values (heartbeat.md §4).

Works on bytes only: the codec decides which bytes are signed (the classic rendering of the
fields, or the netstring frame). The digest is lower-case hex like heartbeat prints it, and a
receiver compares it in constant time.

Unlike heartbeat 3.0.6, which checks every index's method with the *active* index's key, the
receiver here uses the method and key of the index named in the packet, so a cluster can rotate
keys by listing old and new in authkeys and switching `auth N` one node at a time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable
from typing import Any

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.error import WireError

METHODS: frozenset[str] = frozenset({"crc", "md5", "sha1", "sha256"})

# "IDX HEX": heartbeat's index is 0..15; the longest digest here (sha256) has 64 hex digits.
_AUTH_VALUE = re.compile(rb"(\d{1,2}) ([0-9a-f]{1,64})")


# Bit i of each byte moved to bit 7 - i.
_REVERSED_BITS = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))


def crc32_heartbeat(data: bytes) -> int:
    """Heartbeat's CRC-32: MSB first (not reflected), poly 0x04C11DB7, init 0, final xor 0xFFFFFFFF,
    no length appended. This is not zlib's crc32 (which is reflected); check value of b"123456789"
    is 0x765e7680.

    Computed with zlib all the same, because a per-byte Python loop costs ~0.1 ms per KiB and `crc`
    packets are checked before anything else: the reflected CRC of the bit-reversed bytes, started from
    a zero register (zlib's start value is the complement), is the bit-reversed MSB-first register."""
    reflected = zlib.crc32(data.translate(_REVERSED_BITS), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2) ^ 0xFFFFFFFF


# Constructors, not names: hmac.new() then skips a lookup by name on every packet.
_HMAC_DIGESTS: dict[str, Callable[..., Any]] = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


@functools.lru_cache(maxsize=64)
def _keyed(method: str, key: bytes) -> tuple[Any, Any]:
    """HMAC's inner and outer hash states after the padded key (RFC 2104): computed once per key, copied
    per packet (a copy costs a third of a fresh HMAC, and every heartbeat sent or received needs one)."""
    constructor = _HMAC_DIGESTS[method]
    block = constructor().block_size
    if len(key) > block:
        key = constructor(key).digest()
    key = key.ljust(block, b"\0")
    return constructor(key.translate(_IPAD)), constructor(key.translate(_OPAD))


def digest(key: AuthKey, data: bytes) -> str:
    """The hex digest heartbeat would put after the index for `data` signed with `key`."""
    if key.method == "crc":
        # printf("%lx"): lower-case, no zero padding.
        return format(crc32_heartbeat(data), "x")
    if key.method not in _HMAC_DIGESTS:
        raise ValueError(f"auth method {key.method!r} of key {key.index} is not one of {sorted(METHODS)}")
    inner_start, outer_start = _keyed(key.method, key.key)
    inner = inner_start.copy()
    inner.update(data)
    outer = outer_start.copy()
    outer.update(inner.digest())
    return str(outer.hexdigest())


def sign(data: bytes, key: AuthKey) -> str:
    """The value of an `auth` field (or a netstring trailer): `"<index> <hex>"`."""
    return f"{key.index} {digest(key, data)}"


def verify(data: bytes, auth_value: bytes, keys: AuthConfig) -> AuthKey:
    """Check `auth_value` ("IDX HEX") over `data` with the key of index IDX; return that key.

    Raises WireError `bad_auth` (garbled value or wrong digest) or `unknown_key`."""
    match = _AUTH_VALUE.fullmatch(auth_value)
    if match is None:
        raise WireError("bad_auth", "auth value is not '<index> <lower-case hex>'")
    index = int(match.group(1))
    key = keys.key(index)
    if key is None:
        known = ", ".join(str(k.index) for k in keys.keys)
        raise WireError("unknown_key", f"signed with key index {index}; authkeys has {known or 'none'}")
    expected = digest(key, data).encode("ascii")
    if not hmac.compare_digest(expected, match.group(2)):
        raise WireError("bad_auth", f"{key.method} digest with key index {index} does not match")
    return key
