"""The Docker backend: every node is a container, every LAN and link an internal Docker network.

Layout of one run (prefix `hbl<run>-`, label `hbd.lab=<run>` on everything Docker holds):
  network   hbl<run>-<segment>   bridge driver, --internal (no route out); host bridge named the same
  container hbl<run>-<node>      hostname = node name (so `uname -n` matches haresources), NET_ADMIN + NET_RAW
                                 (hbd adds the VIP and sends ARP), docker's --init as PID 1
The lab dir is bind-mounted at the same path in every container, so the node dirs (NodeDirs) and log paths
mean the same file on the host and in the node; serial ptys are bind-mounted over `<dev_dir>/<device>` and
`/dev/<device>` (`--device` gives EIO on a pty).

Addresses: Docker's IPAM insists on a gateway inside every subnet and on subnets that never overlap, while
topologies use point-to-point /30s and parallel runs reuse the same subnets. So each network gets a spare
subnet from 198.18.0.0/15 (RFC 2544, reserved for lab benchmarks), and after every (re)start the lab
replaces Docker's address in the container with the topology's and renames the interface to the topology's
name. Docker's isolation rules for internal networks drop bridged traffic outside that spare subnet, so one
ACCEPT rule per bridge in DOCKER-USER lets frames flow between the members -- and only between them.

Faults are real container operations: power-off = `docker kill`'s SIGKILL to PID 1, sent from the host
for an exact fault time (every process and the network namespace gone at once, the VIP with it),
power-on = `docker start` (the disk state survives), cable down/pulled = the host-side veth of the
container's interface set down or taken out of its bridge, node-side down = the container's interface,
from the host (nsenter into its network namespace).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.backends.base import Capabilities, DockerApiAccess, LabError, LinkState, NodeDirs
from lab.backends.docker import dockerd
from lab.backends.docker.api import ENGINE_SOCKET, RELAY_PORT, NodeDockerApi, make_tls
from lab.backends.docker.image import ImageError, ensure_image
from lab.backends.host import (
    RUN_STATE_ROOT,
    PidRecord,
    owner_alive,
    probe_kernel_features,
    process_state,
    run_in_node,
    run_state_dir,
    start_host_process,
    write_run_meta,
)
from lab.backends.serial import SerialError, SerialPair
from lab.paths import FENCE_AGENT
from lab.spec.names import RunNames, fit_ifname
from lab.spec.topology import Segment, Topology

LABEL = "hbd.lab"
SPARE_POOL = ipaddress.IPv4Network("198.18.0.0/15")
SPARE_PREFIX = 28
NODE_VENV = "/opt/hbd"  # the image's venv (lab/images/Dockerfile)
# The lab's fence agent, bind-mounted read-only at its host path: the runner links it into each node's
# bin/ (lab/render.py install_fence_agent), and the link must lead somewhere inside the node too.
LAB_FENCE_AGENT = FENCE_AGENT
SPAWN = "/usr/local/sbin/hbl-spawn"
STATE_WAIT_S = 10.0


def _docker_client() -> Any:
    import docker  # lab-only dependency, imported where needed

    try:
        return docker.from_env(timeout=60)
    except docker.errors.DockerException as e:
        raise LabError(f"cannot reach the Docker engine: {e}") from e


def _run(
    argv: Sequence[str], *, input_text: str | None = None, check: bool = True, timeout_s: float = 30.0
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), input=input_text, capture_output=True, text=True, timeout=timeout_s)
    if check and res.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {res.stderr.strip() or res.stdout.strip()}")
    return res


def _bridge_rule(bridge: str, run_id: str) -> list[str]:
    """The DOCKER-USER rule that lets one internal network's members talk on the topology's addresses."""
    return [
        "DOCKER-USER",
        "-i",
        bridge,
        "-o",
        bridge,
        "-m",
        "comment",
        "--comment",
        f"{LABEL}={run_id}",
        "-j",
        "ACCEPT",
    ]


class DockerBackend:
    name = "docker"
    capabilities = Capabilities(own_machines=True, node_images=True, node_docker_api=True)

    def __init__(
        self,
        topology: Topology,
        run_id: str,
        lab_dir: Path,
        *,
        image: str | None = None,
        variant: str = "hbd",
    ) -> None:
        self.topology = topology
        self.run_id = run_id
        self.names = RunNames(run_id)
        self.lab_dir = lab_dir.resolve()
        self.image_override = image
        # The image variant (lab/images/variants.yaml) every node runs from unless `image` names a tag. The
        # bench sets its setting's daemon (keepalived, heartbeat, ucarp); every variant also carries hbd,
        # the prober and the service responder, so the client and the servers share one image.
        self.variant = variant
        self.state_dir = run_state_dir(run_id)
        self.pid_record = PidRecord(self.state_dir / "pids")
        self.serial: dict[str, SerialPair] = {}
        self._client: Any = None
        self.created = False
        self.docker_api_wanted = False  # give_nodes_docker_api()
        self.docker_api: NodeDockerApi | None = None  # set by create() when wanted

    # -- names -------------------------------------------------------------------------------------

    def container_name(self, node: str) -> str:
        self.topology.node(node)  # KeyError with the topology's node list for a typo
        return f"{self.names.prefix}{node}"

    def network_name(self, segment: str) -> str:
        return f"{self.names.prefix}{segment}"

    def bridge_name(self, segment: str) -> str:
        return fit_ifname(self.network_name(segment))

    def node_dirs(self, node: str) -> NodeDirs:
        return NodeDirs(self.lab_dir / "nodes" / node)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _docker_client()
        return self._client

    def _container(self, node: str) -> Any:
        import docker.errors

        try:
            return self.client.containers.get(self.container_name(node))
        except docker.errors.NotFound as e:
            raise LabError(f"node {node}: container {self.container_name(node)} does not exist") from e

    def _init_pid(self, node: str) -> int:
        """The host pid of the container's PID 1: the handle on its namespaces."""
        container = self._container(node)
        pid = int(container.attrs["State"]["Pid"])
        if not container.attrs["State"]["Running"] or pid <= 0:
            raise LabError(f"node {node} is powered off (container {container.name} is not running)")
        return pid

    # -- lifecycle ---------------------------------------------------------------------------------

    def create(self) -> None:
        """Build everything; on any failure tear down what was built and raise."""
        try:
            dockerd.ensure_running()
        except dockerd.DockerdError as e:
            raise LabError(f"docker backend: {e}") from e
        # `hblab clean` leaves a run alone while this process lives (see clean_docker).
        write_run_meta(self.run_id, self.name, self.topology.source, self.lab_dir)
        self.created = True
        try:
            if self.docker_api_wanted:
                api_version = str(self.client.version()["ApiVersion"])
                self.docker_api = NodeDockerApi(make_tls(self.lab_dir / "docker-api"), api_version)
            images = self._images()
            for node in self.topology.nodes:
                d = self.node_dirs(node.name)
                for sub in (d.config_dir, d.state_dir, d.dev_dir):
                    sub.mkdir(parents=True, exist_ok=True)
            for seg in self.topology.segments:
                self._create_network(seg)
            self._create_serial_lines()
            for node in self.topology.nodes:
                self._create_container(node.name, images[node.name])
            for node in self.topology.nodes:
                self._start(node.name)
        except (LabError, SerialError, ImageError, OSError, subprocess.SubprocessError) as e:
            self.destroy()
            raise LabError(f"creating topology {self.topology.name} on docker: {e}") from e
        except Exception as e:  # docker SDK errors: report them as the lab's, after cleaning up
            self.destroy()
            raise LabError(f"creating topology {self.topology.name} on docker: {e}") from e

    def _images(self) -> dict[str, str]:
        tag = self.image_override or ensure_image(self.variant)
        return {n.name: tag for n in self.topology.nodes}

    def _used_subnets(self) -> list[ipaddress.IPv4Network]:
        used = []
        for net in self.client.networks.list():
            for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
                with contextlib.suppress(KeyError, ValueError):
                    used.append(ipaddress.ip_network(cfg["Subnet"]))
        return used

    def _create_network(self, seg: Segment) -> None:
        import docker.errors
        import docker.types

        name = self.network_name(seg.name)
        bridge = self.bridge_name(seg.name)
        # Spread runs over the pool so two runs starting together rarely race for the same subnet.
        spares = list(SPARE_POOL.subnets(new_prefix=SPARE_PREFIX))
        start = int.from_bytes(name.encode(), "big") % len(spares)
        for attempt in range(len(spares)):
            used = self._used_subnets()
            subnet = spares[(start + attempt) % len(spares)]
            if any(subnet.overlaps(u) for u in used):
                continue
            ipam = docker.types.IPAMConfig(
                pool_configs=[
                    docker.types.IPAMPool(subnet=str(subnet), gateway=str(subnet.broadcast_address - 1))
                ]
            )
            try:
                self.client.networks.create(
                    name,
                    driver="bridge",
                    internal=True,
                    ipam=ipam,
                    labels={LABEL: self.run_id},
                    options={
                        "com.docker.network.bridge.name": bridge,
                        "com.docker.network.bridge.enable_ip_masquerade": "false",
                    },
                )
                break
            except docker.errors.APIError as e:
                if "overlap" not in str(e).lower():
                    raise LabError(f"docker network create {name}: {e}") from e
        else:
            raise LabError(f"no free /{SPARE_PREFIX} left in {SPARE_POOL} for network {name}")
        _run(["iptables", "-I", *_bridge_rule(bridge, self.run_id)])

    def _create_serial_lines(self) -> None:
        serial_dir = self.state_dir / "serial"
        for line in self.topology.serial_lines:
            (a_node, a_dev), (b_node, b_dev) = line.ends
            # The relay's links live on the host: they point at /dev/pts/N, which in a node would name the
            # node's own devpts. The pty itself is bind-mounted into the node (see _serial_mounts).
            pair = SerialPair(
                line.name,
                serial_dir / f"{a_node}-{a_dev}",
                serial_dir / f"{b_node}-{b_dev}",
                self.state_dir / f"serial-{line.name}.json",
            )
            pid = pair.start(self.lab_dir / f"serial-{line.name}.log")
            self.pid_record.add(pid, "lab.backends.serial")
            self.serial[line.name] = pair

    def _serial_mounts(self, node: str) -> list[str]:
        binds = []
        for line in self.topology.serial_lines:
            device = line.device_of(node)
            if device is None:
                continue
            pty = os.path.realpath(self.state_dir / "serial" / f"{node}-{device}")
            for target in (self.node_dirs(node).dev_dir / device, Path("/dev") / device):
                binds.append(f"{pty}:{target}:rw")
        return binds

    def _create_container(self, node: str, image: str) -> None:
        segments = [seg for seg, _e in self.topology.endpoints_of(node)]
        first = self.network_name(segments[0].name) if segments else "none"
        container = self.client.containers.create(
            image,
            name=self.container_name(node),
            hostname=node,
            labels={LABEL: self.run_id, f"{LABEL}.node": node},
            cap_add=["NET_ADMIN", "NET_RAW"],
            init=True,
            detach=True,
            network=first,
            volumes=[
                f"{self.lab_dir}:{self.lab_dir}:rw",
                *self._serial_mounts(node),
                f"{LAB_FENCE_AGENT}:{LAB_FENCE_AGENT}:ro",
                *self._docker_api_mounts(node),
            ],
            # IPv6 off: no DAD delays, no router solicitations, only the traffic the lab means to send.
            sysctls={"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"},
        )
        for seg in segments[1:]:
            self.client.networks.get(self.network_name(seg.name)).connect(container)

    def _start(self, node: str) -> None:
        container = self._container(node)
        container.start()
        deadline = time.monotonic() + STATE_WAIT_S
        while True:
            container.reload()
            if container.attrs["State"]["Running"] and container.attrs["State"]["Pid"] > 0:
                break
            if time.monotonic() > deadline:
                raise LabError(f"node {node}: container did not start: {container.attrs['State']}")
            time.sleep(0.05)
        self._wire(node, container)
        self._link_host_python(node, int(container.attrs["State"]["Pid"]))
        if self._has_docker_api(node):
            self._start_docker_api_relay(node, int(container.attrs["State"]["Pid"]))

    # -- the Docker API inside hbd's nodes, for fence_docker (lab/backends/docker/api.py) -------------

    def give_nodes_docker_api(self) -> None:
        """Before create(): every node that runs hbd gets the engine's socket and, after each start, a
        loopback-only TLS relay to it, so fence agents that speak the Docker API (Debian's fence_docker)
        can fence a container. `docker_api` then says how to reach it. The relay lives in the node and
        dies with it (a power-off); a power-on through the lab starts it again."""
        if self.created:
            raise LabError("give_nodes_docker_api() must be called before create()")
        self.docker_api_wanted = True

    def _has_docker_api(self, node: str) -> bool:
        return self.docker_api_wanted and self.topology.node(node).daemon == "hbd"

    def _docker_api_mounts(self, node: str) -> list[str]:
        return [f"{ENGINE_SOCKET}:{ENGINE_SOCKET}:rw"] if self._has_docker_api(node) else []

    def _start_docker_api_relay(self, node: str, init_pid: int) -> None:
        assert self.docker_api is not None
        log = self.node_dirs(node).root / "docker-api-relay.log"
        pid = self.spawn(node, self.docker_api.relay_argv(), log)
        # Ready once it listens: a fence right after boot must not find the port closed.
        deadline = time.monotonic() + STATE_WAIT_S
        probe = ["nsenter", "--target", str(init_pid), "--net", "ss", "-Hltn", f"sport = :{RELAY_PORT}"]
        while not _run(probe).stdout.strip():
            if not self.alive(pid):
                raise LabError(f"node {node}: the Docker API relay exited; see {log}")
            if time.monotonic() > deadline:
                raise LabError(f"node {node}: the Docker API relay does not listen; see {log}")
            time.sleep(0.02)

    def _link_host_python(self, node: str, pid: int) -> None:
        """Make the host venv's path lead to the image's venv in the node (the same code, from the wheel).

        The runner and the rendered files name programs by host paths (sys.executable, PYTHON= in
        hblab-service.conf); with this link the same argv and files work on both backends. The venv
        root is linked, not its programs: Python finds pyvenv.cfg (and so hbd) beside the path it was
        started by. Written through /proc/PID/root into the container's own filesystem, never into a
        bind-mounted host dir. Outside a venv nothing is linked: the node's system Python would run, and
        it has no hbd (run the lab from the venv).
        """
        if sys.prefix == sys.base_prefix:
            return
        venv = Path(sys.prefix)
        if venv.is_relative_to(self.lab_dir) or self.lab_dir.is_relative_to(venv):
            raise LabError(
                f"node {node}: the lab dir {self.lab_dir} and this venv {venv} overlap: use another"
            )
        inside = Path(f"/proc/{pid}/root") / venv.relative_to("/")
        if inside.exists() or inside.is_symlink():
            return  # linked at the first start; the container's disk keeps it across power cycles
        inside.parent.mkdir(parents=True, exist_ok=True)
        inside.symlink_to(NODE_VENV)

    def _wire(self, node: str, container: Any) -> None:
        """Give the container's interfaces the topology's names and addresses (after every start)."""
        pid = int(container.attrs["State"]["Pid"])
        networks = container.attrs["NetworkSettings"]["Networks"]
        links = {link["address"]: link["ifname"] for link in self._ip_json(pid, "link", "show")}
        plan: list[tuple[str, str, str]] = []  # (current name, topology name, topology address)
        for seg, e in self.topology.endpoints_of(node):
            mac = networks[self.network_name(seg.name)]["MacAddress"]
            if mac not in links:
                raise LabError(f"node {node}: no interface with MAC {mac} for {seg.name}")
            plan.append((links[mac], e.iface, str(e.ip)))
        batch = []
        # Through temporary names first: docker's eth1 may have to become eth0 while eth0 still exists.
        for i, (current, _iface, _ip) in enumerate(plan):
            batch += [
                f"link set dev {current} down",
                f"link set dev {current} name hbltmp{i}",
                f"address flush dev hbltmp{i}",
            ]
        for i, (_current, iface, address) in enumerate(plan):
            batch += [
                f"link set dev hbltmp{i} name {iface}",
                f"address add {address} brd + dev {iface}",
                f"link set dev {iface} up",
            ]
        if batch:
            self._ip(pid, "-batch", "-", input_text="\n".join(batch) + "\n")

    def destroy(self) -> None:
        """Remove the run's containers, networks, firewall rules and serial relays. Idempotent."""
        self._kill_all_nodes()  # first, and all at once: see _kill_all_nodes
        for pair in self.serial.values():
            pair.stop()
        self.pid_record.kill_alive()
        problems = clean_run(self.run_id)[1]
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if problems:
            raise LabError("docker cleanup left: " + "; ".join(problems))

    def _kill_all_nodes(self) -> None:
        """SIGKILL every node's PID 1 in one sweep (the kernel then empties each pid namespace).

        Removing containers one by one takes a good fraction of a second each: the last node alive would
        declare its peers dead and take their groups over, and those events (after the run's end) would
        land in the history the checks read.
        """
        if not dockerd.engine_answers():
            return
        import docker.errors

        pids = []
        for container in self.client.containers.list(filters={"label": f"{LABEL}={self.run_id}"}):
            with contextlib.suppress(docker.errors.APIError, KeyError, ValueError):
                pids.append(int(container.attrs["State"]["Pid"]))
        for pid in pids:
            if pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

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
        self._init_pid(node)  # a clear error when the node is powered off
        full = [
            "docker",
            "exec",
            *(["-i"] if input_text is not None else []),
            self.container_name(node),
            *argv,
        ]
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
        log_path = log_path.resolve()
        if not log_path.is_relative_to(self.lab_dir):
            raise LabError(
                f"{node}: log {log_path} is outside the lab dir {self.lab_dir} (the only host "
                "directory the nodes see)"
            )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()  # exists when spawn returns, as on netns (hbl-spawn appends to it)
        self._init_pid(node)
        when = repr(start_at) if start_at is not None else "-"
        cmd = [SPAWN, str(log_path), when, "--", *argv]
        # Docker's exec: the process lands in the container's cgroup (so `docker pause`/`kill` reach it).
        # The host environment means nothing in the node (its PATH names the host venv): pass only `env`.
        exec_id = self.client.api.exec_create(
            self.container_name(node), cmd, environment=dict(env) if env else None
        )["Id"]
        self.client.api.exec_start(exec_id, detach=True)
        deadline = time.monotonic() + STATE_WAIT_S
        while True:
            info = self.client.api.exec_inspect(exec_id)
            if info.get("Pid"):
                return int(info["Pid"])
            if not info.get("Running") and info.get("ExitCode") is not None:
                raise LabError(f"{node}: {' '.join(argv)} exited {info['ExitCode']} at once; see {log_path}")
            if time.monotonic() > deadline:
                raise LabError(f"{node}: {' '.join(argv)} did not start within {STATE_WAIT_S} s")
            time.sleep(0.01)

    def signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError as e:
            raise LabError(f"process {pid} is gone") from e

    def alive(self, pid: int) -> bool:
        return process_state(pid) not in (None, "Z", "X")

    def stopped(self, pid: int) -> bool:
        return process_state(pid) in ("T", "t")

    def pids(self, node: str) -> list[int]:
        try:
            init = self._init_pid(node)
        except LabError:
            return []  # powered off: nothing runs
        return [pid for pid in _same_pid_namespace(init) if process_state(pid) not in (None, "Z")]

    # -- links -------------------------------------------------------------------------------------

    def _ip(self, pid: int, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """`ip ARGS` in the network namespace of host pid `pid` (a node), run from the host."""
        return _run(["nsenter", "--target", str(pid), "--net", "ip", *args], input_text=input_text)

    def _ip_json(self, pid: int, *args: str) -> list[dict[str, Any]]:
        data = json.loads(self._ip(pid, "-j", *args).stdout or "[]")
        assert isinstance(data, list)
        return data

    def _endpoint_segment(self, node: str, iface: str) -> Segment:
        for seg, e in self.topology.endpoints_of(node):
            if e.iface == iface:
                return seg
        raise LabError(f"node {node} has no interface {iface!r} in topology {self.topology.name}")

    def _cable(self, node: str, iface: str) -> dict[str, Any]:
        """The host-side end of the node's veth for `iface`: the cable as the switch sees it."""
        self._endpoint_segment(node, iface)
        mine = self._ip_json(self._init_pid(node), "link", "show", "dev", iface)
        if not mine or "link_index" not in mine[0]:
            raise LabError(f"node {node}: {iface} is not a veth with a host-side end")
        index = str(mine[0]["link_index"])
        for link in json.loads(_run(["ip", "-j", "link", "show"]).stdout or "[]"):
            if str(link.get("ifindex")) == index:
                assert isinstance(link, dict)
                return link
        raise LabError(f"node {node}: host end (ifindex {index}) of {iface} not found")

    def set_link(self, node: str, iface: str, up: bool, *, side: str = "node") -> None:
        state = "up" if up else "down"
        if side == "node":
            self._endpoint_segment(node, iface)
            self._ip(self._init_pid(node), "link", "set", "dev", iface, state)
        elif side == "cable":
            _run(["ip", "link", "set", "dev", self._cable(node, iface)["ifname"], state])
        else:
            raise LabError(f"set_link side must be 'node' or 'cable', got {side!r}")

    def attach(self, node: str, iface: str, attached: bool) -> None:
        cable = self._cable(node, iface)["ifname"]
        if attached:
            bridge = self.bridge_name(self._endpoint_segment(node, iface).name)
            _run(["ip", "link", "set", "dev", cable, "master", bridge])
        else:
            _run(["ip", "link", "set", "dev", cable, "nomaster"])

    def link_state(self, node: str, iface: str) -> LinkState:
        try:
            pid = self._init_pid(node)
        except LabError:
            # Powered off: the container's namespace and its veths are gone, like a machine without power.
            return LinkState(
                node=node, iface=iface, admin_up=False, carrier=False, cable_up=False, attached=False
            )
        mine = self._ip_json(pid, "link", "show", "dev", iface)[0]
        far = self._cable(node, iface)
        flags = set(mine.get("flags", []))
        return LinkState(
            node=node,
            iface=iface,
            admin_up="UP" in flags,
            carrier="LOWER_UP" in flags,
            cable_up="UP" in set(far.get("flags", [])),
            attached=far.get("master") == self.bridge_name(self._endpoint_segment(node, iface).name),
        )

    def addresses(self, node: str) -> list[tuple[str, str]]:
        try:
            pid = self._init_pid(node)
        except LabError:
            return []
        out = []
        for link in self._ip_json(pid, "-4", "addr", "show"):
            if link.get("ifname") == "lo":
                continue
            for a in link.get("addr_info", []):
                out.append((link["ifname"], f"{a['local']}/{a['prefixlen']}"))
        return out

    # -- power -------------------------------------------------------------------------------------

    def power_off(self, node: str) -> float:
        """`docker kill`'s SIGKILL to PID 1, sent by the lab itself: the kernel kills the whole pid
        namespace with it, and the returned time is the kill's, not that of an API request that lands
        tens of milliseconds later (that delay counted as takeover time)."""
        init = self._init_pid(node)
        container = self._container(node)
        at = time.monotonic()
        try:
            os.kill(init, signal.SIGKILL)
        except ProcessLookupError:
            container.kill()  # PID 1 went between the lookup and the kill: let Docker finish the job
        deadline = time.monotonic() + STATE_WAIT_S
        while True:
            container.reload()
            if not container.attrs["State"]["Running"]:
                break
            if time.monotonic() > deadline:
                raise LabError(f"power_off {node}: container still running after docker kill")
            time.sleep(0.01)
        if self.pids(node):
            raise LabError(f"power_off {node}: processes still running: {self.pids(node)}")
        return at

    def power_on(self, node: str) -> None:
        self._start(node)
        deadline = time.monotonic() + STATE_WAIT_S
        for _seg, e in self.topology.endpoints_of(node):
            while not self.link_state(node, e.iface).carrier:
                if time.monotonic() > deadline:
                    raise LabError(f"power_on {node}: {e.iface} has no carrier after the start")
                time.sleep(0.01)

    def pause(self, node: str, paused: bool) -> None:
        """Freeze or thaw the whole node (`docker pause`: the cgroup freezer, every process at once)."""
        container = self._container(node)
        if paused:
            container.pause()
        else:
            container.unpause()
        container.reload()
        want = "paused" if paused else "running"
        if container.status != want:
            raise LabError(f"{'pause' if paused else 'unpause'} {node}: container is {container.status}")

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

    def serial_relaying(self, line: str) -> bool:
        pair = self.serial.get(line)
        return pair is not None and pair.relaying()

    def serial_device(self, node: str, device: str) -> str:
        """/dev/<device>: the relay's pty is bind-mounted there (see _serial_mounts)."""
        for line in self.topology.serial_lines:
            if line.device_of(node) == device:
                return f"/dev/{device}"
        raise LabError(f"node {node} has no serial device {device!r}")

    # -- how the lab launches things ----------------------------------------------------------------

    def python_argv(self, module: str) -> list[str]:
        return [sys.executable, "-m", module]  # linked to the image's venv in every node (_link_host_python)

    def exec_argv(self, node: str, argv: Sequence[str], *, tty: bool = False) -> list[str]:
        return ["docker", "exec", "-i", *(["-t"] if tty else []), self.container_name(node), *argv]

    def start_host_process(
        self, argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return start_host_process(self.pid_record, argv, log_path, env)

    def switch_tap(self, segment: str) -> tuple[list[str], str]:
        return [], self.bridge_name(segment)  # the networks' bridges are in the host namespace

    def socket_dir(self) -> Path:
        return self.lab_dir  # bind-mounted at the same path in every container

    def use_node_image(self, variant: str, tag: str | None = None) -> None:
        if self.created:
            raise LabError("use_node_image() must be called before create()")
        self.variant = variant
        self.image_override = tag

    def docker_api_access(self) -> DockerApiAccess:
        if self.docker_api is None:
            raise LabError("the nodes have no Docker API: call give_nodes_docker_api() before create()")
        plugs = {n.name: self.container_name(n.name) for n in self.topology.servers}
        return DockerApiAccess(self.docker_api.agent_options(), plugs)

    # -- observation -------------------------------------------------------------------------------

    def owner_sampler_argv(self) -> list[str]:
        """argv of the VIP-ownership sampler for this run's server nodes (the runner adds --vip, --out,
        --until-file). Its records are lab.node.owners' records; see lab/backends/docker/owners.py."""
        argv = [sys.executable, "-m", "lab.backends.docker.owners"]
        for spec in self.topology.servers:
            argv += ["--node", f"{spec.name}={self.container_name(spec.name)}"]
        return argv

    # -- kernel ------------------------------------------------------------------------------------

    def kernel_features(self) -> dict[str, bool]:
        # Containers share the host's kernel: what a scratch namespace offers, they offer.
        return probe_kernel_features()


def _same_pid_namespace(init_pid: int) -> Iterator[int]:
    """Host pids of every process in the pid namespace of `init_pid`."""
    try:
        target = os.stat(f"/proc/{init_pid}/ns/pid").st_ino
    except OSError:
        return
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry.name}/ns/pid").st_ino == target:
                    yield int(entry.name)


def clean_docker(include_live: bool = False) -> list[str]:
    """`hblab clean`: remove what Docker runs left behind, found by label (`hbd.lab=<run>`) only.

    Containers, networks, DOCKER-USER rules, the serial relays recorded for the run and its /run/hblab
    state. Runs whose owner process still lives and persistent ones (`hblab up`) are kept unless
    `include_live`. Returns what was removed; raises LabError naming what could not be. Never starts the
    engine: with none running, only firewall rules and state can be left.
    """
    runs = _labelled_runs()
    if RUN_STATE_ROOT.is_dir():
        for state in RUN_STATE_ROOT.iterdir():
            if _run_meta(state.name).get("backend") == "docker":
                runs.add(state.name)
    removed: list[str] = []
    problems: list[str] = []
    for run_id in sorted(runs):
        meta = _run_meta(run_id)
        if not include_live and (meta.get("persistent") or owner_alive(meta)):
            continue
        gone, failed = clean_run(run_id)
        removed += gone
        problems += failed
    if problems:
        raise LabError("docker cleanup failed: " + "; ".join(problems))
    return removed


def clean_run(run_id: str) -> tuple[list[str], list[str]]:
    """Remove one run's containers, networks, rules, relays and state: (removed, could not remove)."""
    import docker.errors

    removed: list[str] = []
    problems: list[str] = []
    state = run_state_dir(run_id)
    for pid in PidRecord(state / "pids").kill_alive():
        removed.append(f"process {pid} (run {run_id})")
    _remove_bridge_rules(run_id, removed, problems)  # they outlive a stopped engine
    if dockerd.engine_answers():
        selector = f"{LABEL}={run_id}"
        client = _docker_client()
        try:
            for container in client.containers.list(all=True, filters={"label": selector}):
                try:
                    container.remove(force=True)
                    removed.append(f"container {container.name}")
                except docker.errors.APIError as e:
                    problems.append(f"container {container.name}: {e}")
            for network in client.networks.list(filters={"label": selector}):
                try:
                    network.remove()
                    removed.append(f"network {network.name}")
                except docker.errors.APIError as e:
                    problems.append(f"network {network.name}: {e}")
        finally:
            client.close()
    if state.exists():
        shutil.rmtree(state, ignore_errors=True)
        removed.append(f"state {state}")
    return removed, problems


def _labelled_runs() -> set[str]:
    """Run ids on lab containers, networks and firewall rules."""
    runs: set[str] = set()
    if shutil.which("iptables") is not None:
        for line in _run(["iptables", "-S", "DOCKER-USER"], check=False).stdout.splitlines():
            for word in line.split():
                if word.strip('"').startswith(f"{LABEL}="):
                    runs.add(word.strip('"').split("=", 1)[1])
    if dockerd.engine_answers():
        client = _docker_client()
        try:
            labels = [c.labels for c in client.containers.list(all=True, filters={"label": LABEL})]
            labels += [n.attrs.get("Labels") or {} for n in client.networks.list(filters={"label": LABEL})]
            runs.update(str(found[LABEL]) for found in labels if found.get(LABEL))
        finally:
            client.close()
    return runs


def _run_meta(run_id: str) -> dict[str, Any]:
    try:
        meta = json.loads((run_state_dir(run_id) / "lab.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _remove_bridge_rules(run_id: str | None, removed: list[str], problems: list[str]) -> None:
    if shutil.which("iptables") is None:
        return
    res = _run(["iptables", "-S", "DOCKER-USER"], check=False)
    for line in res.stdout.splitlines():
        args = line.split()
        if len(args) < 2 or args[0] != "-A" or "--comment" not in args:
            continue
        at = args.index("--comment") + 1
        args[at] = args[at].strip('"')  # `iptables -S` quotes the comment; `-D` wants it bare
        comment = args[at]
        if comment.startswith(f"{LABEL}=") and (run_id is None or comment == f"{LABEL}={run_id}"):
            deleted = _run(["iptables", "-D", *args[1:]], check=False)
            (removed if deleted.returncode == 0 else problems).append(f"iptables rule {' '.join(args[1:])}")
