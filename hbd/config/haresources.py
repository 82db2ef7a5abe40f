"""`haresources` in heartbeat's syntax (heartbeat.md §5.1, `ResourceManager`'s sed/awk clean-up).

    NODE RESOURCE[::ARG[::ARG...]] ...        # one resource group per logical line
    NODE                                      # a node with no home groups (it only takes over)

* `#` starts a comment anywhere; a line ending in `\\` continues on the next one;
  whitespace is squeezed; the first field (the home node) is lower-cased.
* A bare IPv4 token (shell glob `[0-9]*.[0-9]*.[0-9]*.[0-9]*`) means `IPaddr::<token>`.
* The first resource of a line is the group key; keys are unique.
* `IPaddr`/`IPaddr2` arguments are checked here (`parse_ip_spec`), so a typo in the service
  address fails `hbd check` instead of the takeover.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from hbd.config.errors import Diagnostics
from hbd.config.model import IpSpec, Resource, ResourceGroup, Where
from hbd.config.syntax import clipped, is_number, shown

BARE_IP_GLOB = "[0-9]*.[0-9]*.[0-9]*.[0-9]*"
IP_RESOURCES = ("IPaddr", "IPaddr2")
_RESOURCE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_IFACE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*")
_IFNAME_MAX = 15


def canonical_token(token: str) -> str:
    """Heartbeat's `canonname()`: a bare IPv4 address stands for `IPaddr::address`."""
    return f"IPaddr::{token}" if fnmatchcase(token, BARE_IP_GLOB) else token


def parse_ip_spec(resource: str, arg: str) -> IpSpec:
    """Parse `ip[/prefix[/iface[:label][/broadcast]]]`; ValueError with a readable message.

    As in heartbeat's IPaddr wrapper, `ip/prefix/broadcast` is accepted when the third part
    starts with a digit. The prefix may be a length (1..32) or a dotted netmask. Only IPaddr2
    accepts `iface:label`.
    """
    parts = arg.split("/")
    if len(parts) > 4:
        raise ValueError(f"too many '/' parts in {arg!r}")
    ip = _address(parts[0], "address")
    prefix = _prefix(parts[1]) if len(parts) > 1 else None
    iface = label = broadcast = None
    if len(parts) > 2:
        if parts[2][:1].isdigit() and len(parts) == 3:
            broadcast = _address(parts[2], "broadcast")
        else:
            iface, label = _iface_label(resource, parts[2])
    if len(parts) > 3:
        broadcast = _address(parts[3], "broadcast")
    return IpSpec(ip, prefix, iface, label, broadcast)


def _address(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"bad {what} {text!r}") from None


def _prefix(text: str) -> int:
    if is_number(text):
        value = int(text)
        if 1 <= value <= 32:
            return value
        raise ValueError(f"bad prefix {shown(text)}: 1..32")
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
    except ValueError:
        hint = "a length 1..32 or a netmask like 255.255.255.0"
        raise ValueError(f"bad prefix {shown(text)}: {hint}") from None


def _iface_label(resource: str, text: str) -> tuple[str, str | None]:
    iface, sep, label = text.partition(":")
    if not _IFACE_RE.fullmatch(iface) or len(iface) > _IFNAME_MAX:
        raise ValueError(f"bad interface {iface!r}")
    if not sep:
        return iface, None
    if resource != "IPaddr2":
        raise ValueError(f"{resource} takes no :label on the interface (IPaddr2 does)")
    if not _IFACE_RE.fullmatch(label) or len(text) > _IFNAME_MAX:
        raise ValueError(f"bad label {text!r}: interface:label is at most 15 characters")
    return iface, label


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Comments dropped, `\\` continuations joined: (first physical line number, content)."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if content.endswith("\\"):
            pending.append(content[:-1])
            continue
        pending.append(content)
        joined = " ".join(" ".join(pending).split())
        pending = []
        if joined:
            result.append((start, joined))
    if pending:  # a continuation on the last line: heartbeat's sed keeps what it has
        joined = " ".join(" ".join(pending).split())
        if joined:
            result.append((start, joined))
    return result


def parse_haresources(text: str, diag: Diagnostics, nodes: Sequence[str] = ()) -> tuple[ResourceGroup, ...]:
    """Parse haresources text. `nodes` (from ha.cf) are the valid home nodes; empty skips that check."""
    groups: list[ResourceGroup] = []
    key_lines: dict[str, int] = {}
    spec_lines: dict[str, int] = {}
    for number, content in logical_lines(text):
        home, *tokens = content.split()
        home = home.lower()
        if nodes and home not in nodes:
            diag.error(number, f"{home} is not a node of ha.cf", "ha.cf lists " + ", ".join(nodes))
        if not tokens:
            continue  # a node alone on its line has no home groups (the article's `bobek`): legal
        resources = [r for r in (_resource(tok, number, diag) for tok in tokens) if r is not None]
        if len(resources) != len(tokens):
            continue
        group = ResourceGroup(home, tuple(resources), Where(diag.file, number))
        if group.key in key_lines:
            diag.error(number, f"group {group.key} defined twice", f"first on line {key_lines[group.key]}")
            continue
        key_lines[group.key] = number
        for resource in resources:
            if resource.spec in spec_lines and spec_lines[resource.spec] != number:
                diag.warn(number, f"{resource.spec} is also in the group on line {spec_lines[resource.spec]}")
            spec_lines.setdefault(resource.spec, number)
        groups.append(group)
    return tuple(groups)


def _resource(token: str, line: int, diag: Diagnostics) -> Resource | None:
    name, *args = canonical_token(token).split("::")
    if not _RESOURCE_NAME_RE.fullmatch(name):
        diag.error(line, f"bad resource name {shown(name)}", "a script name in resource.d or init.d, no '/'")
        return None
    if any(not arg for arg in args):
        diag.error(line, f"{clipped(token)}: empty argument", "arguments are separated by ::")
        return None
    if name in IP_RESOURCES:
        if len(args) != 1:
            hint = f"{name}::ip[/prefix[/iface[/broadcast]]]"
            diag.error(line, f"{clipped(token)}: {name} takes one argument", hint)
            return None
        try:
            parse_ip_spec(name, args[0])
        except ValueError as bad:
            diag.error(line, f"{clipped(token)}: {bad}", f"{name}::ip[/prefix[/iface[/broadcast]]]")
            return None
    return Resource(name, tuple(args))
