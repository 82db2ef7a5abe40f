"""The Backend protocol: what the lab needs from a way of running nodes.

Two implementations: network namespaces (`netns.py`, fast, root + iproute2) and Docker containers
(`docker.py`). Everything above this seam (faults, runner, CLI) speaks only in node names and interface
names from the topology, never in namespaces, containers or host-side veth names.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lab.spec.topology import Topology


class LabError(Exception):
    """The lab could not do what was asked (or could not verify it): the run must fail."""


@dataclass(frozen=True)
class LinkState:
    """One node interface as the kernel sees it."""

    node: str
    iface: str
    admin_up: bool  # the node's own end is set up (`ip link set up`)
    carrier: bool  # frames can flow: the other end (switch side) is up and attached
    cable_up: bool  # the switch-side end (the cable's far end) is set up
    attached: bool  # the switch-side end is plugged into its bridge


@dataclass(frozen=True)
class NodeDirs:
    """Where one node's files live on the host (bind-mounted into a container by the docker backend)."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "ha.d"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def dev_dir(self) -> Path:
        """Serial device links (ttyS0 -> /dev/pts/N) for this node."""
        return self.root / "dev"

    @property
    def daemon_log(self) -> Path:
        return self.root / "hbd.log"

    @property
    def events(self) -> Path:
        return self.state_dir / "events.jsonl"


class Backend(Protocol):
    """A running topology. `create` builds it, `destroy` removes every trace (idempotent)."""

    name: str
    topology: Topology
    run_id: str

    def create(self) -> None: ...

    def destroy(self) -> None: ...

    def node_dirs(self, node: str) -> NodeDirs: ...

    def exec(
        self,
        node: str,
        argv: Sequence[str],
        *,
        input_text: str | None = None,
        timeout_s: float = 30.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node and wait for it."""
        ...

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        start_at: float | None = None,
    ) -> int:
        """Start a long-running process inside the node; returns its pid (as the host sees it).

        `start_at` (time.monotonic() value): the process execs no earlier than this, so several
        nodes can be started at the same moment.
        """
        ...

    def signal(self, pid: int, sig: int) -> None: ...

    def alive(self, pid: int) -> bool:
        """True while the process exists and is not a zombie."""
        ...

    def stopped(self, pid: int) -> bool:
        """True while the process is stopped by SIGSTOP."""
        ...

    def pids(self, node: str) -> list[int]:
        """Every process running inside the node."""
        ...

    def set_link(self, node: str, iface: str, up: bool, *, side: str = "node") -> None:
        """Set an interface up or down: side="node" is the node's own end, "cable" the switch's end."""
        ...

    def attach(self, node: str, iface: str, attached: bool) -> None:
        """Plug the node's cable into its bridge, or pull it out."""
        ...

    def link_state(self, node: str, iface: str) -> LinkState: ...

    def addresses(self, node: str) -> list[tuple[str, str]]:
        """(iface, address/prefix) of every IPv4 address on the node, loopback excluded."""
        ...

    def power_off(self, node: str) -> float | None:
        """Every process killed at once, every cable dead from the switch side, runtime addresses gone.
        Returns time.monotonic() of the moment the power went, when the backend knows it."""
        ...

    def power_on(self, node: str) -> None:
        """Cables back up (the caller boots the daemon again; the state dir survives)."""
        ...

    def serial_set(self, line: str, relaying: bool) -> None:
        """Cut (stop relaying) or heal a serial line, and verify it."""
        ...

    def serial_relaying(self, line: str) -> bool: ...

    def serial_device(self, node: str, device: str) -> str:
        """The path under /dev that the node opens for its serial end `device` (ttyS0)."""
        ...

    def kernel_features(self) -> dict[str, bool]:
        """What the kernel offers for faults: {"netem": ..., "nft": ..., "tbf": ...}."""
        ...
