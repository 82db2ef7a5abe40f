"""A scapy layer for hbd's heartbeat packets (UDP port 694), and the packets the lab forges with it.

Dissection is for looking, not for trusting: it reads the fields of a classic packet
(`>>>\\n name=value\\n ... auth=IDX HEX\\n <<<\\n`) or a heartbeat 3.0.6 netstring packet
(`###\\n LEN:(T)name=value, ... %%%\\n LEN:IDX HEX,`) without checking any signature, so the lab can
say what it captured or replays (type, source node, generation, seq, key index). Any bytes dissect
without an exception: junk simply has no fields.

Building: `junk(size)` is the flood packet of issue 11 (many tiny `a=` lines inside the classic
framing, which cost an unhardened receiver a full parse before the signature check);
`signed(message, key)` signs a real message with a key of the caller's choosing (a wrong key: what a
host without the authkeys secret can send); `replay(raw)` sends captured bytes again, unchanged.

Lives in lab/node because the programs that use it run inside a node (lab/node/flood.py,
lab/node/replay.py), and lab.node imports no other lab package; tests read pcaps with it on the host.
scapy is in the `lab` extra of the host venv, not in the Docker node image: on Docker these programs
cannot run (the faults that use them are netns-only, lab/spec/scenario.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scapy.fields import StrField
from scapy.layers.inet import UDP
from scapy.packet import Packet, bind_layers

from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import decode_packet, encode
from hbd.wire.error import WireError
from hbd.wire.message import Message

HEARTBEAT_PORT = 694
CLASSIC_START = b">>>\n"
CLASSIC_END = b"<<<\n"
NETSTRING_START = b"###\n"
NETSTRING_END = b"%%%\n"
JUNK_LINE = b"a=\n"
_NETSTRING_ITEM = re.compile(rb"(\d{1,7}):")
_TYPED_NAME = re.compile(rb"\((\d)\)")


def _classic_fields(data: bytes) -> Iterator[tuple[str, str]]:
    end = data.find(b"\n" + CLASSIC_END[:-1], len(CLASSIC_START) - 1)
    body = data[len(CLASSIC_START) : end + 1 if end >= 0 else len(data)]
    for line in body.split(b"\n"):
        name, sep, value = line.partition(b"=")
        if sep:
            typed = _TYPED_NAME.match(name)
            yield (
                (name[typed.end() :] if typed else name).decode(errors="replace"),
                value.decode(errors="replace"),
            )


def _netstring_fields(data: bytes) -> Iterator[tuple[str, str]]:
    pos = len(NETSTRING_START)
    while pos < len(data) and not data.startswith(NETSTRING_END, pos):
        match = _NETSTRING_ITEM.match(data, pos)
        if match is None:
            return
        start, pos = match.end(), match.end() + int(match[1])
        item = data[start:pos]
        pos += 1  # the ','
        typed = _TYPED_NAME.match(item)
        name, sep, value = item[typed.end() if typed else 0 :].partition(b"=")
        if sep:
            yield name.decode(errors="replace"), value.decode(errors="replace")
    # the outer trailer after %%% is the packet's signature: report it as `auth` if the inner one is missing
    match = _NETSTRING_ITEM.match(data, pos + len(NETSTRING_END))
    if match is not None:
        yield "outer_auth", data[match.end() : match.end() + int(match[1])].decode(errors="replace")


def parse_fields(data: bytes) -> list[tuple[str, str]]:
    """The `name=value` fields of a heartbeat packet in either encoding; [] for anything else."""
    if data.startswith(CLASSIC_START):
        return list(_classic_fields(data))
    if data.startswith(NETSTRING_START):
        return list(_netstring_fields(data))
    return []


def _hex(value: str | None) -> int | None:
    try:
        return int(value, 16) if value else None
    except ValueError:
        return None


class Heartbeat(Packet):
    """One hbd / heartbeat datagram. The raw payload is kept whole (`data`): replays must resend the
    exact bytes, signature included; the accessors below read the fields from it."""

    name = "Heartbeat"
    fields_desc = [StrField("data", b"")]

    @property
    def encoding(self) -> str:
        data = bytes(self.data)
        if data.startswith(CLASSIC_START):
            return "classic"
        return "netstring" if data.startswith(NETSTRING_START) else "other"

    @property
    def heartbeat_fields(self) -> dict[str, str]:  # not `fields`: scapy keeps its field values there
        return dict(parse_fields(bytes(self.data)))

    def field(self, name: str) -> str | None:
        for key, value in parse_fields(bytes(self.data)):
            if key == name:
                return value
        return None

    @property
    def msg_type(self) -> str | None:
        return self.field("t")

    @property
    def src(self) -> str | None:
        return self.field("src")

    @property
    def generation(self) -> int | None:
        return _hex(self.field("hg"))

    @property
    def seq(self) -> int | None:
        return _hex(self.field("seq"))

    @property
    def auth_index(self) -> int | None:
        value = self.field("auth") or self.field("outer_auth")
        head = value.split(" ", 1)[0] if value else ""
        return int(head) if head.isdigit() and len(head) < 6 else None

    def verdict(self, auth: AuthConfig) -> str:
        """Would a receiver holding `auth` (the run's authkeys) take this packet? "accept" when its
        signature verifies (hbd.wire's own decoder, both encodings), else the decoder's reason
        (bad_auth, unknown_key, no_auth, malformed, too_large). The replay window is per receiver and
        stateful, so a replayed copy of a good packet still says "accept" here."""
        try:
            decode_packet(bytes(self.data), auth)
        except WireError as e:
            return e.reason
        return "accept"

    def mysummary(self) -> str:
        if self.msg_type is None:
            return f"Heartbeat {self.encoding} {len(bytes(self.data))} bytes (no fields)"
        return (
            f"Heartbeat {self.msg_type} src={self.src} hg={self.generation} seq={self.seq} "
            f"key={self.auth_index}"
        )

    def summary_dict(self) -> dict[str, object]:
        """What a lab record says about a captured packet (JSON-ready)."""
        return {
            "t": self.msg_type,
            "src": self.src,
            "hg": self.generation,
            "seq": self.seq,
            "key": self.auth_index,
            "bytes": len(bytes(self.data)),
        }


# Both directions: daemons send from and to port 694.
bind_layers(UDP, Heartbeat, dport=HEARTBEAT_PORT)
bind_layers(UDP, Heartbeat, sport=HEARTBEAT_PORT)


# ---------------------------------------------------------------- forging


def junk(size: int) -> bytes:
    """A `size`-byte datagram of tiny `a=` lines inside `>>>`/`<<<` framing, no valid signature."""
    filler = max(0, size - len(CLASSIC_START) - len(CLASSIC_END))
    lines, rest = divmod(filler, len(JUNK_LINE))
    return CLASSIC_START + JUNK_LINE * lines + b"\n" * rest + CLASSIC_END


def wrong_key(method: str = "sha256", index: int = 1, secret: bytes = b"not-the-cluster-key") -> AuthConfig:
    """An authkeys of our own: packets signed with it carry a valid-looking auth line that fails."""
    return AuthConfig(active=index, keys=(AuthKey(index=index, method=method, key=secret),))


def signed(message: Message, auth: AuthConfig) -> bytes:
    """`message` encoded and signed exactly as hbd does, with the given keys (hbd.wire.codec.encode)."""
    return encode(message, auth)


def forged_status(src: str, seq: int, generation: int, auth: AuthConfig) -> bytes:
    """A plausible status heartbeat claiming to come from `src`, signed with `auth` (a wrong key)."""
    msg = Message.build("status", st="active", src=src, seq=seq, hg=generation, ts=generation, dt=300)
    return signed(msg, auth)


def packet(payload: bytes, dst: str, src: str | None = None, sport: int = HEARTBEAT_PORT) -> Packet:
    """IP/UDP/Heartbeat around `payload` for scapy's send(); `src` forges the source address."""
    from scapy.layers.inet import IP

    ip = IP(dst=dst) if src is None else IP(dst=dst, src=src)
    return ip / UDP(sport=sport, dport=HEARTBEAT_PORT) / Heartbeat(data=payload)
