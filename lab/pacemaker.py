"""`daemon: pacemaker` nodes: the cluster `hbd export pacemaker` makes of the nodes' own hbd files.

For each service node the lab renders hbd's ha.d as for hbd (lab/render.py), with a haresources that moves
only the VIP (the service responder runs on every service node for the whole run, as for the bench's peers:
the exported `lsb:hblab-service` would lose its port and label arguments), then runs hbd's own exporter on
the first one's: `hbd export pacemaker --format cib --node N --address N:IFACE=IP ... --out DIR`, once;
every node gets the same corosync.conf, authkey and CIB, as an admin copies them. The lab then adds what
hbd's files cannot say:

- a node with `quorum_only: true` (a third machine that only gives the cluster its quorum; hbd itself
  knows two nodes) is added as an admin grows the exported cluster: a nodelist entry with its address on
  each knet link, a plain majority instead of two_node, a CIB node, and a -INFINITY location for every
  group so Pacemaker never moves a service there;
- Corosync's log goes to DIR/corosync.log (the run directory keeps it; the export names /var/log).

lab/node/pacemaker.py installs DIR's files inside the node and runs Corosync and Pacemaker.
The exporter runs as a command, like `hbd check`: the lab imports only hbd.config (the import rule).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hbd.config.model import ResourceGroup
from hbd.config.render import render_haresources
from lab.backends.base import NodeDirs
from lab.render import ClusterSecret, RenderError, fencing_agent, render_node, resource_groups
from lab.spec.topology import Topology

PACEMAKER_DIR = "pacemaker"  # under the node's directory: what the exporter wrote, and the daemons' logs
EXPORT_TIMEOUT_S = 60.0
LOGFILE = "/var/log/corosync/corosync.log"  # where the exported corosync.conf logs


def pacemaker_dir(dirs: NodeDirs) -> Path:
    return dirs.root / PACEMAKER_DIR


def export_argv(topology: Topology, node: str, config_dir: Path, out: Path) -> list[str]:
    """hbd's exporter on the node's files; every server's address on every heartbeat medium (ha.cf's
    bcast lines name interfaces only, Corosync's nodelist needs the addresses)."""
    argv = [sys.executable, "-m", "hbd.cli", "export", "pacemaker", "--config-dir", str(config_dir)]
    argv += ["--format", "cib", "--node", node, "--out", str(out)]
    for server in topology.servers:
        for segment, end in topology.endpoints_of(server.name):
            if segment.heartbeat != "none":
                argv += ["--address", f"{server.name}:{end.iface}={end.ip.ip}"]
    return argv


