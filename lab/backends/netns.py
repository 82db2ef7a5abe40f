"""The network-namespace backend: every node is a namespace, every LAN and link a bridge.

Layout of one run (prefix `hbl<run>-`):
  hbl<run>-sw        the switch namespace: one bridge per LAN/link (`br-<segment>`), no uplink, no route
  hbl<run>-<node>    one namespace per node; its interfaces have the topology's names (eth0, eth1)
  veth pairs         node end `eth0` in the node, switch end `<node>-<iface>` plugged into the bridge
Nothing is created in the host namespace, so nothing the lab does can reach the host's networks, and
deleting the namespaces removes every link. A point-to-point link is a two-port bridge, so the three
ways a cable fails (node end down, packets dropped, cable pulled) work the same on LANs and links.

Processes started in a node are recorded (pid and kernel start time) in /run/hblab/<run>/pids, so
`hblab clean` can stop exactly the lab's processes after a crash and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.backends.base import Capabilities, DockerApiAccess, LabError, LinkState, NodeDirs
from lab.backends.host import (
    RUN_STATE_ROOT,
    PidRecord,
    ip,
    owner_alive,
    probe_kernel_features,
    process_start_time,
    process_state,
    run_in_node,
    run_state_dir,
    start_host_process,
    write_run_meta,
)
from lab.backends.serial import SerialError, SerialPair
from lab.spec.names import RunNames
from lab.spec.topology import Topology

KILL_WAIT_S = 3.0
NO_DOCKER_API = "the netns backend has no Docker engine for the nodes (fence_docker: use --backend docker)"


class NetnsBackend:
    name = "netns"
    capabilities = Capabilities(own_machines=False, node_images=False, node_docker_api=False)

    def __init__(self, topology: Topology, run_id: str, lab_dir: Path) -> None:
        self.topology = topology
        self.run_id = run_id
        self.names = RunNames(run_id)
        self.lab_dir = lab_dir
        self.state_dir = run_state_dir(run_id)
        self.pid_record = PidRecord(self.state_dir / "pids")
        self.serial: dict[str, SerialPair] = {}
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self._cables_down_by_power: dict[str, list[str]] = {}
        self.created = False

    # -- lifecycle ---------------------------------------------------------------------------------

    def netns(self, node: str) -> str:
        self.topology.node(node)  # KeyError with the topology's node list for a typo
        return self.names.node_netns(node)

    def node_dirs(self, node: str) -> NodeDirs:
        return NodeDirs(self.lab_dir / "nodes" / node)

    def create(self) -> None:
        """Build everything; on any failure tear down what was built and raise."""
        write_run_meta(self.run_id, self.name, self.topology.source, self.lab_dir)
        self.created = True
        try:
            self._create_namespaces()
            self._create_segments()
            self._create_serial_lines()
        except (LabError, SerialError, OSError, subprocess.SubprocessError) as e:
            self.destroy()
            raise LabError(f"creating topology {self.topology.name}: {e}") from e

    def _create_namespaces(self) -> None:
        all_ns = [self.names.switch_netns] + [self.netns(n.name) for n in self.topology.nodes]
        for ns in all_ns:
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
            # IPv6 off: no DAD delays, no router solicitations, only the traffic the lab means to send.
            for key in ("all", "default"):
                self._sysctl(ns, f"net/ipv6/conf/{key}/disable_ipv6", "1")
        for n in self.topology.nodes:
            d = self.node_dirs(n.name)
            for sub in (d.config_dir, d.state_dir, d.dev_dir):
                sub.mkdir(parents=True, exist_ok=True)

    def _sysctl(self, ns: str, key: str, value: str) -> None:
        # /proc/sys/net shows the namespace of the process that reads it, hence the exec.
        res = subprocess.run(
            ["ip", "netns", "exec", ns, "sh", "-c", f"echo {value} > /proc/sys/{key}"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if res.returncode != 0:
            raise LabError(f"sysctl {key}={value} in {ns}: {res.stderr.strip()}")

    def _create_segments(self) -> None:
        sw = self.names.switch_netns
        batch_sw: list[str] = []
        for seg in self.topology.segments:
            br = self.names.bridge(seg.name)
            ip("-n", sw, "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0")
            batch_sw.append(f"link set {br} up")
            for e in seg.endpoints:
                port = self.names.switch_port(e.node, e.iface)
                node_ns = self.netns(e.node)
                ip("-n", sw, "link", "add", port, "type", "veth", "peer", "name", e.iface, "netns", node_ns)
                batch_sw.append(f"link set {port} master {br}")
                batch_sw.append(f"link set {port} up")
                ip("-n", node_ns, "addr", "add", str(e.ip), "brd", "+", "dev", e.iface)
                ip("-n", node_ns, "link", "set", e.iface, "up")
        if batch_sw:
            ip("-n", sw, "-batch", "-", input_text="\n".join(batch_sw) + "\n")

    def _create_serial_lines(self) -> None:
        for line in self.topology.serial_lines:
            (a_node, a_dev), (b_node, b_dev) = line.ends
            pair = SerialPair(
                line.name,
                self.node_dirs(a_node).dev_dir / a_dev,
                self.node_dirs(b_node).dev_dir / b_dev,
                self.state_dir / f"serial-{line.name}.json",
            )
            pid = pair.start(self.lab_dir / f"serial-{line.name}.log")
            self.pid_record.add(pid, "lab.backends.serial")
            self.serial[line.name] = pair

    def destroy(self) -> None:
        """Kill every process of the run, stop the serial relays, delete the namespaces. Idempotent."""
        for node in self.topology.node_names:
            ns = self.names.node_netns(node)
            if _netns_exists(ns):
                self._kill_namespace(ns)
        for pair in self.serial.values():
            pair.stop()
        self.pid_record.kill_alive()
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=KILL_WAIT_S)
        for ns in [self.names.node_netns(n) for n in self.topology.node_names] + [self.names.switch_netns]:
            if _netns_exists(ns):
                ip("netns", "del", ns, check=False)
        leftovers = [ns for ns in list_lab_netns() if ns.startswith(self.names.prefix)]
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if leftovers:
            raise LabError(f"could not delete namespaces: {', '.join(leftovers)}")

    # -- processes ---------------------------------------------------------------------------------

    def exec(
        self,
        node: str,
        argv: Sequence[str],
        *,
        input_text: str | None = None,
        timeout_s: float = 30.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        full = self.exec_argv(node, argv)
        return run_in_node(node, argv, full, input_text=input_text, timeout_s=timeout_s, check=check)

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        start_at: float | None = None,
    ) -> int:
        # `ip netns exec` execs the command in place (no fork), so the pid we get is the command's.
        full = self.exec_argv(node, argv)

        def wait_for_start() -> None:
            if start_at is not None:
                delay = start_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                full,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=wait_for_start if start_at is not None else None,
            )
        self.children[child.pid] = child
        self.pid_record.add(child.pid, argv[0])
        return child.pid

    def signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError as e:
            raise LabError(f"process {pid} is gone") from e

    def alive(self, pid: int) -> bool:
        child = self.children.get(pid)
        if child is not None:
            return child.poll() is None  # also reaps it, so a dead child does not linger as a zombie
        return process_state(pid) not in (None, "Z", "X")

    def stopped(self, pid: int) -> bool:
        return process_state(pid) in ("T", "t")

    def pids(self, node: str) -> list[int]:
        return self._live_pids(self.netns(node))

    def _kill_namespace(self, ns: str) -> float | None:
        """SIGKILL everything in `ns` until nothing is left; returns when the first signal went out."""
        deadline = time.monotonic() + KILL_WAIT_S
        first_kill: float | None = None
        while (sent := self._signal_namespace(ns, signal.SIGKILL)) is not None:
            if first_kill is None:
                first_kill = sent
            for child in self.children.values():
                child.poll()
            if time.monotonic() > deadline:
                raise LabError(f"{ns}: processes {self._live_pids(ns)} survived SIGKILL for {KILL_WAIT_S} s")
            time.sleep(0.01)
        return first_kill

    def _live_pids(self, ns: str) -> list[int]:
        res = ip("netns", "pids", ns, check=False)
        pids = [int(p) for p in res.stdout.split() if p.isdigit()]
        return [p for p in pids if process_state(p) not in (None, "Z")]

    def _signal_namespace(self, ns: str, sig: int) -> float | None:
        """Send `sig` to every live process of `ns`; returns when the first one went out (None: nobody)."""
        first: float | None = None
        for pid in self._live_pids(ns):
            if first is None:
                first = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return first

    # -- links -------------------------------------------------------------------------------------

    def _port(self, node: str, iface: str) -> str:
        for _seg, e in self.topology.endpoints_of(node):
            if e.iface == iface:
                return self.names.switch_port(node, iface)
        raise LabError(f"node {node} has no interface {iface!r} in topology {self.topology.name}")

    def _segment_of(self, node: str, iface: str) -> str:
        for seg, e in self.topology.endpoints_of(node):
            if e.iface == iface:
                return seg.name
        raise LabError(f"node {node} has no interface {iface!r}")

    def set_link(self, node: str, iface: str, up: bool, *, side: str = "node") -> None:
        state = "up" if up else "down"
        if side == "node":
            self._port(node, iface)
            ip("-n", self.netns(node), "link", "set", iface, state)
        elif side == "cable":
            ip("-n", self.names.switch_netns, "link", "set", self._port(node, iface), state)
        else:
            raise LabError(f"set_link side must be 'node' or 'cable', got {side!r}")

    def attach(self, node: str, iface: str, attached: bool) -> None:
        port = self._port(node, iface)
        sw = self.names.switch_netns
        if attached:
            ip("-n", sw, "link", "set", port, "master", self.names.bridge(self._segment_of(node, iface)))
        else:
            ip("-n", sw, "link", "set", port, "nomaster")

    def link_state(self, node: str, iface: str) -> LinkState:
        port = self._port(node, iface)
        mine = _link_json(self.netns(node), iface)
        far = _link_json(self.names.switch_netns, port)
        flags = set(mine.get("flags", []))
        return LinkState(
            node=node,
            iface=iface,
            admin_up="UP" in flags,
            carrier="LOWER_UP" in flags,
            cable_up="UP" in set(far.get("flags", [])),
            attached=far.get("master") == self.names.bridge(self._segment_of(node, iface)),
        )

    def addresses(self, node: str) -> list[tuple[str, str]]:
        res = ip("-n", self.netns(node), "-j", "-4", "addr", "show")
        out = []
        for link in json.loads(res.stdout or "[]"):
            if link.get("ifname") == "lo":
                continue
            for a in link.get("addr_info", []):
                out.append((link["ifname"], f"{a['local']}/{a['prefixlen']}"))
        return out

    # -- power -------------------------------------------------------------------------------------

    def power_off(self, node: str) -> float | None:
        """Returns the moment the power went, which is what latencies count from.

        Everything is frozen first (SIGSTOP), then the cables go dead, then everything is killed: killed
        one by one, a daemon's child notices its parent's death (PR_SET_PDEATHSIG) and says goodbye, which
        a machine losing power never does (keepalived did exactly that here)."""
        ns = self.netns(node)
        powered_off_at = self._signal_namespace(ns, signal.SIGSTOP)
        cables = [e.iface for _s, e in self.topology.endpoints_of(node)]
        sw = self.names.switch_netns
        batch = [f"link set {self.names.switch_port(node, i)} down" for i in cables]
        if batch:
            ip("-n", sw, "-batch", "-", input_text="\n".join(batch) + "\n")
        self._cables_down_by_power[node] = cables
        killed_at = self._kill_namespace(ns)  # hbd, its resources, the responder: nothing survives
        # A machine that lost power forgets its runtime addresses (the VIP); a namespace would keep them.
        static = {(e.iface, str(e.ip)) for _s, e in self.topology.endpoints_of(node)}
        stale = [f"addr del {a} dev {i}" for i, a in self.addresses(node) if (i, a) not in static]
        if stale:  # one process for all: with a thousand VIPs, one each took 25 s beside the takeover
            ip("-n", ns, "-batch", "-", input_text="\n".join(stale) + "\n")
        for iface in cables:
            st = self.link_state(node, iface)
            if st.carrier or st.cable_up:
                raise LabError(f"power_off {node}: {iface} still has carrier after its cable went down")
        if self.pids(node):
            raise LabError(f"power_off {node}: processes still running: {self.pids(node)}")
        return powered_off_at if powered_off_at is not None else killed_at

    def power_on(self, node: str) -> None:
        cables = self._cables_down_by_power.pop(node, [e.iface for _s, e in self.topology.endpoints_of(node)])
        sw = self.names.switch_netns
        batch = [f"link set {self.names.switch_port(node, i)} up" for i in cables]
        if batch:
            ip("-n", sw, "-batch", "-", input_text="\n".join(batch) + "\n")
        deadline = time.monotonic() + KILL_WAIT_S
        for iface in cables:
            while not self.link_state(node, iface).carrier:
                if time.monotonic() > deadline:
                    raise LabError(f"power_on {node}: {iface} has no carrier after its cable came up")
                time.sleep(0.005)

    # -- serial ------------------------------------------------------------------------------------

    def serial_set(self, line: str, relaying: bool) -> None:
        pair = self.serial.get(line)
        if pair is None:
            raise LabError(f"topology {self.topology.name} has no serial line {line!r}")
        try:
            if relaying:
                pair.heal()
            else:
                pair.cut()
        except SerialError as e:
            raise LabError(str(e)) from e

    def serial_device(self, node: str, device: str) -> str:
        """The pty slave (/dev/pts/N) behind the node's end: stable for the run, the relay holds it open."""
        for line in self.topology.serial_lines:
            for index, (end_node, end_device) in enumerate(line.ends):
                if (end_node, end_device) == (node, device):
                    status = self.serial[line.name].status() if line.name in self.serial else None
                    path = status.get("ab"[index]) if status else None
                    if not isinstance(path, str):
                        raise LabError(f"serial line {line.name}: relay reported no pty for {node}")
                    return path
        raise LabError(f"node {node} has no serial device {device!r}")

    def serial_relaying(self, line: str) -> bool:
        pair = self.serial.get(line)
        return pair is not None and pair.relaying()

    # -- kernel ------------------------------------------------------------------------------------

    def kernel_features(self) -> dict[str, bool]:
        return probe_kernel_features()

    # -- how the lab launches things ----------------------------------------------------------------

    def python_argv(self, module: str) -> list[str]:
        return [sys.executable, "-m", module]  # a namespace sees the host's filesystem, venv included

    def exec_argv(self, node: str, argv: Sequence[str], *, tty: bool = False) -> list[str]:
        return ["ip", "netns", "exec", self.netns(node), *argv]  # the caller's terminal comes along as is

    def start_host_process(
        self, argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return start_host_process(self.pid_record, argv, log_path, env)

    def switch_tap(self, segment: str) -> tuple[list[str], str]:
        return ["ip", "netns", "exec", self.names.switch_netns], self.names.bridge(segment)

    def owner_sampler_argv(self) -> list[str]:
        argv = [sys.executable, "-m", "lab.node.owners"]
        for spec in self.topology.servers:
            argv += ["--node", f"{spec.name}={self.netns(spec.name)}"]
        return argv

    def socket_dir(self) -> Path:
        # The run's state dir, not the lab dir: short (AF_UNIX paths end at 108 bytes), and every
        # namespace sees the host's filesystem.
        return self.state_dir

    def use_node_image(self, variant: str, tag: str | None = None) -> None:
        """Namespaces run the host's programs: nothing to choose."""

    def give_nodes_docker_api(self) -> None:
        raise LabError(NO_DOCKER_API)

    def docker_api_access(self) -> DockerApiAccess:
        raise LabError(NO_DOCKER_API)


def _link_json(ns: str, dev: str) -> dict[str, object]:
    res = ip("-n", ns, "-j", "link", "show", "dev", dev)
    data = json.loads(res.stdout or "[]")
    if not data:
        raise LabError(f"{ns}: no link {dev}")
    first = data[0]
    assert isinstance(first, dict)
    return first


def _netns_exists(ns: str) -> bool:
    return Path("/run/netns", ns).exists()


def list_lab_netns() -> list[str]:
    """Every namespace whose name starts with the lab prefix."""
    res = ip("netns", "list", check=False)
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith("hbl")]


