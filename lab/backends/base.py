"""The Backend protocol: what the lab needs from a way of running nodes.

Two implementations: network namespaces (`netns.py`, fast, root + iproute2) and Docker containers
(`docker/backend.py`); what both do on the host lives in `host.py`. Everything above this seam (faults,
runner, bench, CLI) speaks only in node names and interface names from the topology, never in namespaces,
containers or host-side veth names, and never asks which backend it has: what differs is a method here
or a field of `Capabilities` (tests/lab/test_backend_conformance.py runs the same checks on both).
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


@dataclass(frozen=True)
class Capabilities:
    """What a backend offers beyond the common ground of the protocol."""

    # Each node is a machine of its own (own hostname, own filesystem): a daemon's default paths do not
    # collide between nodes. Network namespaces share the host's hostname and filesystem.
    own_machines: bool
    # Nodes run from an image variant (`use_node_image`); without it they run the host's programs.
    node_images: bool
    # Nodes can reach a Docker engine that knows them as containers (`give_nodes_docker_api`): what
    # fence agents speaking the Docker API (fence_docker) need.
    node_docker_api: bool


@dataclass(frozen=True)
class DockerApiAccess:
    """How a node's fence_docker reaches the Docker API, and which container is each node's plug."""

    options: tuple[tuple[str, str], ...]  # fence_docker's name=value options
    plugs: Mapping[str, str]  # node -> container name


class Backend(Protocol):
    """A running topology. `create` builds it, `destroy` removes every trace (idempotent)."""

    name: str
    topology: Topology
    run_id: str
    capabilities: Capabilities

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
        """The path under /dev that the node opens for its serial end `device` (ttyS0): the relay's pty
        slave (/dev/pts/N) on netns, /dev/<device> in a container (the pty is bind-mounted there)."""
        ...

    def kernel_features(self) -> dict[str, bool]:
        """What the kernel offers for faults: {"netem": ..., "nft": ..., "tbf": ...}."""
        ...

    # -- how the lab launches things ----------------------------------------------------------------

    def python_argv(self, module: str) -> list[str]:
        """argv that runs `python -m MODULE` inside a node, with hbd and the lab importable (the daemon,
        the prober). Host paths work in every node: the docker backend links this venv's path to the
        image's venv."""
        ...

    def exec_argv(self, node: str, argv: Sequence[str], *, tty: bool = False) -> list[str]:
        """A host command line that runs `argv` in the node with the caller's stdin/stdout (`hblab exec`);
        `tty`: the caller is a terminal and the command is interactive."""
        ...

    def start_host_process(
        self, argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a helper on the host, outside every node (the owner sampler, stress-ng: the nodes share
        the host's cores), recorded with the run's processes so `destroy` and `hblab clean` end it."""
        ...

    def switch_tap(self, segment: str) -> tuple[list[str], str]:
        """Where a segment's frames can be recorded from the switch side: an argv prefix that runs a host
        program where the segment's bridge is (netns: the switch namespace; docker: [] for the host) and
        the bridge's name. A powered-off node cannot stop a recorder there (lab/backends/capture.py)."""
        ...

    def owner_sampler_argv(self) -> list[str]:
        """argv of the host program that samples who holds each VIP on the server nodes; the runner adds
        --vip, --out and --until-file (lab.node.owners' options and records)."""
        ...

    def socket_dir(self) -> Path:
        """A host directory every node sees at the same path: where the lab serves unix sockets to the
        nodes (the power switch of fence_lab). Exists while the run does."""
        ...

    def use_node_image(self, variant: str, tag: str | None = None) -> None:
        """Before create(): the image variant (lab/images/variants.yaml) or exact tag the nodes run from.
        A backend without images (capabilities.node_images false) runs the host's programs: no-op."""
        ...

    def give_nodes_docker_api(self) -> None:
        """Before create(): nodes running hbd get a Docker API that knows them (fence_docker). Raises
        LabError unless capabilities.node_docker_api."""
        ...

    def docker_api_access(self) -> DockerApiAccess:
        """After create() with give_nodes_docker_api(): fence_docker's options and each node's plug."""
        ...
