"""Who holds the VIP on Docker nodes: lab.node.owners' sampler, with sockets that follow power cycles.

`python -m lab.backends.docker.owners --vip 192.168.77.50 --node bob=hblab12-bob ... --out FILE
                                      (--until-file STOP | --duration-s N)`

lab.node.owners keeps one netlink socket per node namespace. A container's namespace dies with the
container (`docker kill`) and a new one is born at `docker start`; a socket still open in the old one
would keep it alive, VIP included, and report a powered-off node as an owner. So each node here
watches its container's PID 1: when it is gone the node owns nothing, and the socket is reopened in the
namespace of the next PID 1 once the container runs again. Records are exactly lab.node.owners' records.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netns import popns, pushns

from lab.node.owners import run

REINSPECT_S = 0.05  # while a node is off, ask the engine for its new PID 1 at most this often


def _pid_alive(pid: int, start_time: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0] not in ("Z", "X") and fields[19] == start_time


class ContainerAddresses:
    """The IPv4 addresses of one container, read through a netlink socket inside its namespace."""

    def __init__(self, node: str, container: str, client: Any) -> None:
        self.node = node
        self.container = container
        self.client = client
        self.ipr: IPRoute | None = None
        self.pid = 0
        self.start_time = ""
        self.next_inspect = 0.0

    def _attach(self) -> None:
        now = time.monotonic()
        if now < self.next_inspect:
            return
        self.next_inspect = now + REINSPECT_S
        state = self.client.api.inspect_container(self.container)["State"]
        pid = int(state.get("Pid") or 0)
        if not state.get("Running") or pid <= 0:
            return
        try:
            start_time = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
            pushns(f"/proc/{pid}/ns/net")
        except OSError:
            return  # it died between the inspect and here: try again later
        try:
            self.ipr = IPRoute()
        finally:
            popns()
        self.pid, self.start_time = pid, start_time

    def addresses(self) -> set[str]:
        if self.ipr is not None and not _pid_alive(self.pid, self.start_time):
            self.close()  # powered off: let the dead namespace go
        if self.ipr is None:
            self._attach()
        if self.ipr is None:
            return set()
        return {str(msg.get_attr("IFA_ADDRESS")) for msg in self.ipr.get_addr(family=2)}

    def close(self) -> None:
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None


def main(argv: list[str] | None = None) -> int:
    import docker

    p = argparse.ArgumentParser(
        prog="python -m lab.backends.docker.owners", description="sample VIP ownership on Docker lab nodes"
    )
    p.add_argument("--vip", action="append", required=True, help="a service IP (repeat for several)")
    p.add_argument(
        "--node", action="append", required=True, metavar="NAME=CONTAINER", help="a node and its container"
    )
    p.add_argument("--every-ms", type=float, default=2.0)
    p.add_argument("--out", type=Path, required=True)
    stop = p.add_mutually_exclusive_group(required=True)
    stop.add_argument("--until-file", type=Path)
    stop.add_argument("--duration-s", type=float)
    args = p.parse_args(argv)
    pairs = []
    for item in args.node:
        name, sep, container = item.partition("=")
        if not sep or not name or not container:
            p.error(f"--node wants NAME=CONTAINER, got {item!r}")
        pairs.append((name, container))
    client = docker.from_env()
    nodes = [ContainerAddresses(name, container, client) for name, container in pairs]
    try:
        with open(args.out, "a") as out:
            run(nodes, args.vip, args.every_ms, out, args.until_file, args.duration_s)  # type: ignore[arg-type]
    finally:
        for n in nodes:
            n.close()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
