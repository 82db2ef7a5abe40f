"""Run one scenario on one backend: build the topology, boot, probe, inject, record, check, tear down.

Everything the run observes goes into its run directory (lab/history/store.py): `lab.jsonl`
(boots, step marks,
every fault inject/heal), `probe.jsonl`, `owners.jsonl`, and per node `nodes/<node>/` with `ha.d/`,
`state/` (the daemon's --state-dir), `events.jsonl` (a link into state/) and `hbd.log`. Teardown
always happens (finally), also on a failed step or Ctrl-C. Teardown kills the nodes outright rather than
stopping them gracefully: the history ends where the scenario ends, with no shutdown events after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lab import faults
from lab.backends import make_backend
from lab.backends.base import Backend, LabError
from lab.history.records import NODE_METRICS_FILE
from lab.history.store import new_run_dir
from lab.pacemaker import pacemaker_dir, render_pacemaker_cluster
from lab.paths import PROJECT_ROOT
from lab.render import ClusterSecret, FenceDockerSetup, RenderError, fencing_agent, render_node
from lab.spec.duration import parse_duration
from lab.spec.names import new_run_id
from lab.spec.scenario import Scenario, ScenarioError, Step, validate_for_backend
from lab.spec.topology import Topology, TopologyError, load_topology

FENCE_DOCKER_VARIANT = "fence-agents"  # the node image with Debian's fence-agents (lab/images/variants.yaml)
PACEMAKER_VARIANT = "pacemaker"  # the node image with Corosync + Pacemaker, for `daemon: pacemaker` nodes
VIP_SINGLE_STEADY_S = 3.0  # wait_for vip.single: one owner held this long
BOOT_TOGETHER_LEAD_S = 0.3  # lets every spawn happen before the shared start instant
PROBE_STOP_WAIT_S = 5.0
APP_PROBE_PORTS = {"http": 80, "sql": 5432, "smtp": 25, "pop3": 110, "imap": 143}  # default port on the VIP
MAIL_PROTOCOLS = ("smtp", "pop3", "imap")  # lab.node.mail_probe's
HELPER_START_S = 20.0
WAIT_POLL_S = 0.01

Progress = Callable[[str], None]


# What ends a run with an error instead of a traceback (execute() records it and still checks).
RUN_ERRORS = (LabError, RenderError, TopologyError, OSError, ValueError)


class StepError(LabError):
    """A step could not be carried out (a wait_for timed out, a probe could not start...)."""


# Under runs/ (ignored by git, owned like the checkout), not a world-writable /tmp a local user could seed.
PYCACHE_PREFIX = str(PROJECT_ROOT / "runs" / ".pycache")


def child_env(node: str | None = None) -> dict[str, str]:
    """The environment of lab processes: this checkout importable, the node named for scripts."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    # Bytecode, as an installed package has it: with PYTHONDONTWRITEBYTECODE (set in shared checkouts) every
    # daemon start compiled hbd from source, ~50 ms of CPU per process, which the bench's boot-together
    # counted. The cache lives outside the tree; a node that cannot write it just compiles as before.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", PYCACHE_PREFIX)
    if node:
        env["HBLAB_NODE"] = node
    return env


