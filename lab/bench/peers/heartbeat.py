"""heartbeat 3.0.6 (classic haresources mode, no CRM) as a bench peer.

heartbeat reads fixed paths (/etc/ha.d, /var/lib/heartbeat, /run) and names itself after `uname -n`,
so each node runs it in its own mount and UTS namespace (research/heartbeat.md §11.1):
`unshare --mount --uts --propagation private sh peer/start-heartbeat`, which sets the hostname, binds
the node's copies of /etc/ha.d (the package's resource.d + our ha.cf, haresources, authkeys) and
/var/lib/heartbeat over the real ones, mounts a fresh tmpfs on /run, and execs `heartbeat -f`
(foreground: the pid the lab holds is the master control process; SIGTERM is a clean stop).
On a node that is a machine of its own (a Docker container: hostname = node name, its own /etc and /run)
none of that is needed, nor allowed (no CAP_SYS_ADMIN for unshare --mount): `sh peer/start-heartbeat`
copies ha.cf, haresources and authkeys into the image's /etc/ha.d (the package's resource.d stays),
clears heartbeat's run state left by a power cycle and execs `heartbeat -f`.
Media: bcast on every heartbeat segment (LAN and crossover), as hbd. haresources moves only the VIP
(IPaddr::VIP/prefix/iface). Settings: keepalive, deadtime, warntime, initdead (durations).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.bench.peers.base import PeerError, PeerNode, seconds
from lab.spec.daemon import HEARTBEAT_UDP_PORT

HEARTBEAT_BIN = Path("/usr/libexec/heartbeat/heartbeat")
SYSTEM_HAD = Path("/etc/ha.d")
SYSTEM_LIB = Path("/var/lib/heartbeat")
HEARTBEAT_PORT = HEARTBEAT_UDP_PORT
CONFIG_FILES = ("ha.cf", "haresources", "authkeys")  # what the lab writes; the rest of ha.d is the package's


def ms(value: float) -> str:
    return f"{round(value * 1000)}ms"


def timings(settings: Mapping[str, Any]) -> dict[str, float]:
    keepalive = seconds(settings, "keepalive", 1.0)
    deadtime = seconds(settings, "deadtime", 3.0)
    warntime = seconds(settings, "warntime", min(deadtime, keepalive * 2))
    initdead = seconds(settings, "initdead", max(2 * deadtime, 2.0))
    if not 0 < keepalive < deadtime:
        raise PeerError(f"heartbeat: keepalive ({keepalive:g} s) must be below deadtime ({deadtime:g} s)")
    if not keepalive <= warntime <= deadtime:
        raise PeerError(f"heartbeat: warntime {warntime:g} s must lie between keepalive and deadtime")
    return {"keepalive": keepalive, "deadtime": deadtime, "warntime": warntime, "initdead": initdead}


def render_hacf(node: PeerNode, nodes: tuple[str, str], settings: Mapping[str, Any]) -> str:
    t = timings(settings)
    lines = [
        f"logfile {node.peer_dir / 'ha-log'}",
        "use_logd no",
        f"udpport {HEARTBEAT_PORT}",  # before the media (heartbeat warns otherwise)
        f"keepalive {ms(t['keepalive'])}",
        f"deadtime {ms(t['deadtime'])}",
        f"warntime {ms(t['warntime'])}",
        f"initdead {ms(t['initdead'])}",
        f"bcast {' '.join(node.media_ifaces)}",
        "auto_failback on",
        "crm off",
        f"node {' '.join(nodes)}",
    ]
    return "\n".join(lines) + "\n"


def render_haresources(home: str, node: PeerNode) -> str:
    return f"{home} IPaddr::{node.vip.ip}/{node.vip.network.prefixlen}/{node.vip_iface}\n"


def start_script(node: PeerNode) -> str:
    d = node.peer_dir
    if node.own_machine:
        return container_start_script(node)
    return f"""#!/bin/sh
# Runs inside `unshare --mount --uts`: this node's view of heartbeat's fixed paths, then heartbeat itself.
set -eu
hostname {node.name}
mount --bind {d / "ha.d"} /etc/ha.d
mount --bind {d / "lib"} /var/lib/heartbeat
mount -t tmpfs -o mode=0755 hbl-run /run
mkdir -p /run/lock /run/heartbeat /run/resource-agents
exec {HEARTBEAT_BIN} -f
"""


def container_start_script(node: PeerNode) -> str:
    had = node.peer_dir / "ha.d"
    ours = " ".join(str(had / name) for name in CONFIG_FILES)
    return f"""#!/bin/sh
# Runs in the node's own container: heartbeat's fixed paths are the node's, so our files go there.
set -eu
cp {ours} {SYSTEM_HAD}/
chmod 600 {SYSTEM_HAD / "authkeys"}
# A power-off (docker kill) leaves the pid file and resource state in the container's /run: a new pid
# can match the stale one, and heartbeat would think it already runs.
rm -rf /run/heartbeat.pid /run/heartbeat /run/resource-agents
mkdir -p /run/lock /run/heartbeat /run/resource-agents {SYSTEM_LIB}
exec {HEARTBEAT_BIN} -f
"""


class HeartbeatDriver:
    kind = "heartbeat"
    packages = ("heartbeat",)
    binary = str(HEARTBEAT_BIN)

    def render(self, node: PeerNode, settings: Mapping[str, Any], secret: str) -> None:
        d = node.peer_dir
        d.mkdir(parents=True, exist_ok=True)
        # netns: the package's resource.d (IPaddr ...) and state skeleton (owned by hacluster), copied, not
        # linked, to bind over the host's. A container has its own (from the image): nothing to copy.
        copies = () if node.own_machine else ((SYSTEM_HAD, d / "ha.d"), (SYSTEM_LIB, d / "lib"))
        for src, dst in copies:
            if not src.is_dir():
                raise PeerError(f"heartbeat: {src} is missing (is the heartbeat package installed?)")
            if not dst.exists():
                res = subprocess.run(["cp", "-a", str(src), str(dst)], capture_output=True, text=True)
                if res.returncode != 0:
                    raise PeerError(f"heartbeat: copying {src}: {res.stderr.strip()}")
        home = node.name if node.home else node.peer
        nodes = (home, node.peer if node.home else node.name)
        had = d / "ha.d"
        had.mkdir(exist_ok=True)
        (had / "ha.cf").write_text(render_hacf(node, nodes, settings))
        (had / "haresources").write_text(render_haresources(home, node))
        (had / "authkeys").write_text(f"auth 1\n1 sha1 {secret}\n")
        os.chmod(had / "authkeys", 0o600)
        (d / "start-heartbeat").write_text(start_script(node))
        os.chmod(d / "start-heartbeat", 0o755)

    def argv(self, node: PeerNode, settings: Mapping[str, Any]) -> list[str]:
        script = str(node.peer_dir / "start-heartbeat")
        if node.own_machine:
            return ["sh", script]
        return ["unshare", "--mount", "--uts", "--propagation", "private", "sh", script]
