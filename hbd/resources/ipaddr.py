"""Built-in `IPaddr` / `IPaddr2`: the service address, added and removed in-process through netlink.

Argument syntax (heartbeat.md 5.1), one argument after the resource name:
- IPaddr:  `ip[/prefix[/iface[/broadcast]]]`, or `ip/prefix/broadcast` if the third part starts with a digit;
- IPaddr2: `ip[/prefix[/iface[:label][/broadcast]]]`.
The prefix may also be written as a dotted netmask, as old IPaddr configs do.

start: choose the interface (the given one, else the one with the longest configured IPv4 network
containing the address; heartbeat never uses the default route), add the address, then send the
gratuitous ARP burst on that interface. stop: remove the address wherever it is (on the given interface
only, when one is given) and cancel a burst still running. status: present or not.
All three are idempotent. The link is never set up: in the lab a downed link is a deliberate fault.

Many addresses at once (`start_many`, `stop_many`: a group's run of IP resources) share one netlink
socket; every address is added before the first gratuitous ARP leaves, and the events are written after
the last one, stamped with the times things happened (`mono`, `wall`): writing an event costs ~40 us
(file and log line, each flushed), three per address, which was most of a 100-address takeover.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hbd.netlink import NetlinkError, RtNetlink
from hbd.resources.arp import ArpError, GarpBurst, start_garp_burst

IPADDR_NAMES = ("IPaddr", "IPaddr2")
IFNAMSIZ = 15
RC_OK = 0
RC_ERROR = 1
RC_STOPPED = 3  # LSB status "not running"

Emit = Callable[..., None]
"""`emit(event_name, level, **fields)`"""


@dataclass(frozen=True)
class IpSpec:
    ip: str
    prefix: int | None = None
    iface: str | None = None
    label: str | None = None  # the full label, "eth0:vip"
    broadcast: str | None = None


@dataclass(frozen=True)
class IpOutcome:
    rc: int
    detail: str


def _prefix(text: str, spec: str) -> int:
    if "." in text:
        try:
            return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
        except ValueError:
            raise ValueError(f"{spec}: {text!r} is not a netmask") from None
    if not text.isdigit() or not 0 <= int(text) <= 32:
        raise ValueError(f"{spec}: prefix {text!r} is not a number from 0 to 32")
    return int(text)


def _ipv4(text: str, spec: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"{spec}: {what} {text!r} is not an IPv4 address") from None


def parse_ip_spec(name: str, args: Sequence[str]) -> IpSpec:
    """The IpSpec for resource `name::args`. Raises ValueError naming the resource on bad input."""
    return _parse_ip_spec(name, tuple(args))


@functools.lru_cache(maxsize=4096)
def _parse_ip_spec(name: str, args: tuple[str, ...]) -> IpSpec:
    # Cached: every operation on an address parses its spec again (~15 us), a thousand on a takeover.
    spec = "::".join((name, *args))
    if name not in IPADDR_NAMES:
        raise ValueError(f"{spec}: not an IP address resource ({', '.join(IPADDR_NAMES)})")
    if len(args) != 1:
        raise ValueError(f"{spec}: expected one argument ip[/prefix[/iface[/broadcast]]], got {len(args)}")
    parts = args[0].split("/")
    if len(parts) > 4:
        raise ValueError(f"{spec}: too many '/' parts (ip[/prefix[/iface[/broadcast]]])")
    ip = _ipv4(parts[0], spec, "address")
    prefix = _prefix(parts[1], spec) if len(parts) > 1 and parts[1] else None
    iface_part = parts[2] if len(parts) > 2 else ""
    broadcast_part = parts[3] if len(parts) > 3 else ""
    if name == "IPaddr" and iface_part[:1].isdigit():
        if broadcast_part:
            raise ValueError(f"{spec}: a broadcast address in the third part leaves no room for a fourth")
        iface_part, broadcast_part = "", iface_part  # IPaddr's ip/prefix/broadcast form
    iface, label = None, None
    if iface_part:
        iface = iface_part.split(":", 1)[0]
        label = iface_part if ":" in iface_part else None
        if iface_part[:1].isdigit():  # only IPaddr has the ip/prefix/broadcast form
            raise ValueError(f"{spec}: {iface_part!r} is not a valid interface (IPaddr2: ip/prefix/iface)")
        if not iface or len(iface) > IFNAMSIZ or len(iface_part) > IFNAMSIZ:
            raise ValueError(
                f"{spec}: {iface_part!r} is not a valid interface[:label] (at most 15 characters)"
            )
    broadcast = _ipv4(broadcast_part, spec, "broadcast") if broadcast_part else None
    return IpSpec(ip, prefix, iface, label, broadcast)


@dataclass(frozen=True)
class _Placement:
    index: int
    iface: str
    prefix: int
    broadcast: str | None


def _ifname(index: int) -> str:
    # A syscall per name instead of a netlink link dump.
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def _ifindex(name: str) -> int | None:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def is_local(ip: str) -> bool:
    """Whether `ip` is an address of this host (network namespace): binding to it succeeds only then.
    Takes microseconds where an address dump takes milliseconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((ip, 0))
        except OSError:
            return False
    return True