class RecordLog:
    """lab.jsonl: one JSON object per line, flushed at once (a crash must not lose the fault records)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.file: TextIO = open(path, "a")

    def write(self, record: dict[str, Any]) -> None:
        record.setdefault("mono", time.monotonic())
        record.setdefault("source", "lab")
        with self.lock:
            self.file.write(json.dumps(record, default=str) + "\n")
            self.file.flush()

    def mark(self, event: str, **fields: Any) -> dict[str, Any]:
        rec = {"mono": time.monotonic(), "source": "lab", "event": event, **fields}
        self.write(rec)
        return rec

    def close(self) -> None:
        self.file.close()


class DaemonSet:
    """The daemons of the server nodes: how to start each, and which pid runs where (faults.Daemons)."""

    def __init__(self, backend: Backend, topology: Topology, log: RecordLog, verbose: bool = False) -> None:
        self.backend = backend
        self.topology = topology
        self.log = log
        self.verbose = verbose
        self.pids: dict[str, int] = {}
        self.on_boot: Callable[[list[str]], None] | None = None  # after every boot (steps and faults)

    def argv(self, node: str) -> list[str]:
        spec = self.topology.node(node)
        dirs = self.backend.node_dirs(node)
        if spec.daemon == "hbd":
            argv = [*self.backend.python_argv("hbd.cli"), "run", "--config-dir", str(dirs.config_dir)]
            # netns shares the host's UTS name: always name the node explicitly.
            argv += ["--node", node, "--state-dir", str(dirs.state_dir)]
            return argv + (["-v"] if self.verbose else [])
        if spec.daemon == "command":
            return list(spec.command)
        if spec.daemon == "pacemaker":
            return [*self.backend.python_argv("lab.node.pacemaker"), "--dir", str(pacemaker_dir(dirs))]
        raise LabError(f"node {node} runs no daemon (daemon: {spec.daemon})")

    def boot(self, nodes: list[str], together: bool = False) -> None:
        self._start_responders([n for n in nodes if self.topology.node(n).daemon == "pacemaker"])
        start_at = time.monotonic() + BOOT_TOGETHER_LEAD_S if together and len(nodes) > 1 else None
        pids = {}
        for node in nodes:
            if self.pid(node) is not None:
                raise LabError(f"boot {node}: its daemon is already running (pid {self.pids[node]})")
            dirs = self.backend.node_dirs(node)
            env = child_env(node)
            if (dirs.root / "bin").is_dir():  # fence_lab (lab/render.py install_fence_agent): found by name
                env["PATH"] = os.pathsep.join([str(dirs.root / "bin"), env.get("PATH", os.defpath)])
            pids[node] = self.backend.spawn(
                node, self.argv(node), dirs.daemon_log, env=env, start_at=start_at
            )
            self.pids[node] = pids[node]
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.monotonic()))
        self.log.mark(
            "boot", nodes=nodes, together=together, pids=pids, **({"at": start_at} if start_at else {})
        )
        for node, pid in pids.items():
            if not self.backend.alive(pid):
                raise LabError(
                    f"boot {node}: daemon exited at once; see {self.backend.node_dirs(node).daemon_log}"
                )
        if self.on_boot is not None:
            self.on_boot(nodes)

    def _start_responders(self, nodes: list[str]) -> None:
        """Pacemaker moves only the VIP (lab/pacemaker.py): each service node answers on every service
        port for the whole run, so an answer names the VIP's holder. The responder detaches and stays in
        the node; a power-off kills it, a later boot starts it again."""
        for node in nodes:
            if self.topology.node(node).quorum_only:
                continue
            script = self.backend.node_dirs(node).config_dir / "resource.d" / "hblab-service"
            for group in self.topology.groups:
                for service in group.services:
                    argv = [str(script), str(service.port), service.label, "start"]
                    self.backend.exec(node, argv, timeout_s=30)

    def pid(self, node: str) -> int | None:
        pid = self.pids.get(node)
        if pid is not None and not self.backend.alive(pid):
            return None
        return pid

    def forget(self, node: str) -> None:
        self.pids.pop(node, None)


class EventTail:
    """Reads every node's events.jsonl as it grows (complete lines only)."""

    def __init__(self, backend: Backend, nodes: list[str]) -> None:
        self.paths = {n: backend.node_dirs(n).events for n in nodes}
        self.offsets = dict.fromkeys(nodes, 0)
        self.events: list[dict[str, Any]] = []

    def poll(self) -> None:
        for node, path in self.paths.items():
            try:
                with open(path, "rb") as f:
                    f.seek(self.offsets[node])
                    data = f.read()
            except FileNotFoundError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            self.offsets[node] += end + 1
            for line in data[: end + 1].splitlines():
                with contextlib.suppress(ValueError):
                    obj = json.loads(line)
                    if isinstance(obj, dict):
                        obj.setdefault("node", node)
                        self.events.append(obj)

    def find(self, event: str, node: str | None, since: float) -> dict[str, Any] | None:
        for e in self.events:
            mono = e.get("mono")
            if (
                e.get("event") == event
                and (node is None or e.get("node") == node)
                and isinstance(mono, (int, float))
                and mono >= since
            ):
                return e
        return None


