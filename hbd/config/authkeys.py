"""`authkeys` in heartbeat's syntax (heartbeat.md §4, `auth.c:parse_authfile()`), plus sha256.

    auth N                  # the index that signs outgoing packets
    N crc                   # no key: integrity against noise only
    N md5 KEY | N sha1 KEY  # HMAC, as heartbeat
    N sha256 KEY            # hbd's recommended keyed HMAC-SHA256

Indexes are 0..15; the key is one token of raw bytes. As in heartbeat, a comment is a line
whose first character is `#` (so a key may contain `#`). Messages never quote the file's
text: a misplaced token could be a key.
"""

from __future__ import annotations

from hbd.config.errors import Diagnostics
from hbd.config.model import AuthConfig, AuthKey
from hbd.config.syntax import is_number

METHODS = ("crc", "md5", "sha1", "sha256")
KEYED_METHODS = frozenset(["md5", "sha1", "sha256"])
MAX_INDEX = 15


def _index(token: str) -> int | None:
    if is_number(token) and int(token) <= MAX_INDEX:
        return int(token)
    return None


def parse_authkeys(text: str, diag: Diagnostics) -> AuthConfig:
    """Parse authkeys text (decoded with surrogateescape so every key byte survives)."""
    active: int | None = None
    active_line: int | None = None
    keys: dict[int, AuthKey] = {}
    key_lines: dict[int, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.lstrip().startswith("#"):
            continue
        tokens = raw.split()
        if not tokens:
            continue
        if tokens[0] == "auth":
            if len(tokens) != 2 or _index(tokens[1]) is None:
                diag.error(number, "bad auth line", f"auth N, with N in 0..{MAX_INDEX}")
            elif active_line is not None:
                diag.error(number, "auth given twice", f"first on line {active_line}")
            else:
                active, active_line = _index(tokens[1]), number
            continue
        index = _index(tokens[0])
        if index is None or len(tokens) < 2:
            diag.error(number, "bad line", f"auth N, or N METHOD [KEY] with N in 0..{MAX_INDEX}")
            continue
        method = tokens[1].lower()
        if method not in METHODS:
            diag.error(number, f"index {index}: unknown method", "crc, md5, sha1 or sha256")
            continue
        if method in KEYED_METHODS and len(tokens) != 3:
            if len(tokens) < 3:
                diag.error(number, f"index {index}: {method} needs a key", f"{index} {method} KEY")
            else:
                diag.error(number, f"index {index}: the key must be one word", "no spaces in the key")
            continue
        if method == "crc" and len(tokens) != 2:
            diag.error(number, f"index {index}: crc takes no key", f"{index} crc")
            continue
        if index in keys:
            diag.error(number, f"index {index} defined twice", f"first on line {key_lines[index]}")
            continue
        key = tokens[2].encode("utf-8", "surrogateescape") if method in KEYED_METHODS else b""
        keys[index] = AuthKey(index, method, key)
        key_lines[index] = number
        if method == "crc":
            diag.warn(number, f"index {index}: crc authenticates nothing", "use sha256 with a random key")

    if active is None:
        diag.error(None, "no auth line", "add: auth N (the index that signs)")
        active = min(keys, default=0)
    elif active not in keys:
        diag.error(
            active_line, f"auth {active}: no key with index {active}", f"add a line: {active} sha256 KEY"
        )
    return AuthConfig(active, tuple(keys[i] for i in sorted(keys)))
