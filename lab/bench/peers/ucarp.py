"""ucarp (CARP) as a bench peer.

Adverts go over the dedicated heartbeat link (--interface, --srcip); the up-script adds the VIP on the
LAN interface and sends gratuitous ARP with arping, the down-script removes it. The home node has the
lower advskew (wins elections) and both preempt, as hbd's auto_failback on. `--shutdown` runs the
down-script when ucarp is stopped, so a soft stop releases the VIP.
Settings: advbase (whole seconds, default 1), advskew_other (default 10).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lab.bench.peers.base import PeerError, PeerNode

VHID = 7


def advbase(settings: Mapping[str, Any]) -> int:
    value = settings.get("advbase", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 255:
        raise PeerError(f"ucarp: advbase is whole seconds 1-255, got {value!r}")
    return value


def up_script(node: PeerNode) -> str:
    vip = f"{node.vip.ip}/{node.vip.network.prefixlen}"
    return (
        "#!/bin/sh\n"
        "# ucarp up-script: the VIP on the LAN interface, then gratuitous ARP so clients move at once.\n"
        f"ip addr add {vip} dev {node.vip_iface} 2>/dev/null\n"
        f"arping -q -U -c 1 -I {node.vip_iface} {node.vip.ip} &\n"
        "exit 0\n"
    )


def down_script(node: PeerNode) -> str:
    vip = f"{node.vip.ip}/{node.vip.network.prefixlen}"
    return f"#!/bin/sh\nip addr del {vip} dev {node.vip_iface} 2>/dev/null\nexit 0\n"


class UcarpDriver:
    kind = "ucarp"
    packages = ("ucarp", "iputils-arping")
    binary = "ucarp"

    def render(self, node: PeerNode, settings: Mapping[str, Any], secret: str) -> None:
        advbase(settings)
        d = node.peer_dir
        d.mkdir(parents=True, exist_ok=True)
        for name, text in (("vip-up", up_script(node)), ("vip-down", down_script(node))):
            (d / name).write_text(text)
            os.chmod(d / name, 0o755)
        (d / "pass").write_text(secret[:16] + "\n")

    def argv(self, node: PeerNode, settings: Mapping[str, Any]) -> list[str]:
        skew = 0 if node.home else int(settings.get("advskew_other", 10))
        d = node.peer_dir
        return [
            "ucarp",
            f"--interface={node.hb_iface}",
            f"--srcip={node.hb_ip.ip}",
            f"--vhid={VHID}",
            f"--passfile={d / 'pass'}",
            f"--addr={node.vip.ip}",
            f"--advbase={advbase(settings)}",
            f"--advskew={skew}",
            "--preempt",
            "--shutdown",
            f"--upscript={d / 'vip-up'}",
            f"--downscript={d / 'vip-down'}",
        ]