@dataclass
class RunResult:
    run_dir: Path
    seed: int
    results: list[Any] = field(default_factory=list)  # lab.checks.CheckResult
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(getattr(r, "ok", False) for r in self.results)


class ScenarioRun:
    """One execution of a scenario; `execute()` does everything and returns the RunResult."""

    CAPTURE = True  # record the segments to pcap unless told otherwise (the bench turns it off)

    def __init__(
        self,
        scenario: Scenario,
        *,
        backend_name: str = "netns",
        seed: int | None = None,
        runs_root: Path = Path("runs"),
        progress: Progress | None = None,
        verbose_daemon: bool = False,
        capture: bool | None = None,
    ) -> None:
        problems = validate_for_backend(scenario, backend_name)
        if problems:
            raise ScenarioError(problems)
        self.scenario = scenario
        self.topology = load_topology(scenario.topology)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**31)
        self.rng = random.Random(self.seed)
        self.run_dir = new_run_dir(scenario.name, self.seed, runs_root).resolve()
        self.run_id = new_run_id()
        self.backend = make_backend(backend_name, self.topology, self.run_id, self.run_dir)
        if self.topology.image is not None:  # real services (validate_for_backend: docker only)
            self.backend.use_node_image(self.topology.image)
        self._prepare_fence_docker()
        if any(n.daemon == "pacemaker" for n in self.topology.nodes):  # docker only (validate_for_backend)
            self.backend.use_node_image(PACEMAKER_VARIANT)
        self.progress = progress or (lambda _msg: None)
        self.log = RecordLog(self.run_dir / "lab.jsonl")
        self.daemons = DaemonSet(self.backend, self.topology, self.log, verbose_daemon)
        self.daemons.on_boot = self._start_scrapers
        self.capture_packets = self.CAPTURE if capture is None else capture
        self.capture: Any = None  # lab.backends.capture.Capture while the segments are recorded
        self.tail = EventTail(self.backend, [n.name for n in self.topology.servers])
        self.stop_file = self.run_dir / ".stop"
        self.helpers: list[subprocess.Popen[bytes] | int] = []
        self.scrapers: dict[str, int] = {}  # node -> pid of its lab.node.scraper (daemon key `metrics`)
        self.action_mark = 0.0  # wait_for only accepts events at or after the last boot/inject/heal
        self.power_switch: Any = None  # lab.faults.power_switch.PowerSwitch when the scenario fences
        self.finished = False
        keepalive = scenario.daemon.get("keepalive", 1.0)
        self.fault_ctx = faults.FaultContext(
            backend=self.backend,
            topology=self.topology,
            daemons=self.daemons,
            record=self.log.write,
            rng=self.rng,
            keepalive_s=parse_duration(keepalive),
            udpport=int(scenario.daemon.get("udpport", faults.HEARTBEAT_UDP_PORT)),
        )

    # -- the whole run ------------------------------------------------------------------------------
    # execute() = begin(), build(), run_step() for each step, finish(), checks. Each is public so a run
    # can also be driven one step at a time (lab/pytest_plugin.py); finish() is safe to call again.

    def execute(self) -> RunResult:
        result = RunResult(self.run_dir, self.seed)
        self.begin()
        try:
            self.build()
            for index, step in enumerate(self.scenario.steps):
                self.run_step(index, step)
            self.after_steps()
        except RUN_ERRORS as e:
            result.error = f"{type(e).__name__}: {e}"
            self.log.mark("run.error", error=result.error)
            self.progress(f"ERROR {result.error}")
        finally:
            self.finish()
        self._check(result)
        return result

    def after_steps(self) -> None:
        """A kind of run's own work once the scenario's steps are done, with everything still up (the
        bench soak's stressed window); a scenario run has none."""

    def begin(self) -> None:
        """Record what is run (lab-run.json) and its start; nothing is built yet."""
        self._write_meta()
        self.log.mark("run.start", scenario=self.scenario.name, seed=self.seed, run_id=self.run_id)

    def build(self) -> None:
        """Create the topology, render every node's files, start the owner sampler: ready for steps."""
        self.progress(f"building {self.topology.name} ({self.backend.name}, run {self.run_id})")
        self.backend.create()
        self._start_capture()
        self._start_power_switch()
        self._render()
        self._start_owner_sampler()
        self.action_mark = time.monotonic()

    def finish(self) -> None:
        """Mark the end and tear everything down, once (a second call does nothing)."""
        if self.finished:
            return
        self.finished = True
        self.log.mark("run.end")
        self._teardown()

    def _write_meta(self) -> None:
        meta = {
            "scenario": self.scenario.name,
            "scenario_path": str(self.scenario.path) if self.scenario.path else None,
            "topology": self.topology.name,
            "backend": self.backend.name,
            "seed": self.seed,
            "run_id": self.run_id,
            "daemon": self.scenario.daemon,
            "started_wall": time.time(),
        }
        (self.run_dir / "lab-run.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")

    def _render(self) -> None:
        secret = ClusterSecret.fresh()
        for spec in self.topology.servers:
            dirs = self.backend.node_dirs(spec.name)
            # where lab.history.records looks; the daemon writes into state/
            link = dirs.root / "events.jsonl"
            if not link.exists() and not link.is_symlink():
                link.symlink_to(Path("state") / "events.jsonl")
            if spec.daemon == "pacemaker":
                continue  # the whole cluster at once, below
            if spec.daemon != "hbd":
                continue
            serial_paths = {}
            for line in self.topology.serial_lines:
                device = line.device_of(spec.name)
                if device is not None:
                    serial_paths[device] = self.backend.serial_device(spec.name, device)
            power_socket = str(self.power_switch.path) if self.power_switch is not None else None
            fence_docker = self._fence_docker_setup()
            render_node(
                self.topology,
                spec.name,
                self.scenario.daemon,
                dirs,
                secret,
                serial_paths,
                power_socket=power_socket,
                shared_disk=self._shared_disk(),
                fence_docker=fence_docker,
            )
        self._render_pacemaker(secret)

    def _render_pacemaker(self, secret: ClusterSecret) -> None:
        members = [n.name for n in self.topology.servers if n.daemon == "pacemaker"]
        if members:
            dirs = {name: self.backend.node_dirs(name) for name in members}
            render_pacemaker_cluster(self.topology, self.scenario.daemon, dirs, secret)

    def _shared_disk(self) -> Path | None:
        """A directory of the run dir every node sees (netns nodes share the host's filesystem)."""
        if self.topology.shared_disk_group is None:
            return None
        path = self.run_dir / "shared-disk"
        path.mkdir(exist_ok=True)
        return path

    def _start_power_switch(self) -> None:
        """With `daemon: {fencing: on}`, serve the power switch fence_lab talks to
        (lab/faults/power_switch.py)."""
        if fencing_agent(self.scenario.daemon) != "fence_lab":
            return
        from lab.faults.power_switch import SOCKET_NAME, PowerSwitch

        switch = PowerSwitch(self.backend, self.topology, self.daemons, self.log.write)
        switch.serve(self.backend.socket_dir() / SOCKET_NAME)  # a path every node sees
        self.power_switch = switch

    def _prepare_fence_docker(self) -> None:
        """With `daemon: {fencing: fence_docker}` (docker only, checked above): nodes run from the image
        with Debian's fence-agents and get the Docker API (lab/backends/docker/api.py)."""
        if fencing_agent(self.scenario.daemon) != "fence_docker":
            return
        self.backend.use_node_image(FENCE_DOCKER_VARIANT)
        self.backend.give_nodes_docker_api()

    def _fence_docker_setup(self) -> FenceDockerSetup | None:
        """fence_docker's options (the relay in every node) and each node's plug (its container)."""
        if fencing_agent(self.scenario.daemon) != "fence_docker":
            return None
        access = self.backend.docker_api_access()
        return FenceDockerSetup(access.options, access.plugs)

    # -- helpers: owner sampler and prober ------------------------------------------------------------

    def _start_capture(self) -> None:
        """Record every segment to <run>/pcap from the switch side (lab/backends/capture.py)."""
        if not self.capture_packets:
            return
        from lab.backends.capture import start_capture

        self.capture = start_capture(
            self.backend, self.topology, self.run_dir, env=child_env(), until_file=self.stop_file
        )

    def _start_owner_sampler(self) -> None:
        if not self.topology.groups:
            return
        argv = self.backend.owner_sampler_argv()
        argv += ["--out", str(self.run_dir / "owners.jsonl"), "--until-file", str(self.stop_file)]
        for g in self.topology.groups:
            argv += ["--vip", str(g.vip.ip)]
        proc = self.backend.start_host_process(argv, self.run_dir / "owners.log", env=child_env())
        self.helpers.append(proc)
        # Wait for its first sample: a run whose start has no ownership evidence cannot be checked.
        out = self.run_dir / "owners.jsonl"
        deadline = time.monotonic() + HELPER_START_S
        while not (out.exists() and out.stat().st_size > 0):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"the VIP owner sampler did not start; see {self.run_dir / 'owners.log'}")
            time.sleep(0.01)

    def _start_probe(self, args: dict[str, Any]) -> None:
        client = self.topology.client
        if client is None:
            raise StepError(f"probe: topology {self.topology.name} has no client node")
        if not self.topology.groups:
            raise StepError(f"probe: topology {self.topology.name} has no service group")
        try:
            group = self.topology.group(args["group"]) if args.get("group") else self.topology.groups[0]
        except KeyError as e:
            raise StepError(f"probe: {e.args[0]}") from e
        protocol = args.get("protocol") or "tcp"
        # tcp: probe.jsonl (the lab's prober); a protocol probe: probe-PROTOCOL.jsonl (lab.node.app_probe)
        name = "probe" if protocol == "tcp" else f"probe-{protocol}"
        port = args.get("port") or (group.port if protocol == "tcp" else APP_PROBE_PORTS[protocol])
        module = "lab.node.probe" if protocol == "tcp" else "lab.node.app_probe"
        if protocol in MAIL_PROTOCOLS:
            module = "lab.node.mail_probe"
        argv = [*self.backend.python_argv(module), "--target", f"{group.vip.ip}:{port}"]
        if protocol != "tcp":
            argv += ["--protocol", protocol]
        if protocol in ("pop3", "imap"):  # the final inventory waits for what the smtp probe got acked
            argv += ["--acked-from", str(self.run_dir / "probe-smtp.jsonl")]
        out = self.run_dir / f"{name}.jsonl"
        argv += ["--every-ms", str(args.get("every_ms", 5)), "--out", str(out)]
        argv += ["--until-file", str(self.stop_file)]
        pid = self.backend.spawn(client.name, argv, self.run_dir / f"{name}.log", env=child_env())
        self.helpers.append(pid)
        # The step is done when probing has begun, so the next step's fault is always observed.
        deadline = time.monotonic() + HELPER_START_S
        while not (out.exists() and out.stat().st_size > 0):
            if not self.backend.alive(pid) or time.monotonic() > deadline:
                raise StepError(f"probe did not start; see {self.run_dir / f'{name}.log'}")
            time.sleep(0.01)

    # -- steps ----------------------------------------------------------------------------------------

    def run_step(self, index: int, step: Step) -> None:
        """Carry out one validated step (lab.spec.scenario); `index` numbers it in lab.jsonl and progress."""
        total = len(self.scenario.steps)
        label = f"[{index + 1}{f'/{total}' if total else ''}] {step.kind} {_brief(step.args)}"
        self.progress(label)
        started = time.monotonic()
        self.log.mark("step", index=index, kind=step.kind, args=step.args, where=step.where)
        action = self.step_actions().get(step.kind)
        if action is None:  # the scenario validator knows a step this runner does not carry out
            raise StepError(f"{step.where}: no runner action for step {step.kind!r}")
        try:
            action(step.args)
        except LabError as e:
            raise StepError(f"{step.where}: {step.kind}: {e}") from e
        self.progress(f"{label} ok ({(time.monotonic() - started) * 1000:.0f} ms)")

    def step_actions(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        """Step kind -> the method that carries it out: one per lab.spec.scenario.STEP_KINDS (a unit test
        keeps the two in step). Bound methods, so a subclass's override (the bench's wait_for) is used."""
        return {
            "boot": self._do_boot,
            "wait_for": self._do_wait_for,
            "probe": self._do_probe,
            "inject": self._do_inject,
            "heal": self._do_heal,
            "sleep": self._do_sleep,
        }

    def _do_boot(self, args: dict[str, Any]) -> None:
        self.action_mark = time.monotonic()
        self.daemons.boot(list(args["nodes"]), together=bool(args.get("together")))

    def _start_scrapers(self, nodes: list[str]) -> None:
        """With `daemon: {metrics: PORT}`, scrape each booted node's /metrics from inside the node until the
        run ends (or the node is powered off: the scraper dies with it, the next boot starts another)."""
        port = self.scenario.daemon.get("metrics")
        if port is None:
            return
        for node in nodes:
            pid = self.scrapers.get(node)
            if self.topology.node(node).daemon != "hbd" or (pid is not None and self.backend.alive(pid)):
                continue
            root = self.backend.node_dirs(node).root
            argv = [*self.backend.python_argv("lab.node.scraper"), "--url", f"http://127.0.0.1:{port}/metrics"]
            argv += ["--node", node, "--out", str(root / NODE_METRICS_FILE)]
            argv += ["--until-file", str(self.stop_file)]
            self.scrapers[node] = self.backend.spawn(node, argv, root / "scraper.log", env=child_env())
            self.helpers.append(self.scrapers[node])

    def _do_wait_for(self, args: dict[str, Any]) -> None:
        event, node = str(args["event"]), args.get("node")
        within = float(args.get("within_s") or parse_duration(args["within"]))
        if event in ("vip.owner", "vip.single"):
            self._wait_for_owner(event, node, within)
            return
        deadline = time.monotonic() + within
        while True:
            self.tail.poll()
            found = self.tail.find(event, node, self.action_mark)
            if found is not None:
                self.log.mark(
                    "wait_for.ok", wanted=event, node=found.get("node"), matched_mono=found.get("mono")
                )
                return
            if node is not None and node in self.daemons.pids and self.daemons.pid(node) is None:
                raise StepError(f"waiting for {event} on {node}: its daemon died{self._daemon_hint(node)}")
            if time.monotonic() > deadline:
                where = f" on {node}" if node else ""
                raise StepError(f"{event}{where} not seen within {within:g} s{self._daemon_hint(node)}")
            time.sleep(WAIT_POLL_S)

    def _wait_for_owner(self, event: str, node: str | None, within: float) -> None:
        """`vip.owner` (N holds the VIP; any node without `node`) and `vip.single` (one owner held steadily
        for VIP_SINGLE_STEADY_S), from the owner sampler: what the lab sees, for daemons that write no hbd
        events (Pacemaker, the bench's peers)."""
        deadline = time.monotonic() + within
        path = self.run_dir / "owners.jsonl"
        offset = 0
        single_since: tuple[float, str] | None = None
        while True:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            end = data.rfind(b"\n")
            if end >= 0:
                offset += end + 1
                for line in data[: end + 1].splitlines():
                    rec = json.loads(line)
                    owners = rec.get("owners") or []
                    if rec.get("mono", 0) < self.action_mark:
                        continue
                    if event == "vip.owner" and (node in owners if node else bool(owners)):
                        self.log.mark("wait_for.ok", wanted=event, node=node, matched_mono=rec["mono"])
                        return
                    if event == "vip.single":
                        if len(owners) != 1 or (single_since and single_since[1] != owners[0]):
                            single_since = (rec["mono"], owners[0]) if len(owners) == 1 else None
                        elif single_since is None:
                            single_since = (rec["mono"], owners[0])
            if single_since and time.monotonic() - single_since[0] >= VIP_SINGLE_STEADY_S:
                self.log.mark("wait_for.ok", wanted=event, node=single_since[1], matched_mono=single_since[0])
                return
            if time.monotonic() > deadline:
                what = f"{node} holding the VIP" if event == "vip.owner" else "a single steady VIP owner"
                raise StepError(f"{what} not seen within {within:g} s{self._daemon_hint(node)}")
            time.sleep(WAIT_POLL_S)

    def _daemon_hint(self, node: str | None) -> str:
        nodes = [node] if node else [n.name for n in self.topology.servers]
        hints = []
        for n in nodes:
            if self.topology.node(n).daemon != "none" and self.daemons.pid(n) is None:
                log = self.backend.node_dirs(n).daemon_log
                tail = _tail(log, 5)
                hints.append(f"; daemon on {n} is not running (last lines of {log}:\n{tail})")
        return "".join(hints)

    def _do_probe(self, args: dict[str, Any]) -> None:
        self._start_probe(args)

    def _do_inject(self, args: dict[str, Any]) -> None:
        self.action_mark = time.monotonic()
        recs = faults.inject(self.fault_ctx, args)
        # Events caused by the fault cannot predate it; the phase wait happened before the record.
        self.action_mark = min((r["mono"] for r in recs), default=self.action_mark)

    def _do_heal(self, args: dict[str, Any]) -> None:
        self.action_mark = time.monotonic()
        faults.heal(self.fault_ctx, args)

    def _do_sleep(self, args: dict[str, Any]) -> None:
        time.sleep(float(args.get("duration_s") or parse_duration(args.get("duration", 0))))

    # -- teardown and checks --------------------------------------------------------------------------

    def _teardown(self) -> None:
        self.fault_ctx.cancel_timers()
        if self.power_switch is not None:
            self.power_switch.close()  # no fence may power a node while the lab comes down
        with contextlib.suppress(OSError):
            self.stop_file.touch()
        deadline = time.monotonic() + PROBE_STOP_WAIT_S
        for helper in self.helpers:
            while time.monotonic() < deadline:
                alive = (
                    helper.poll() is None
                    if isinstance(helper, subprocess.Popen)
                    else self.backend.alive(helper)
                )
                if not alive:
                    break
                time.sleep(0.01)
            else:
                with contextlib.suppress(ProcessLookupError, LabError):
                    if isinstance(helper, subprocess.Popen):
                        helper.kill()
                    else:
                        self.backend.signal(helper, signal.SIGKILL)
        try:
            if self.capture is not None:
                self.capture.stop()  # after the helpers: the last packets of the run are on file
            self.backend.destroy()
        except LabError as e:
            self.progress(f"WARNING teardown: {e} (run `hblab clean`)")
        self.log.close()

    def check(self, expect: list[dict[str, Any]]) -> list[Any]:
        """Run validated expect items over the history recorded so far (lab.checks.CheckResult each)."""
        from lab.checks import run_checks
        from lab.history.store import load_run

        history = load_run(self.run_dir)  # what `hblab report` reads too: the same verdict later
        return list(run_checks(history, expect))

    def _check(self, result: RunResult) -> None:
        result.results = self.check(self.scenario.expect)
        self.write_report(result.results)

    def write_report(self, results: list[Any]) -> None:
        """result.json, report.md and timeline.png in the run dir (lab/analysis/report.py)."""
        try:
            from lab.analysis.report import write_run_report
        except ImportError as e:  # the report module is optional for the machinery
            self.progress(f"no report written: {e}")
            return
        write_run_report(self.run_dir, self.scenario, results)


def run_scenario(
    scenario: Scenario,
    *,
    backend_name: str = "netns",
    seed: int | None = None,
    runs_root: Path = Path("runs"),
    progress: Progress | None = None,
    verbose_daemon: bool = False,
    capture: bool | None = None,
) -> RunResult:
    run = ScenarioRun(
        scenario,
        backend_name=backend_name,
        seed=seed,
        runs_root=runs_root,
        progress=progress,
        verbose_daemon=verbose_daemon,
        capture=capture,
    )
    return run.execute()


def experiment_runner(
    backend_name: str = "netns", runs_root: Path = Path("runs"), progress: Progress | None = None
) -> Callable[[Scenario, int], Path]:
    """The callback lab.analysis.experiment.run_experiment wants: (scenario, seed) -> run directory."""

    def runner(scenario: Scenario, seed: int) -> Path:
        result = run_scenario(
            scenario, backend_name=backend_name, seed=seed, runs_root=runs_root, progress=progress
        )
        if result.error:
            raise LabError(f"{scenario.name} seed {seed}: {result.error} (run dir {result.run_dir})")
        return result.run_dir

    return runner


def _brief(args: dict[str, Any]) -> str:
    shown = {k: v for k, v in args.items() if not k.endswith("_s")}
    return " ".join(f"{k}={v}" for k, v in shown.items())


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