def _place(nl: RtNetlink, spec: IpSpec) -> _Placement:
    """Where `spec` goes: interface, prefix, broadcast. Raises ValueError when it cannot be decided."""
    wanted_index = None
    if spec.iface is not None:
        wanted_index = _ifindex(spec.iface)
        if wanted_index is None:
            raise ValueError(f"interface {spec.iface} does not exist")
    vip = ipaddress.IPv4Address(spec.ip)
    best: tuple[int, int] | None = None  # (prefixlen, index)
    for a in nl.addresses():
        if wanted_index is not None and a.index != wanted_index:
            continue
        if vip in ipaddress.IPv4Network(f"{a.address}/{a.prefixlen}", strict=False) and (
            best is None or a.prefixlen > best[0]
        ):
            best = (a.prefixlen, a.index)
    index = wanted_index if wanted_index is not None else (best[1] if best else None)
    prefix = spec.prefix if spec.prefix is not None else (best[0] if best else None)
    if index is None or prefix is None:
        where = f"on {spec.iface}" if spec.iface else "on any interface"
        raise ValueError(
            f"no configured IPv4 network {where} contains {spec.ip}: give ip/prefix/iface explicitly"
        )
    broadcast = spec.broadcast
    if broadcast is None and prefix <= 30:
        broadcast = str(ipaddress.IPv4Network(f"{spec.ip}/{prefix}", strict=False).broadcast_address)
    return _Placement(index, _ifname(index), prefix, broadcast)


def _holders(nl: RtNetlink, spec: IpSpec) -> list[tuple[int, str, int]]:
    """(index, iface, prefixlen) of every interface carrying the address (only spec.iface, when given)."""
    held = [(a.index, _ifname(a.index), a.prefixlen) for a in nl.addresses() if a.address == spec.ip]
    return [h for h in held if spec.iface is None or h[1] == spec.iface]