def mark_owner(run_id: str, persistent: bool) -> None:
    """Record who owns the run (this process) in lab.json: `clean` leaves runs whose owner still lives,
    and `persistent` ones (made by `hblab up`) unless told to remove everything."""
    path = run_state_dir(run_id) / "lab.json"
    meta = json.loads(path.read_text())
    meta.update(owner_pid=os.getpid(), owner_start=process_start_time(os.getpid()), persistent=persistent)
    path.write_text(json.dumps(meta, indent=2))


def clean_leftovers(include_live: bool = False) -> list[str]:
    """Remove what crashed runs left: their recorded processes, namespaces (and every process in them),
    host links named hbl*, and their /run/hblab state. Runs whose owner process still lives, and runs
    made by `hblab up`, are kept unless `include_live`. Returns what was removed, for the user."""
    removed: list[str] = []
    keep: set[str] = set()
    if RUN_STATE_ROOT.is_dir():
        for state in sorted(RUN_STATE_ROOT.iterdir()):
            try:
                meta = json.loads((state / "lab.json").read_text())
            except (OSError, ValueError):
                meta = {}
            if meta.get("backend", "netns") != "netns":
                keep.add(state.name)  # another backend's run: it cleans up its own (docker by label)
                continue
            if not include_live and (owner_alive(meta) or meta.get("persistent")):
                keep.add(state.name)
                continue
            for pid in PidRecord(state / "pids").kill_alive():
                removed.append(f"process {pid} (run {state.name})")
            shutil.rmtree(state, ignore_errors=True)
            removed.append(f"state {state}")
    for ns in list_lab_netns():
        run_id = ns[3 : ns.index("-")] if "-" in ns else None
        if ns.startswith("hblprobe"):
            pid_text = ns[len("hblprobe") :]
            if pid_text.isdigit() and process_state(int(pid_text)) is not None:
                continue  # a doctor run in progress
        elif run_id is None or run_id in keep:
            continue
        res = ip("netns", "pids", ns, check=False)
        for pid in (int(p) for p in res.stdout.split() if p.isdigit()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid} in {ns}")
        ip("netns", "del", ns, check=False)
        removed.append(f"namespace {ns}")
    res = ip("-j", "link", "show", check=False)
    for link in json.loads(res.stdout or "[]"):
        name = link.get("ifname", "")
        run_id = name[3 : name.index("-")] if name.startswith("hbl") and "-" in name else None
        if run_id is not None and run_id not in keep:
            ip("link", "del", name, check=False)
            removed.append(f"host link {name}")
    return removed
