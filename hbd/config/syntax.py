"""Heartbeat's value syntax in config files: times, booleans, numbers, addresses, names.

Each parser takes one token and returns the value or raises `BadValue` with a message and a
hint for the user; the file parsers turn that into a `FILE:LINE:` problem.
"""

from __future__ import annotations

import ipaddress
import re

TRUE_WORDS = frozenset(["true", "on", "yes", "y", "1"])
FALSE_WORDS = frozenset(["false", "off", "no", "n", "0"])

# ASCII digits only: `\d` and str.isdigit() also accept other scripts' digits and "²", which int() refuses.
_TIME_RE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|msec|us|usec)?", re.IGNORECASE)
_DIGITS_RE = re.compile(r"[0-9]+")
MAX_DIGITS = 18  # more is never a sensible setting; thousands of digits would make int() raise
MAX_TIME_MS = 86_400_000  # a day: no heartbeat timing is longer
_SHOWN_MAX = 24  # a bad token is quoted in messages at most this long
_NODE_RE = re.compile(r"[a-z0-9_][a-z0-9._-]*")
_IFNAME_MAX = 15  # IFNAMSIZ - 1


class BadValue(ValueError):
    """A token that cannot be converted; carries the message and a hint for the user."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def parse_time_ms(token: str) -> int:
    """Heartbeat's time syntax to whole milliseconds: `2`, `1.5`, `500ms`, `250000us`.

    A trailing `s` is refused as heartbeat refuses it: `2s` would silently mean something
    else to a heartbeat node reading the same file.
    """
    match = _TIME_RE.fullmatch(token.strip())
    if match is None:
        hint = None
        if re.fullmatch(r"[0-9]+(\.[0-9]*)?\s*(s|sec|secs|seconds)", token, re.IGNORECASE):
            hint = "plain numbers are seconds: write 2, not 2s"
        raise BadValue(f"bad time {shown(token)}", hint or "use N, N.M (seconds), Nms or Nus")
    number, unit = match.group(1), (match.group(2) or "").lower()
    if len(number) > MAX_DIGITS:
        raise BadValue(f"time {shown(token)} has too many digits", f"at most {MAX_TIME_MS // 1000} seconds")
    scale = {"": 1000.0, "ms": 1.0, "msec": 1.0, "us": 0.001, "usec": 0.001}[unit]
    # cl_get_msec() rounds half up to whole milliseconds
    ms = int(float(number) * scale + 0.5)
    if ms > MAX_TIME_MS:
        raise BadValue(f"time {shown(token)} is too long", f"at most {MAX_TIME_MS // 1000} seconds")
    return ms


def parse_time(token: str) -> float:
    """Heartbeat's time syntax to float seconds (whole milliseconds)."""
    return parse_time_ms(token) / 1000.0


def parse_bool(token: str) -> bool:
    word = token.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(f"bad boolean {token!r}", "use on/off, yes/no, true/false, y/n or 1/0")


def shown(token: str) -> str:
    """A token quoted for a message, cut short: a line of thousands of digits stays readable."""
    return repr(token) if len(token) <= _SHOWN_MAX else repr(token[:_SHOWN_MAX]) + "..."


def clipped(text: str, limit: int = 48) -> str:
    """Text for a message, unquoted, cut short like `shown`."""
    return text if len(text) <= limit else text[:limit] + "..."


def is_number(token: str) -> bool:
    """ASCII digits only, and few enough of them to convert safely."""
    return _DIGITS_RE.fullmatch(token) is not None and len(token) <= MAX_DIGITS


def parse_int(token: str, low: int, high: int, what: str) -> int:
    if not is_number(token):
        raise BadValue(f"bad {what} {shown(token)}", f"a whole number {low}..{high}")
    value = int(token)
    if not low <= value <= high:
        raise BadValue(f"{what} {value} out of range", f"{low}..{high}")
    return value


def parse_port(token: str) -> int:
    return parse_int(token, 1, 65535, "port")


def parse_ipv4(token: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(token))
    except ValueError:
        raise BadValue(f"bad {what} {token!r}", "an IPv4 address like 192.168.1.2") from None


def parse_iface(token: str) -> str:
    if len(token) > _IFNAME_MAX or "/" in token or token in (".", ".."):
        raise BadValue(f"bad interface name {token!r}", "at most 15 characters, no '/'")
    if ":" in token:
        raise BadValue(f"bad interface name {token!r}", "name the interface itself, not an alias label")
    return token


def parse_node_name(token: str) -> str:
    name = token.lower()  # heartbeat lower-cases node names
    if not _NODE_RE.fullmatch(name):
        raise BadValue(f"bad node name {token!r}", "a host name as `uname -n` prints it")
    return name
