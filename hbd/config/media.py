"""The media directives of ha.cf: `bcast` (and its old name `udp`), `mcast`, `ucast`, `serial`,
and the `udpport`/`baud` settings that apply to the media lines *after* them, as in heartbeat.

Medium names are stable and unique: `bcast:IF`, `mcast:IF:GROUP`, `ucast:IF:PEER`, `serial:DEV`.
"""

from __future__ import annotations

import ipaddress

from hbd.config.directive import ParseState, scalar, where_of
from hbd.config.model import Medium
from hbd.config.syntax import BadValue, is_number, parse_iface, parse_int, parse_ipv4, parse_port, shown

MCAST_MAX_TTL = 4  # heartbeat's mcast plugin enforces 0..4 although its docs say 0..255
BAUD_RATES = (1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)


def parse_udpport(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    before = len(state.lines)
    scalar("udpport", parse_port)(state, tokens, line, name)
    if len(state.lines) == before:
        return
    state.udpport = state.values["udpport"]
    # Heartbeat warns about this unconditionally; warn only when it really happens.
    earlier = [m.name for m in state.media if m.kind in ("bcast", "ucast") and m.port != state.udpport]
    if earlier:
        state.diag.warn(
            line,
            f"udpport {state.udpport} does not apply to the media above it ({', '.join(earlier)})",
            "put udpport before the media lines",
        )


def parse_baud(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    before = len(state.lines)

    def convert(token: str) -> int:
        if not is_number(token) or int(token) not in BAUD_RATES:
            raise BadValue(f"bad speed {shown(token)}", "one of " + " ".join(str(b) for b in BAUD_RATES))
        return int(token)

    scalar("baud", convert)(state, tokens, line, name)
    if len(state.lines) == before:
        return
    state.baud = state.values["baud"]
    earlier = [m.name for m in state.media if m.kind == "serial" and m.baud != state.baud]
    if earlier:
        state.diag.warn(
            line,
            f"baud {state.baud} does not apply to the serial lines above it ({', '.join(earlier)})",
            "put baud before the serial lines",
        )


def parse_bcast(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if name == "udp":
        state.diag.warn(line, "udp is an old name for bcast", "write bcast")
    if not tokens:
        state.diag.error(line, f"{name} needs at least one interface", "bcast eth1 [eth2 ...]")
    for token in tokens:
        try:
            iface = parse_iface(token)
        except BadValue as bad:
            state.diag.error(line, f"{name}: {bad.message}", bad.hint)
            continue
        medium = Medium(
            "bcast", f"bcast:{iface}", iface=iface, port=state.udpport, where=where_of(state, line)
        )
        state.add_medium(medium, line)


def parse_mcast(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if len(tokens) != 5:
        state.diag.error(line, f"mcast takes 5 values, got {len(tokens)}", "mcast IFACE GROUP PORT TTL LOOP")
        return
    errors = len(state.diag.errors)
    iface = group = None
    port = ttl = loop = 0
    try:
        iface = parse_iface(tokens[0])
    except BadValue as bad:
        state.diag.error(line, f"mcast: {bad.message}", bad.hint)
    try:
        group = parse_ipv4(tokens[1], "multicast group")
        if not ipaddress.IPv4Address(group).is_multicast:
            raise BadValue(
                f"{group} is not a multicast address", "224.0.0.0 to 239.255.255.255, e.g. 225.0.0.1"
            )
    except BadValue as bad:
        state.diag.error(line, f"mcast: {bad.message}", bad.hint)
    for index, convert in ((2, parse_port), (3, lambda t: parse_int(t, 0, MCAST_MAX_TTL, "ttl"))):
        try:
            value = convert(tokens[index])
        except BadValue as bad:
            state.diag.error(line, f"mcast: {bad.message}", bad.hint)
            continue
        if index == 2:
            port = value
        else:
            ttl = value
    if tokens[4] in ("0", "1"):
        loop = int(tokens[4])
    else:
        state.diag.error(line, f"mcast: bad loop {shown(tokens[4])}", "0 or 1")
    if len(state.diag.errors) != errors or iface is None or group is None:
        return
    medium = Medium(
        "mcast",
        f"mcast:{iface}:{group}",
        iface=iface,
        port=port,
        group=group,
        ttl=ttl,
        loop=bool(loop),
        where=where_of(state, line),
    )
    state.add_medium(medium, line)


def parse_ucast(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if len(tokens) != 2:
        state.diag.error(
            line, f"ucast takes 2 values, got {len(tokens)}", "ucast IFACE PEER-IP, one per line"
        )
        return
    try:
        iface = parse_iface(tokens[0])
        peer = parse_ipv4(tokens[1], "peer address")
    except BadValue as bad:
        state.diag.error(line, f"ucast: {bad.message}", bad.hint)
        return
    # A line naming this node's own address is fine: heartbeat's files are the same on both nodes.
    medium = Medium(
        "ucast",
        f"ucast:{iface}:{peer}",
        iface=iface,
        port=state.udpport,
        peer=peer,
        where=where_of(state, line),
    )
    state.add_medium(medium, line)


def parse_serial(state: ParseState, tokens: list[str], line: int, name: str) -> None:
    if not tokens:
        state.diag.error(line, "serial needs at least one device", "serial /dev/ttyS0")
    for token in tokens:
        if not token.startswith("/dev/"):
            state.diag.error(line, f"serial: bad device {token!r}", "a device path like /dev/ttyS0")
            continue
        medium = Medium(
            "serial", f"serial:{token}", device=token, baud=state.baud, where=where_of(state, line)
        )
        state.add_medium(medium, line)
