"""Heartbeat's value syntax in config files: times, booleans, numbers, addresses, names.

Each parser takes one token and returns the value or raises `BadValue` with a message and a
hint for the user; the file parsers turn that into a `FILE:LINE:` problem.
"""

from __future__ import annotations

import ipaddress
import re

TRUE_WORDS = frozenset(["true", "on", "yes", "y", "1"])
FALSE_WORDS = frozenset(["false", "off", "no", "n", "0"])

_TIME_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|msec|us|usec)?", re.IGNORECASE)
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
        if re.fullmatch(r"\d+(\.\d*)?\s*(s|sec|secs|seconds)", token, re.IGNORECASE):
            hint = "plain numbers are seconds: write 2, not 2s"
        raise BadValue(f"bad time {token!r}", hint or "use N, N.M (seconds), Nms or Nus")
    number, unit = match.group(1), (match.group(2) or "").lower()
    scale = {"": 1000.0, "ms": 1.0, "msec": 1.0, "us": 0.001, "usec": 0.001}[unit]
    # cl_get_msec() rounds half up to whole milliseconds
    return int(float(number) * scale + 0.5)


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


def parse_int(token: str, low: int, high: int, what: str) -> int:
    if not re.fullmatch(r"\d+", token):
        raise BadValue(f"bad {what} {token!r}", f"a whole number {low}..{high}")
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
