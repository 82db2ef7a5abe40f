"""A run's packet capture: one recorder (lab/node/sniffer.py) on the switch side of every segment, started
after the topology is built and stopped at teardown, writing <run>/pcap/<segment>.pcap and clock.json.

Switch side (Backend.switch_tap): the bridge in the switch namespace (netns) or on the host (docker), so
what a node sent before it was powered off is recorded; the recorder bounds itself (--max-s, --max-bytes,
the run's stop file), and the lab stops it by its pid. `hblab pcap RUN_DIR` decodes the files
(lab/analysis/pcap.py).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from lab.backends.base import Backend, LabError
from lab.spec.topology import Topology

PCAP_DIR = "pcap"
READY_S = 10.0
STOP_WAIT_S = 3.0
DEFAULT_MAX_S = 1800.0


class Capture:
    """The recorder process of one run."""

    def __init__(self, proc: subprocess.Popen[bytes], out_dir: Path) -> None:
        self.proc = proc
        self.out_dir = out_dir

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not finish its files in time (by pid: it is ours)."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_WAIT_S)


def start_capture(
    backend: Backend,
    topology: Topology,
    run_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    until_file: Path | None = None,
    max_s: float = DEFAULT_MAX_S,
) -> Capture | None:
    """Record every segment of the topology; returns once the recorder listens (its clock.json exists).
    None for a topology without segments (serial lines only: nothing to capture)."""
    out_dir = run_dir / PCAP_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix: list[str] | None = None
    taps = []
    for seg in topology.segments:
        seg_prefix, bridge = backend.switch_tap(seg.name)
        if prefix is not None and seg_prefix != prefix:
            raise LabError(f"capture: segment {seg.name} is recorded from elsewhere than the others")
        prefix = seg_prefix
        taps += ["--tap", f"{seg.name}={bridge}"]
    if not taps:
        return None
    argv = [*(prefix or []), sys.executable, "-m", "lab.node.sniffer", "--out-dir", str(out_dir)]
    argv += [*taps, "--max-s", f"{max_s:g}"]
    if until_file is not None:
        argv += ["--until-file", str(until_file)]
    log = out_dir / "sniffer.log"
    proc = backend.start_host_process(argv, log, env=env)
    deadline = time.monotonic() + READY_S
    while not (out_dir / "clock.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise LabError(f"the packet capture did not start; see {log}")
        time.sleep(0.01)
    return Capture(proc, out_dir)
