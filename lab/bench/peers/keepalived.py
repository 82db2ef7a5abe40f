"""keepalived (VRRP) as a bench peer.

One vrrp_instance per node: the adverts go over the dedicated heartbeat link (unicast to the peer), the
VIP sits on the LAN interface. The home node starts as MASTER with the higher priority (preempting, as
hbd's auto_failback on). Sub-second adverts need VRRPv3 (`vrrp_version 3`; v2 counts whole seconds).
Settings: advert (duration, default 1s), version (2|3, default 3 below 1 s), rt_priority (int: the VRRP
process's SCHED_RR priority, keepalived's equivalent of hbd's `realtime on`), nopreempt (bool: both nodes
start as BACKUP with `nopreempt`, so a master keeps the VIP when the home node returns: hbd's
auto_failback off; the soak uses it, lab/bench/soak.py).

Run: keepalived -n -l -P -f CONF -p PID -r VRRP_PID -c CHECKERS_PID (foreground, log to the console,
VRRP only, pid files in the node's directory so several instances on one host never meet).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.bench.peers.base import PeerError, PeerNode, seconds

VIRTUAL_ROUTER_ID = 51
HOME_PRIORITY = 150
OTHER_PRIORITY = 100


def version_for(settings: Mapping[str, Any]) -> int:
    advert = seconds(settings, "advert", 1.0)
    version = settings.get("version", 3 if advert < 1 else 2)
    if version not in (2, 3):
        raise PeerError(f"keepalived: version must be 2 or 3, got {version!r}")
    if version == 2 and (advert < 1 or advert != int(advert)):
        raise PeerError(f"keepalived: VRRPv2 adverts are whole seconds, got {advert:g} s (use version 3)")
    if version == 3 and advert < 0.01:
        raise PeerError(f"keepalived: VRRPv3 adverts are centiseconds, at least 0.01 s, got {advert:g} s")
    return int(version)


def advert_text(advert: float) -> str:
    """advert_int as keepalived reads it: whole seconds stay integers, else centiseconds."""
    return str(int(advert)) if advert == int(advert) else f"{advert:.2f}"


def render_conf(node: PeerNode, settings: Mapping[str, Any], secret: str) -> str:
    advert = seconds(settings, "advert", 1.0)
    version = version_for(settings)
    rt = settings.get("rt_priority")
    if rt is not None and (isinstance(rt, bool) or not isinstance(rt, int) or not 1 <= rt <= 99):
        raise PeerError(f"keepalived: rt_priority must be an integer 1-99, got {rt!r}")
    lines = [
        "global_defs {",
        f"    router_id {node.name}",
        f"    vrrp_version {version}",
        "    vrrp_garp_master_delay 0",  # no second GARP burst 5 s later: hbd sends one burst too
        "    enable_script_security",
    ]
    if rt is not None:
        lines.append(f"    vrrp_rt_priority {rt}")
    nopreempt = bool(settings.get("nopreempt", False))
    lines += [
        "}",
        "vrrp_instance lab {",
        f"    state {'MASTER' if node.home and not nopreempt else 'BACKUP'}",  # nopreempt needs BACKUP
        f"    interface {node.hb_iface}",
        f"    virtual_router_id {VIRTUAL_ROUTER_ID}",
        f"    priority {HOME_PRIORITY if node.home else OTHER_PRIORITY}",
        f"    advert_int {advert_text(advert)}",
        f"    unicast_src_ip {node.hb_ip.ip}",
        f"    unicast_peer {{\n        {node.peer_hb_ip.ip}\n    }}",
    ]
    if nopreempt:
        lines.append("    nopreempt")
    if version == 2:
        lines.append(f"    authentication {{\n        auth_type PASS\n        auth_pass {secret[:8]}\n    }}")
    lines += [
        "    virtual_ipaddress {",
        f"        {node.vip.ip}/{node.vip.network.prefixlen} dev {node.vip_iface}",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


class KeepalivedDriver:
    kind = "keepalived"
    packages = ("keepalived",)
    binary = "keepalived"

    def render(self, node: PeerNode, settings: Mapping[str, Any], secret: str) -> None:
        node.peer_dir.mkdir(parents=True, exist_ok=True)
        (node.peer_dir / "keepalived.conf").write_text(render_conf(node, settings, secret))

    def argv(self, node: PeerNode, settings: Mapping[str, Any]) -> list[str]:
        d = node.peer_dir
        return [
            "keepalived",
            "-n",  # do not fork: the pid the lab holds is the daemon's
            "-l",  # log to the console (the node's daemon log)
            "-P",  # VRRP only, no health checkers
            "-f",
            str(d / "keepalived.conf"),
            "-p",
            str(d / "keepalived.pid"),
            "-r",
            str(d / "vrrp.pid"),
            "-c",
            str(d / "checkers.pid"),
        ]