class _Deferred:
    """Events held back until a batch is done, each stamped when it happened (see the module doc)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.held: list[tuple[str, str, dict[str, object]]] = []

    def __call__(self, event: str, level: str, **fields: object) -> None:
        self.held.append((event, level, {**fields, "mono": time.monotonic(), "wall": time.time()}))

    def flush(self) -> None:
        held, self.held = self.held, []
        for event, level, fields in held:
            self.emit(event, level, **fields)


class IpAddrManager:
    """The built-in IP resource. One per daemon: it remembers bursts in flight so `stop` can cancel them."""

    def __init__(self, garp_count: int = 5, garp_interval_s: float = 0.2) -> None:
        self.garp_count = garp_count
        self.garp_interval_s = garp_interval_s
        self.bursts: dict[str, GarpBurst] = {}
        # Where each address goes, worked out once (at the boot-time status probe or the first start): the
        # address dump is the slow part of a start, which a takeover should not pay.
        self.places: dict[IpSpec, _Placement] = {}

    def _garp(self, spec: IpSpec, iface: str, emit: Emit) -> str:
        old = self.bursts.pop(spec.ip, None)
        if old is not None:
            old.cancel()
        try:
            burst = start_garp_burst(iface, spec.ip, self.garp_count, self.garp_interval_s)
        except ArpError as exc:
            emit("garp.failed", "ERROR", ip=spec.ip, iface=iface, detail=str(exc))
            return f"; gratuitous ARP failed: {exc}"
        self.bursts[spec.ip] = burst
        burst.done.add_done_callback(lambda _f: self._forget(spec.ip, burst))
        emit(
            "garp.sent",
            "INFO",
            ip=spec.ip,
            iface=iface,
            count=self.garp_count,
            interval_s=self.garp_interval_s,
            first_mono=burst.first_sent_mono,
            mac=burst.mac_text,
        )
        return f"; gratuitous ARP x{self.garp_count} on {iface}"

    def _forget(self, ip: str, burst: GarpBurst) -> None:
        if self.bursts.get(ip) is burst:
            del self.bursts[ip]

    async def start(self, spec: IpSpec, emit: Emit) -> IpOutcome:
        return (await self.start_many([spec], emit))[0]

    async def start_many(self, specs: Sequence[IpSpec], emit: Emit) -> list[IpOutcome]:
        """Add the addresses in order over one netlink socket, then send each one's first gratuitous ARP.
        Stops at the first that cannot be added: the outcomes are those of specs[:len(outcomes)], the
        last one failed; the rest were not touched (a group rolls back what its start touched)."""
        if not specs:
            return []
        try:
            nl = RtNetlink()
        except OSError as exc:
            return [IpOutcome(RC_ERROR, f"cannot add {specs[0].ip}: {exc}")]
        log = _Deferred(emit)
        outcomes: list[IpOutcome] = []
        added: list[tuple[int, IpSpec, _Placement]] = []
        with nl:
            for spec in specs:
                outcome, place = self._add(nl, spec, log)
                if place is not None:
                    added.append((len(outcomes), spec, place))
                outcomes.append(outcome)
                if outcome.rc != RC_OK:
                    break
        # Every address is up before the first announcement: a client that follows one finds it served.
        for index, spec, place in added:
            outcomes[index] = IpOutcome(RC_OK, outcomes[index].detail + self._garp(spec, place.iface, log))
        log.flush()
        return outcomes

    def _add(self, nl: RtNetlink, spec: IpSpec, emit: Emit) -> tuple[IpOutcome, _Placement | None]:
        """Add one address; the placement when this call added it (None: already there, or failed)."""
        try:
            place = self.places.get(spec)
            if place is None:
                held = _holders(nl, spec)
                if held:
                    return IpOutcome(RC_OK, f"{spec.ip} already on {held[0][1]}"), None
                place = self.places[spec] = _place(nl, spec)
            try:
                nl.add_address(place.index, spec.ip, place.prefix, place.broadcast, spec.label)
            except NetlinkError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                return IpOutcome(RC_OK, f"{spec.ip} already on {place.iface}"), None
        except (ValueError, NetlinkError, OSError) as exc:
            self.places.pop(spec, None)  # the interface may have changed: work it out afresh next time
            return IpOutcome(RC_ERROR, f"cannot add {spec.ip}: {exc}"), None
        emit("ip.added", "INFO", ip=spec.ip, iface=place.iface, prefix=place.prefix)
        return IpOutcome(RC_OK, f"{spec.ip}/{place.prefix} added on {place.iface}"), place

    async def stop(self, spec: IpSpec, emit: Emit) -> IpOutcome:
        return (await self.stop_many([spec], emit))[0]

    async def stop_many(self, specs: Sequence[IpSpec], emit: Emit) -> list[IpOutcome]:
        """Remove each address (in the order given) over one netlink socket; one outcome per spec."""
        log = _Deferred(emit)
        for spec in specs:
            burst = self.bursts.pop(spec.ip, None)
            if burst is not None:
                burst.cancel()
        try:
            nl = RtNetlink()
        except OSError as exc:
            return [IpOutcome(RC_ERROR, f"cannot remove {spec.ip}: {exc}") for spec in specs]
        with nl:
            outcomes = [self._remove(nl, spec, log) for spec in specs]
        log.flush()
        return outcomes

    def _remove(self, nl: RtNetlink, spec: IpSpec, emit: Emit) -> IpOutcome:
        removed: list[str] = []

        def remove(index: int, iface: str, plen: int) -> None:
            try:
                nl.del_address(index, spec.ip, plen)
            except NetlinkError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:  # already gone: that is what we wanted
                    raise
                return
            removed.append(iface)
            emit("ip.removed", "INFO", ip=spec.ip, iface=iface)

        try:
            place = self.places.get(spec)
            if place is not None:  # where start put it: no address dump before the client loses it
                remove(place.index, place.iface, place.prefix)
            if is_local(spec.ip):  # not there, or also elsewhere (an admin's copy): look everywhere
                for index, iface, plen in _holders(nl, spec):
                    remove(index, iface, plen)
        except (NetlinkError, OSError) as exc:
            return IpOutcome(RC_ERROR, f"cannot remove {spec.ip}: {exc}")
        return IpOutcome(
            RC_OK, f"{spec.ip} removed from {', '.join(removed)}" if removed else f"{spec.ip} not present"
        )

    async def status(self, spec: IpSpec) -> IpOutcome:
        try:
            with RtNetlink() as nl:
                held = _holders(nl, spec)
                if spec not in self.places:
                    with contextlib.suppress(ValueError):
                        self.places[spec] = _place(nl, spec)
        except (NetlinkError, OSError) as exc:
            return IpOutcome(RC_ERROR, f"cannot read addresses: {exc}")
        if held:
            return IpOutcome(RC_OK, f"{spec.ip} running on {held[0][1]}")
        return IpOutcome(RC_STOPPED, f"{spec.ip} stopped")

    async def announce(self, spec: IpSpec, emit: Emit) -> IpOutcome:
        """Send the gratuitous ARP burst again if the address is here (after a split brain heals).
        Clients follow the last announcement, so it goes out before anything slower: with the placement
        known and the address bound here, no netlink dump at all."""
        place = self.places.get(spec)
        if place is not None and is_local(spec.ip):
            return IpOutcome(RC_OK, f"{spec.ip} announced" + self._garp(spec, place.iface, emit))
        try:
            with RtNetlink() as nl:
                held = _holders(nl, spec)
        except (NetlinkError, OSError) as exc:
            return IpOutcome(RC_ERROR, f"cannot read addresses: {exc}")
        if not held:
            return IpOutcome(RC_STOPPED, f"{spec.ip} not here: nothing to announce")
        return IpOutcome(RC_OK, f"{spec.ip} announced" + self._garp(spec, held[0][1], emit))
