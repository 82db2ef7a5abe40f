"""The command line of `hbd export`: argparse only, so `hbd run`'s supervisor parent (which builds the same
parser) loads nothing beyond the standard library."""

from __future__ import annotations

import argparse

FORMAT_NAMES = ["cib", "crm", "pcs"]
DEFAULT_CLUSTER_NAME = "hbd"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=["pacemaker"], help="what to export to")
    parser.add_argument("--config-dir", default="/etc/ha.d", help="where ha.cf, haresources, authkeys are")
    parser.add_argument("--format", choices=FORMAT_NAMES, default="crm", help="resource configuration format")
    parser.add_argument(
        "--out",
        help="write corosync.conf, authkey and the resource configuration here (else print the latter)",
    )
    parser.add_argument(
        "--node",
        help="the node these files are from (ucast lines name its peer); default: nodeinfo, uname -n",
    )
    parser.add_argument(
        "--address",
        action="append",
        default=[],
        metavar="NODE:IFACE=IP",
        help="a node's address on an interface, for corosync's nodelist (repeat)",
    )
    parser.add_argument("--cluster-name", default=DEFAULT_CLUSTER_NAME, help="corosync's cluster_name")
