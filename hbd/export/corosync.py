"""ha.cf + authkeys -> corosync.conf and its authkey (Corosync 3, knet transport).

* **Links.** Each interface hbd heartbeats on (bcast, mcast or ucast lines) becomes one knet link, in ha.cf
  order; several lines on one interface share its link. knet is unicast between the nodes' ring addresses, so
  a broadcast or multicast medium keeps only its interface; `link_mode: active` sends every packet on every
  link, as hbd sends every heartbeat on every medium. A serial medium has no knet equivalent (dropped, with a
  note). Addresses: `--address NODE:IFACE=IP`, else a ucast line's peer (the address of the node that is not
  the local one), else a placeholder corosync refuses to resolve, listed in the notes.
* **Timing.** Corosync declares a node lost `token` ms after the token stops, then spends up to `consensus`
  (at least 1.2 x token) forming the new membership. hbd declares its peer dead after `deadtime`. So
  `token = floor(deadtime / 2.2)` and `consensus = deadtime - token` (= 1.2 x token, rounded), and failure
  detection takes about deadtime under both. The token is retransmitted `token_retransmits_before_loss_const`
  times before it is lost: `max(2, floor(token / keepalive))`, which re-sends it about every keepalive, as hbd
  re-sends its heartbeat.
* **Crypto.** `crypto_cipher: aes256`, `crypto_hash: sha256` (heartbeat authenticated but did not encrypt;
  knet does both). The authkey is derived from the signing secret of authkeys with HKDF-SHA256 (RFC 5869):
  salt `AUTHKEY_SALT`, info the cluster name, 256 bytes (corosync-keygen's default size). Both nodes'
  identical authkeys give the identical authkey, so the export can run on each node; the derivation is
  one-way, so the authkey does not reveal the heartbeat secret. It is no stronger than that secret:
  replace it with `corosync-keygen` once heartbeat is gone. A `crc` authkeys has no secret: no authkey is
  written and corosync refuses to start until `corosync-keygen` makes one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from hbd.config.model import Config, Medium
from hbd.export.model import Note

AUTHKEY_SALT = b"hbd export pacemaker: corosync authkey v1"
AUTHKEY_BYTES = 256
MAX_LINKS = 8  # knet
COROSYNC_DEFAULT_TOKEN_MS = 3000
IP_MEDIA = ("bcast", "mcast", "ucast")


def placeholder(node: str, iface: str) -> str:
    """An address hbd does not know; corosync cannot resolve it, so it fails loudly if left in."""
    return f"@PLACEHOLDER:{node}:{iface}@"


@dataclass(frozen=True)
class Link:
    number: int
    iface: str
    media: tuple[str, ...]  # the hbd medium names it carries
    addresses: tuple[tuple[str, str], ...]  # (node, address or placeholder), in node order


@dataclass(frozen=True)
class Timing:
    token_ms: int
    consensus_ms: int
    retransmits: int


def timing(keepalive_s: float, deadtime_s: float) -> Timing:
    deadtime_ms, keepalive_ms = round(deadtime_s * 1000), max(1, round(keepalive_s * 1000))
    token = deadtime_ms * 5 // 11  # floor(deadtime / 2.2)
    return Timing(token, deadtime_ms - token, max(2, token // keepalive_ms))


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256: extract a pseudorandom key from `ikm`, expand it to `length` bytes."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def derive_authkey(secret: bytes, cluster_name: str) -> bytes:
    """corosync's authkey from the authkeys secret (see the module's docstring)."""
    return hkdf_sha256(secret, AUTHKEY_SALT, cluster_name.encode(), AUTHKEY_BYTES)


def links(
    config: Config, local: str | None, given: Mapping[tuple[str, str], str]
) -> tuple[list[Link], list[Note]]:
    """One knet link per interface with an IP medium; notes for what does not map."""
    notes: list[Note] = []
    by_iface: dict[str, list[Medium]] = {}
    for medium in config.cluster.media:
        where = str(medium.where) if medium.where else None
        if medium.kind == "serial":
            notes.append(
                Note(
                    "dropped",
                    f"{medium.name}: knet has no serial links; give the nodes another network path instead",
                    where,
                )
            )
            continue
        if medium.kind == "mcast":
            notes.append(
                Note(
                    "dropped",
                    f"{medium.name}: group {medium.group}, port {medium.port}, ttl {medium.ttl}, loop "
                    f"{int(medium.loop)} not used: knet sends unicast to each node's ring address",
                    where,
                )
            )
        assert medium.iface is not None
        by_iface.setdefault(medium.iface, []).append(medium)
    result: list[Link] = []
    for iface, media in by_iface.items():
        if len(result) == MAX_LINKS:
            names = ", ".join(m.name for m in media)
            notes.append(Note("dropped", f"{names}: knet has at most {MAX_LINKS} links"))
            continue
        addresses = tuple(
            (node, _address(config, node, iface, media, local, given, notes)) for node in config.cluster.nodes
        )
        result.append(Link(len(result), iface, tuple(m.name for m in media), addresses))
    if not result:
        notes.append(Note("placeholder", "no IP medium: corosync needs at least one link (add ring0_addr)"))
    return result, notes


def _address(
    config: Config,
    node: str,
    iface: str,
    media: list[Medium],
    local: str | None,
    given: Mapping[tuple[str, str], str],
    notes: list[Note],
) -> str:
    if (node, iface) in given:
        return given[(node, iface)]
    peers = list(dict.fromkeys(m.peer for m in media if m.kind == "ucast" and m.peer))
    if len(peers) == 1 and local is not None and node != local:
        return peers[0]  # a ucast line names the peer's address; its own address is not in the file
    why = "hbd's files give no address for it"
    if node == local and peers:
        why = "the ucast lines name only the peer's"
    elif peers:
        why = f"the ucast lines name {', '.join(peers)} but not which node has which"
    notes.append(
        Note(
            "placeholder",
            f"{placeholder(node, iface)}: {node}'s address on {iface} ({why}); "
            f"replace it (or give the export's address option {node}:{iface}=IP)",
        )
    )
    return placeholder(node, iface)


def render(
    config: Config, cluster_name: str, link_list: list[Link], with_key: bool, header: list[str]
) -> str:
    """corosync.conf text; `header` (the export's notes) becomes its leading comment."""
    cluster = config.cluster
    t = timing(cluster.keepalive_s, cluster.deadtime_s)
    lines = [
        *(f"# {line}" if line else "" for line in header),
        "totem {",
        "\tversion: 2",
        f"\tcluster_name: {cluster_name}",
    ]
    lines += ["\ttransport: knet", "\tlink_mode: active"]
    lines += ["\tcrypto_cipher: aes256", "\tcrypto_hash: sha256"]
    if not with_key:
        lines.append("\t# no authkey was derived (authkeys has no secret): run corosync-keygen")
    lines += [
        f"\t# deadtime {cluster.deadtime_s:g} s, keepalive {cluster.keepalive_s:g} s:",
        "\t# token = floor(deadtime / 2.2), consensus = deadtime - token (= 1.2 x token),",
        "\t# token_retransmits_before_loss_const = max(2, floor(token / keepalive))",
        f"\ttoken: {t.token_ms}",
        f"\tconsensus: {t.consensus_ms}",
        f"\ttoken_retransmits_before_loss_const: {t.retransmits}",
    ]
    for link in link_list:
        lines += [
            f"\t# link {link.number}: {', '.join(link.media)}",
            "\tinterface {",
            f"\t\tlinknumber: {link.number}",
            "\t}",
        ]
    lines += ["}", "", "nodelist {"]
    for nodeid, node in enumerate(cluster.nodes, start=1):
        lines += ["\tnode {", f"\t\tname: {node}", f"\t\tnodeid: {nodeid}"]
        for link in link_list:
            address = dict(link.addresses)[node]
            if address.startswith("@PLACEHOLDER"):
                lines.append(f"\t\t# PLACEHOLDER: {node}'s address on {link.iface}")
            lines.append(f"\t\tring{link.number}_addr: {address}")
        lines.append("\t}")
    lines += ["}", "", "quorum {", "\tprovider: corosync_votequorum"]
    if len(cluster.nodes) == 2:
        lines.append("\t# two nodes: one node is quorate once both were seen (two_node implies wait_for_all)")
        lines.append("\ttwo_node: 1")
    lines += ["}", "", "logging {", "\tto_logfile: yes", "\tlogfile: /var/log/corosync/corosync.log"]
    facility = cluster.logfacility
    if facility and facility != "none":
        lines += ["\tto_syslog: yes", f"\tsyslog_facility: {facility}"]
    else:
        lines.append("\tto_syslog: no")
    lines += ["\ttimestamp: on", "}"]
    return "\n".join(lines) + "\n"
