"""What both backends do on the host itself: run `ip`, tell one process from a later one with its pid,
record the processes a run started (so `hblab clean` ends exactly those), keep a run's state under
/run/hblab/<run>, and probe what the kernel offers the faults (containers share the host's kernel).

Nothing here knows a node: lab/backends/netns.py and lab/backends/docker/backend.py
build on it, and neither imports the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plumbum import CommandNotFound, ProcessTimedOut, local
from plumbum.commands.base import BaseCommand

from lab.backends.base import LabError

RUN_STATE_ROOT = Path("/run/hblab")


def run_state_dir(run_id: str) -> Path:
    """Where a run keeps what outlives a crash of the lab: its pid record and lab.json (on tmpfs)."""
    return RUN_STATE_ROOT / run_id


IP_TIMEOUT_S = 30


def command(name: str) -> BaseCommand:
    """A host program as a plumbum command (`command("ip")["-n", ns, "link"]`); LabError when missing."""
    try:
        return local[name]
    except CommandNotFound as e:
        raise LabError(f"{name}: not installed on this host (`hblab doctor` says which package)") from e


def run_command(
    cmd: BaseCommand, *, input_text: str | None = None, check: bool = True, timeout_s: float = IP_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a plumbum command; with `check`, a non-zero exit raises LabError naming the command line and
    its stderr, and so does a timeout (callers keep the CompletedProcess they had with subprocess)."""
    bound = cmd if input_text is None else (cmd << input_text)
    argv = [str(a) for a in cmd.formulate()]
    shown = " ".join([Path(argv[0]).name, *argv[1:]])  # `ip link ...`, as a person would type it
    try:
        rc, out, err = bound.run(retcode=None, timeout=timeout_s)
    except ProcessTimedOut as e:
        raise LabError(f"{shown}: no answer within {timeout_s:g} s") from e
    if check and rc != 0:
        raise LabError(f"{shown}: {err.strip() or out.strip()}")
    return subprocess.CompletedProcess(argv, rc, out, err)


def ip(*args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS`; a failure raises LabError with ip's own message."""
    return run_command(command("ip")[args], input_text=input_text, check=check)


def run_in_node(
    node: str,
    argv: Sequence[str],
    full: Sequence[str],
    *,
    input_text: str | None,
    timeout_s: float,
    check: bool,
) -> subprocess.CompletedProcess[str]:
    """Run `full` (argv wrapped to enter the node) and name the node and argv in every error."""
    try:
        res = subprocess.run(full, input=input_text, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{node}: {' '.join(argv)} did not finish within {timeout_s} s") from e
    if check and res.returncode != 0:
        raise LabError(f"{node}: {' '.join(argv)} exited {res.returncode}: {res.stderr.strip()}")
    return res


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: distinguishes our process from a later one that reused its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_state(pid: int) -> str | None:
    """The one-letter state of /proc/PID/stat (R, S, T, Z...), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


class PidRecord:
    """Append-only record of the processes the lab started: one `pid starttime argv0` per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, pid: int, argv0: str) -> None:
        start = process_start_time(pid)
        with open(self.path, "a") as f:
            f.write(f"{pid} {start if start is not None else 0} {argv0}\n")

    def entries(self) -> list[tuple[int, int]]:
        out = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                    out.append((int(parts[0]), int(parts[1])))
        return out

    def kill_alive(self) -> list[int]:
        """SIGKILL every recorded process that still runs as the same process. Returns the pids killed."""
        killed = []
        for pid, start in self.entries():
            if process_start_time(pid) == start and process_state(pid) not in (None, "Z"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        return killed


def start_host_process(
    pid_record: PidRecord,
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` on the host, its output appended to `log_path`, and record it in the run's pids."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
        )
    pid_record.add(proc.pid, argv[0])
    return proc


def write_run_meta(run_id: str, backend: str, topology_source: object, lab_dir: Path) -> None:
    """lab.json of a run: which backend and topology, and who owns it (`hblab clean` leaves a run alone
    while its owner process lives; `persistent` marks runs made by `hblab up`)."""
    state_dir = run_state_dir(run_id)
    state_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "run_id": run_id,
        "backend": backend,
        "topology": str(topology_source),
        "lab_dir": str(lab_dir),
        "created_mono": time.monotonic(),
        "created_wall": time.time(),
        "owner_pid": os.getpid(),
        "owner_start": process_start_time(os.getpid()),
        "persistent": False,
    }
    (state_dir / "lab.json").write_text(json.dumps(meta, indent=2))


def owner_alive(meta: Mapping[str, Any]) -> bool:
    """True while the process that owns a run (lab.json's owner_pid and owner_start) still runs."""
    pid, start = meta.get("owner_pid"), meta.get("owner_start")
    return isinstance(pid, int) and isinstance(start, int) and process_start_time(pid) == start


def probe_kernel_features() -> dict[str, bool]:
    """Try each qdisc/nft feature once in a scratch namespace: what can the faults use on this kernel?"""
    ns = f"hblprobe{os.getpid()}"
    features = {
        "netem": False,
        "tbf": False,
        "nft": False,
        "nft_numgen": False,
        "veth": False,
        "bridge": False,
        "nfqueue": False,
    }
    if ip("netns", "add", ns, check=False).returncode != 0:
        return features
    try:
        features["veth"] = (
            ip("-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False).returncode
            == 0
        )
        features["bridge"] = ip("-n", ns, "link", "add", "b0", "type", "bridge", check=False).returncode == 0

        in_ns = command("ip")["netns", "exec", ns]

        def run(*argv: str, input_text: str | None = None) -> bool:
            return run_command(in_ns[argv], input_text=input_text, check=False, timeout_s=10).returncode == 0

        if features["veth"]:
            features["netem"] = run("tc", "qdisc", "add", "dev", "p0", "root", "netem", "delay", "1ms")
            tbf = ("tbf", "rate", "1mbit", "burst", "32k", "latency", "100ms")
            features["tbf"] = run("tc", "qdisc", "replace", "dev", "p0", "root", *tbf)
        if shutil.which("nft"):
            features["nft"] = run("nft", "add", "table", "inet", "probe")
            features["nft_numgen"] = run(
                "nft",
                "-f",
                "-",
                input_text="add chain inet probe c { type filter hook input priority 0; }\n"
                "add rule inet probe c numgen random mod 100 < 10 drop\n",
            )
        if shutil.which("iptables"):  # the delay relay's queue (nft's `queue` needs CONFIG_NFT_QUEUE)
            nfqueue = ("-j", "NFQUEUE", "--queue-num", "4200", "--queue-bypass")
            features["nfqueue"] = run("iptables", "-w", "-A", "OUTPUT", *nfqueue)
    finally:
        ip("netns", "del", ns, check=False)
    return features