def quorum_only_locations(cib_text: str, nodes: list[str]) -> str:
    """The CIB with a -INFINITY location for every group on each quorum-only node."""
    # Keep the exporter's header comment (what was not carried over) in the file the nodes load.
    root = ET.fromstring(cib_text, ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    resources = root.find("configuration/resources")
    constraints = root.find("configuration/constraints")
    if resources is None or constraints is None:
        raise RenderError("the exported cib.xml has no configuration/resources or constraints")
    for group in resources.findall("group"):
        for node in nodes:
            ET.SubElement(
                constraints,
                "rsc_location",
                {"id": f"loc-{group.get('id')}-not-{node}", "rsc": str(group.get("id")), "node": node},
            ).set("score", "-INFINITY")
    return ET.tostring(root, encoding="unicode") + "\n"


def add_quorum_nodes(conf: str, topology: Topology, first: str, nodes: list[str]) -> str:
    """corosync.conf with each quorum-only node in the nodelist (its address on the segment of each of the
    first node's rings) and votequorum's plain majority instead of two_node."""
    lines = conf.splitlines()
    start = lines.index("nodelist {")
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    block = "\n".join(lines[start:end])
    first_block = block.split(f"name: {first}\n", 1)[1].split("}", 1)[0]
    rings = re.findall(r"ring(\d+)_addr: (\S+)", first_block)
    ids = [int(n) for n in re.findall(r"nodeid: (\d+)", block)]
    added: list[str] = []
    for offset, node in enumerate(nodes, start=1):
        added += ["\tnode {", f"\t\tname: {node}", f"\t\tnodeid: {max(ids) + offset}"]
        for ring, address in rings:
            segment = next(s for s, e in topology.endpoints_of(first) if str(e.ip.ip) == address)
            end_point = segment.endpoint(node)
            if end_point is None:
                raise RenderError(f"quorum-only node {node} is not on {segment.name} (ring {ring})")
            added.append(f"\t\tring{ring}_addr: {end_point.ip.ip}")
        added.append("\t}")
    lines[end:end] = added
    out = "\n".join(lines) + "\n"
    # Three votes or more: a plain majority; two_node would make a lone node of two quorate.
    majority = "\n\t# quorum-only nodes added by the lab: a plain majority of the votes\n"
    return re.sub(r"\n[^\n]*two nodes[^\n]*\n\s*two_node: 1\n", majority, out)


def add_cib_nodes(cib_text: str, nodes: list[str], first_id: int) -> str:
    root = ET.fromstring(cib_text, ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    node_list = root.find("configuration/nodes")
    if node_list is None:
        raise RenderError("the exported cib.xml has no configuration/nodes")
    for offset, node in enumerate(nodes):
        ET.SubElement(node_list, "node", {"id": str(first_id + offset), "uname": node})
    return ET.tostring(root, encoding="unicode") + "\n"


def render_pacemaker_cluster(
    topology: Topology, daemon: Mapping[str, Any], dirs: Mapping[str, NodeDirs], secret: ClusterSecret
) -> None:
    """Render hbd's files for the service nodes, export them once (every node gets the same corosync.conf,
    authkey and CIB, as an admin copies them), add the quorum-only nodes, and put the result in each
    `daemon: pacemaker` node's pacemaker_dir."""
    if fencing_agent(daemon) is not None:
        raise RenderError(
            "daemon: pacemaker nodes: daemon.fencing is not supported there yet (the exported stonith "
            "device would need the lab's power switch inside the node); use fencing: off"
        )
    members = [n.name for n in topology.servers if n.daemon == "pacemaker"]
    service_nodes = [n for n in members if not topology.node(n).quorum_only]
    quorum_only = [n for n in members if topology.node(n).quorum_only]
    if not service_nodes:
        raise RenderError(f"topology {topology.name}: every pacemaker node is quorum_only")
    for node in service_nodes:
        render_node(topology, node, daemon, dirs[node], secret)
        groups = tuple(
            ResourceGroup(home=g.home, resources=tuple(r for r in g.resources if r.name == "IPaddr"))
            for g in resource_groups(topology)
        )
        (dirs[node].config_dir / "haresources").write_text(render_haresources(groups))
    first = service_nodes[0]
    exported = pacemaker_dir(dirs[first])
    exported.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        export_argv(topology, first, dirs[first].config_dir, exported),
        capture_output=True,
        text=True,
        timeout=EXPORT_TIMEOUT_S,
        check=False,
    )
    (exported / "export.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RenderError(f"exporting {first}'s files: exit {result.returncode}: {result.stderr}")
    conf = (exported / "corosync.conf").read_text()
    cib = (exported / "cib.xml").read_text()
    if quorum_only:
        conf = add_quorum_nodes(conf, topology, first, quorum_only)
        cib = add_cib_nodes(cib, quorum_only, len(service_nodes) + 1)
        cib = quorum_only_locations(cib, quorum_only)
    authkey = (exported / "authkey").read_bytes()
    for node in members:
        out = pacemaker_dir(dirs[node])
        out.mkdir(parents=True, exist_ok=True)
        (out / "corosync.conf").write_text(conf.replace(LOGFILE, str(out / "corosync.log")))
        _write_private(out / "cib.xml", cib.encode())
        _write_private(out / "authkey", authkey)


def _write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
