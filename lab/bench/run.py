"""One bench run: a scenario run (lab/runner.py) whose daemon is hbd or one of the peers.

What differs from a plain scenario run:
- the daemon on each server is the setting's (hbd, keepalived, heartbeat or ucarp), configured for the
  same topology; for hbd the haresources moves only the VIP, like the peers;
- the service responder runs on both servers for the whole run (started before the daemon), so a probe
  answer names the node that holds the VIP, whatever the daemon;
- `wait_for: {event: vip.owner, node: N}` waits for N to hold the VIP (from the owner sampler), and
  `wait_for: {event: vip.single}` for one owner held steadily (lab/runner.py: any scenario can): the peers
  write no hbd events, so the bench scenarios wait on what the lab sees;
- with `stress_s`, injecting the `loss` fault also starts stress-ng on every core for that long, on the
  host (every node shares its cores; the node images carry no stress-ng), recorded with the run's
  processes so teardown ends it;
- on a backend with node images (Docker) every node runs from the setting's image variant
  (hbl-keepalived, hbl-heartbeat, hbl-ucarp, hbl-hbd), and where each node is a machine of its own the
  peer drivers are told so (Backend.capabilities).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hbd.config.model import ResourceGroup
from hbd.config.render import render_haresources
from lab.backends.base import Backend
from lab.bench.memory import daemon_processes, tree_memory
from lab.bench.peers.base import PeerDriver, PeerNode, peer_nodes
from lab.bench.peers.heartbeat import HeartbeatDriver
from lab.bench.peers.keepalived import KeepalivedDriver
from lab.bench.peers.ucarp import UcarpDriver
from lab.render import SERVICE_SCRIPT, resource_groups
from lab.runner import DaemonSet, RecordLog, ScenarioRun, StepError
from lab.spec.scenario import Scenario
from lab.spec.topology import Topology

DRIVERS: dict[str, PeerDriver] = {d.kind: d for d in (KeepalivedDriver(), HeartbeatDriver(), UcarpDriver())}
KINDS = ("hbd", *DRIVERS)
SERVICE_LABEL = "www"


@dataclass(frozen=True)
class Setting:
    """One daemon at one setting, as a column of the bench."""

    label: str  # "hbd 10/40ms", "keepalived v3 20ms"
    kind: str  # hbd | keepalived | heartbeat | ucarp
    params: dict[str, Any] = field(default_factory=dict)  # hbd: ha.cf directives; peers: driver settings
    keepalive_s: float = 1.0  # the heartbeat period: faults land at a random phase of it
    slow_boot: bool = False  # heartbeat: 10 s RQSTDELAY when both start together


class BenchDaemonSet(DaemonSet):
    """The runner's DaemonSet with the setting's daemon, and the responder started before it."""

    def __init__(
        self,
        backend: Backend,
        topology: Topology,
        log: RecordLog,
        setting: Setting,
        nodes: dict[str, PeerNode],
    ) -> None:
        super().__init__(backend, topology, log)
        self.setting = setting
        self.nodes = nodes

    def argv(self, node: str) -> list[str]:
        if self.setting.kind == "hbd":
            return super().argv(node)
        return DRIVERS[self.setting.kind].argv(self.nodes[node], self.setting.params)

    def boot(self, nodes: list[str], together: bool = False) -> None:
        for node in nodes:
            script = self.backend.node_dirs(node).config_dir / "resource.d" / "hblab-service"
            # The responder detaches (setsid) and stays in the namespace: power-off kills it, teardown too.
            self.backend.exec(node, [str(script), "8080", SERVICE_LABEL, "start"], timeout_s=30)
            if self.setting.kind != "hbd":
                # A machine boots with an empty /run: a peer's pid files from before a power-off are stale
                # (keepalived refused to start, "daemon is already running", in the soak's second boot).
                for stale in self.nodes[node].peer_dir.glob("*.pid"):
                    stale.unlink(missing_ok=True)
        super().boot(nodes, together)


class BenchRun(ScenarioRun):
    CAPTURE = False  # a recorder on every segment costs CPU the measured daemons share
    def __init__(
        self,
        scenario: Scenario,
        setting: Setting,
        *,
        stress_s: float | None = None,
        runs_root: Path,
        seed: int | None = None,
        progress: Any = None,
        backend_name: str = "netns",
        image: str | None = None,
    ) -> None:
        """`image`: on Docker, the node image tag to use (the bench pins one per daemon for the whole
        bench); None builds or finds the setting's variant when the topology is created."""
        super().__init__(
            scenario, backend_name=backend_name, runs_root=runs_root, seed=seed, progress=progress
        )
        self.setting = setting
        self.stress_s = stress_s
        self.backend.use_node_image(setting.kind, image)
        roots = {n.name: self.backend.node_dirs(n.name).root for n in self.topology.servers}
        own_machine = self.backend.capabilities.own_machines
        self.peer_nodes = peer_nodes(self.topology, roots, own_machine=own_machine)
        self.daemons = BenchDaemonSet(self.backend, self.topology, self.log, setting, self.peer_nodes)
        self.fault_ctx.daemons = self.daemons
        self.fault_ctx.keepalive_s = setting.keepalive_s
        recorded = {"label": setting.label, "kind": setting.kind, "params": setting.params}
        (self.run_dir / "bench-setting.json").write_text(
            json.dumps({**recorded, "backend": self.backend.name, "image": image}) + "\n"
        )

    def _render(self) -> None:
        if self.setting.kind == "hbd":
            super()._render()
            # Only the VIP moves (the responder runs on both nodes), as with every peer.
            groups = tuple(
                ResourceGroup(home=g.home, resources=tuple(r for r in g.resources if r.name == "IPaddr"))
                for g in resource_groups(self.topology)
            )
            for spec in self.topology.servers:
                cfg = self.backend.node_dirs(spec.name).config_dir
                (cfg / "haresources").write_text(render_haresources(groups))
            return
        secret = os.urandom(12).hex()
        driver = DRIVERS[self.setting.kind]
        for spec in self.topology.servers:
            dirs = self.backend.node_dirs(spec.name)
            resource_dir = dirs.config_dir / "resource.d"
            resource_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SERVICE_SCRIPT, resource_dir / "hblab-service")
            os.chmod(resource_dir / "hblab-service", 0o755)
            (dirs.config_dir / "hblab-service.conf").write_text(
                f"NODE={spec.name}\nSTATE_DIR={dirs.state_dir}\nPYTHON={sys.executable}\n"
            )
            driver.render(self.peer_nodes[spec.name], self.setting.params, secret)

    def finish(self) -> None:
        if not self.finished:
            self._record_memory()
        super().finish()

    def _record_memory(self) -> None:
        """Each running daemon's processes and their memory as the run ends (idle, in `steady`)."""
        nodes = {}
        for node, pid in self.daemons.pids.items():
            procs = daemon_processes(tree_memory(pid))
            if procs:
                nodes[node] = procs
        self.log.mark("bench.memory", nodes=nodes)

    def _do_inject(self, args: dict[str, Any]) -> None:
        if self.stress_s and args.get("fault") == "loss":
            self._start_stress(self.stress_s)
        super()._do_inject(args)

    def _start_stress(self, duration_s: float) -> None:
        # On the host for both backends: namespaces and containers share its cores, so the load is the
        # same as from inside a node, and the node images need no stress-ng.
        if shutil.which("stress-ng") is None:
            raise StepError("stress: stress-ng is not installed on the host (apt-get install stress-ng)")
        cpus = os.cpu_count() or 2
        argv = ["stress-ng", "--cpu", str(cpus), "--timeout", f"{int(duration_s) + 5}s", "--quiet"]
        proc = self.backend.start_host_process(argv, self.run_dir / "stress-ng.log")
        self.helpers.append(proc)
        self.log.mark("stress.start", cpus=cpus, duration_s=duration_s, pid=proc.pid, where="host")
