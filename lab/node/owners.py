"""Who holds the VIP: sampled on every node through netlink, written to owners.jsonl.

`python -m lab.node.owners --vip 192.168.77.50 --node bob=hblab12-bob --node bobek=hblab12-bobek
                      --out FILE --every-ms 2 (--until-file STOP | --duration-s N)`

One netlink socket per node namespace (opened inside it, then used from here). A record is written
whenever the set of owners changes, and every KEEP_S otherwise (so a reader can tell the sampler was
alive): {"mono", "source": "owner", "event": "vip.owners", "vip", "owners": [NODE, ...]}.
With several VIPs (active-active) each gets its own records. Ownership means the address is
configured on the node, whatever the link state: that is what a split brain is made of.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import IO

from pyroute2 import IPRoute
from pyroute2.netns import popns, pushns

KEEP_S = 0.5


class NodeAddresses:
    """A netlink socket bound inside one node's namespace."""

    def __init__(self, node: str, netns: str) -> None:
        self.node = node
        pushns(netns)
        try:
            self.ipr = IPRoute()
        finally:
            popns()

    def addresses(self) -> set[str]:
        return {str(msg.get_attr("IFA_ADDRESS")) for msg in self.ipr.get_addr(family=2)}

    def close(self) -> None:
        self.ipr.close()


MAX_PASSES = 20


def sample(nodes: list[NodeAddresses], vips: list[str]) -> tuple[float, dict[str, list[str]]]:
    """(when, owners per VIP). The nodes are read one after the other, and a pass takes several ms on a
    loaded machine: a handover in the middle of one would show the node that already let go beside the
    one that just took over. So read again until two passes agree; the state then held at the instant
    between them for every node."""
    held = {n.node: n.addresses() for n in nodes}
    for _ in range(MAX_PASSES):
        between = time.monotonic()
        again = {n.node: n.addresses() for n in nodes}
        if again == held:
            break
        held = again
    return between, {vip: sorted(node for node, addrs in held.items() if vip in addrs) for vip in vips}


def run(
    nodes: list[NodeAddresses],
    vips: list[str],
    every_ms: float,
    out: IO[str],
    until_file: Path | None,
    duration_s: float | None,
) -> None:
    start = time.monotonic()
    parent = os.getppid()  # the runner: if it dies without stopping us, stop too
    last: dict[str, list[str]] = {}
    last_write = {vip: 0.0 for vip in vips}
    i = 0
    while True:
        now = time.monotonic()
        if duration_s is not None and now - start >= duration_s:
            break
        if until_file is not None and i % 50 == 0 and (until_file.exists() or os.getppid() != parent):
            break
        i += 1
        now, owners = sample(nodes, vips)
        for vip in vips:
            if owners[vip] != last.get(vip) or now - last_write[vip] >= KEEP_S:
                rec = {
                    "mono": now,
                    "source": "owner",
                    "event": "vip.owners",
                    "vip": vip,
                    "owners": owners[vip],
                }
                out.write(json.dumps(rec) + "\n")
                out.flush()
                last_write[vip] = now
        last = owners
        time.sleep(max(0.0, every_ms / 1000 - (time.monotonic() - now)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lab.node.owners", description="sample VIP ownership on lab nodes"
    )
    p.add_argument("--vip", action="append", required=True, help="a service IP (repeat for several)")
    p.add_argument(
        "--node", action="append", required=True, metavar="NAME=NETNS", help="a node and its namespace"
    )
    p.add_argument("--every-ms", type=float, default=2.0)
    p.add_argument("--out", type=Path, required=True)
    stop = p.add_mutually_exclusive_group(required=True)
    stop.add_argument("--until-file", type=Path)
    stop.add_argument("--duration-s", type=float)
    args = p.parse_args(argv)
    pairs = []
    for item in args.node:
        name, sep, netns = item.partition("=")
        if not sep or not name or not netns:
            p.error(f"--node wants NAME=NETNS, got {item!r}")
        pairs.append((name, netns))
    nodes = [NodeAddresses(name, netns) for name, netns in pairs]
    try:
        with open(args.out, "a") as out:
            run(nodes, args.vip, args.every_ms, out, args.until_file, args.duration_s)
    finally:
        for n in nodes:
            n.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
