"""`hblab bench --suite media`: what an idle cluster costs, with 1, 2 and 4 heartbeat media (issue 15).

Each run boots the bench's two nodes (lab/topologies/bench-two-node.yaml, with its heartbeat media
redrawn: 1 = the crossover alone, 2 = LAN + crossover as in the bench, 4 = LAN + three crossovers),
waits until the home node holds the VIP, lets the cluster settle, then reads the CPU time of every
daemon process of each node (/proc/PID/stat utime+stime: hbd's supervisor and worker, keepalived's
parent and VRRP child) over a window of steady state, and for hbd the per-link gap histograms (hbctl
status, read from the control socket before and after the window). No prober runs (nothing but the
daemons should use the cores); the lab's VIP owner sampler does, on the host.

keepalived v3 at 20 ms adverts on the 2-media topology (it advertises on the crossover only) is the
anchor, interleaved with hbd in the same invocation (repeat -> setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from hbd.event_names import DAEMON_STALL, PEER_DEAD
from lab.backends.base import LabError
from lab.bench import proc_cpu
from lab.bench.cost_report import bucket_counts, counts_between, write_outputs
from lab.bench.run import BenchRun, Setting
from lab.bench.suite import DEFAULT_SETTINGS, bench_scenario, missing_packages
from lab.paths import TOPOLOGY_DIR
from lab.spec.scenario import ScenarioError

MEDIA_COUNTS = (1, 2, 4)
BASE_TOPOLOGY = TOPOLOGY_DIR / "bench-two-node.yaml"
HBD_SETTING = next(s for s in DEFAULT_SETTINGS if s.label == "hbd 10/40ms")
KEEPALIVED_SETTING = next(s for s in DEFAULT_SETTINGS if s.label == "keepalived v3 20ms")
STATUS_QUIET_S = 1.0
# Process roles by depth in the daemon's tree.
ROLES = {"hbd": ("supervisor", "worker"), "keepalived": ("keepalived", "vrrp")}


@dataclasses.dataclass(frozen=True)
class CostSetting:
    setting: Setting
    media: int

    @property
    def label(self) -> str:
        return (
            f"{self.setting.label} {self.media} media" if self.setting.kind == "hbd" else self.setting.label
        )


def default_settings(media: Sequence[int] = MEDIA_COUNTS, keepalived: bool = True) -> list[CostSetting]:
    out = [CostSetting(HBD_SETTING, n) for n in media]
    return out + ([CostSetting(KEEPALIVED_SETTING, 2)] if keepalived else [])


def media_topology(media: int, base: dict[str, Any]) -> dict[str, Any]:
    """The bench topology with `media` heartbeat media: 1 = the crossover alone (the LAN carries none),
    2 = as it is (LAN + crossover), 4 = LAN + the crossover + two more crossovers (eth2, eth3)."""
    if media not in MEDIA_COUNTS:
        raise ValueError(f"media must be one of {MEDIA_COUNTS}, got {media}")
    topo = yaml.safe_load(yaml.safe_dump(base))  # a deep copy
    topo["name"] = f"bench-media-{media}"
    topo["description"] = f"{base.get('description', '')} ({media} heartbeat media)"
    if media == 1:
        topo["lans"]["lan"]["heartbeat"] = "none"
    for extra in range(1, media - 1):  # 4 media: crossover2 and crossover3
        topo["links"][f"crossover{extra + 1}"] = {
            "heartbeat": "bcast",
            "ends": {
                "bob": {"iface": f"eth{extra + 1}", "ip": f"10.77.{extra}.1/30"},
                "bobek": {"iface": f"eth{extra + 1}", "ip": f"10.77.{extra}.2/30"},
            },
        }
    return topo


def write_topology(media: int, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"bench-media-{media}.yaml"
    path.write_text(yaml.safe_dump(media_topology(media, yaml.safe_load(BASE_TOPOLOGY.read_text()))))
    return path


class CostRun(BenchRun):
    """A bench run whose only sleep is the measured window: settle, snapshot, sleep, snapshot."""

    def __init__(self, *args: Any, settle_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settle_s = settle_s
        self.cost: dict[str, Any] | None = None

    def _status(self, node: str) -> dict[str, Any]:
        """`hbctl status --json` in the node (the daemon's command-line contract, not its modules)."""
        state_dir = str(self.backend.node_dirs(node).state_dir)
        argv = [*self.backend.python_argv("hbd.control_cli"), "--state-dir", state_dir, "status", "--json"]
        answer = self.backend.exec(node, argv, timeout_s=30)
        return dict(json.loads(answer.stdout))

    def _links(self, node: str) -> dict[str, dict[str, Any]]:
        links = self._status(node)["peer"]["links"]
        return {
            name: {"counts": bucket_counts(link["gaps"]["buckets"]), "max_ms": float(link["gaps"]["max_ms"])}
            for name, link in links.items()
        }

    def _do_sleep(self, args: dict[str, Any]) -> None:
        time.sleep(self.settle_s)
        nodes = {n: self.daemons.pid(n) for n in self.daemons.pids}
        hbd = self.setting.kind == "hbd"
        links_before = {n: self._links(n) for n in nodes} if hbd else {}
        time.sleep(STATUS_QUIET_S if hbd else 0.0)  # hbctl's own start-up is no part of the window
        t0, before = time.monotonic(), proc_cpu.read_all()
        time.sleep(float(args["duration_s"]))
        t1, after = time.monotonic(), proc_cpu.read_all()
        window = t1 - t0
        result: dict[str, Any] = {}
        for node, pid in nodes.items():
            if pid is None:
                raise LabError(f"{node}: the daemon died during the window")
            result[node] = node_cost(pid, before, after, window, ROLES.get(self.setting.kind, ()))
            if hbd:
                result[node]["links"] = {
                    name: {
                        "counts": counts_between(
                            links_before[node].get(name, {}).get("counts", [0] * len(g["counts"])),
                            g["counts"],
                        ),
                        "max_ms": g["max_ms"],
                    }
                    for name, g in self._links(node).items()
                }
        self.cost = {"window_s": window, "window_mono": [t0, t1], "nodes": result}


def node_cost(
    root: int,
    before: dict[int, proc_cpu.ProcStat],
    after: dict[int, proc_cpu.ProcStat],
    window_s: float,
    roles: Sequence[str],
) -> dict[str, Any]:
    """CPU of one daemon's process tree over the window, per process (named by depth: `roles`)."""
    procs = proc_cpu.tree(root, after)
    used = proc_cpu.ticks_used(before, procs)
    depth = {root: 0}
    for pid in sorted(procs):  # parents before children: a child's pid is larger unless pids wrapped
        depth.setdefault(pid, depth.get(procs[pid].ppid, 0) + 1)
    rows = [
        {
            "pid": pid,
            "comm": procs[pid].comm,
            "role": roles[depth[pid]] if depth[pid] < len(roles) else f"child:{procs[pid].comm}",
            "cpu_pct": proc_cpu.percent_of_core(used[pid], window_s),
        }
        for pid in sorted(procs)
    ]
    total = proc_cpu.percent_of_core(sum(used.values()), window_s)
    return {"cpu_pct": total, "procs": rows}


def run_one(cs: CostSetting, window_s: float, settle_s: float, runs_root: Path, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {"label": cs.label, "kind": cs.setting.kind, "media": cs.media, "seed": seed}
    try:
        topology = write_topology(cs.media, runs_root / "topologies")
        base = bench_scenario("steady", cs.setting)
        # boot, wait for the home node to hold the VIP, then the measured sleep (no prober).
        steps = [s for s in base.steps if s.kind in ("boot", "wait_for")]
        sleep = next(s for s in base.steps if s.kind == "sleep")
        steps.append(dataclasses.replace(sleep, args={"duration_s": window_s}))
        sc = dataclasses.replace(base, name="bench-media", topology=str(topology), steps=steps, expect=[])
        run = CostRun(sc, cs.setting, runs_root=runs_root, seed=seed, settle_s=settle_s)
        result = run.execute()
    except (LabError, ScenarioError, OSError, ValueError) as e:
        row["error"] = f"{type(e).__name__}: {e}"
        return row
    row["run_dir"] = str(result.run_dir)
    if result.error or run.cost is None:
        row["error"] = f"{result.error or 'no measurement'} (run dir {result.run_dir})"
        return row
    row.update(run.cost)
    row["events"] = count_events(result.run_dir, *run.cost["window_mono"])
    return row


# What makes a run not idle: this node did not run (the VM's stalls under load, docs/bench.md "Stress"), or
# it declared its peer dead (a false failover: the takeover's work lands in the window).
NOT_IDLE_EVENTS = (DAEMON_STALL, PEER_DEAD)


def count_events(run_dir: Path, since: float, until: float) -> dict[str, dict[str, int]]:
    """Per node, how many of NOT_IDLE_EVENTS its events.jsonl holds within [since, until] (monotonic
    clock, the window's; the teardown after it stops bob first, and bobek then declares it dead)."""
    out: dict[str, dict[str, int]] = {}
    for events in sorted((run_dir / "nodes").glob("*/state/events.jsonl")):
        counts = dict.fromkeys(NOT_IDLE_EVENTS, 0)
        for line in events.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            name, mono = record.get("event"), record.get("mono")
            if name in counts and isinstance(mono, int | float) and since <= mono <= until:
                counts[name] += 1
        out[events.parent.parent.name] = counts
    return out


def describe(row: dict[str, Any]) -> str:
    if row.get("error"):
        return f"FAILED: {row['error'][:300]}"
    nodes = ", ".join(f"{n} {c['cpu_pct']:.2f} %" for n, c in row["nodes"].items())
    return f"CPU per node: {nodes}"


def run_media(
    settings: Sequence[CostSetting],
    repeat: int,
    window_s: float,
    settle_s: float,
    out_dir: Path,
    runs_root: Path,
    say: Callable[[str], None],
) -> list[Path]:
    rows: list[dict[str, Any]] = []
    meta = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "repeat": repeat,
        "window_s": window_s,
        "settle_s": settle_s,
        "cpus": os.cpu_count(),
        "settings": [{"label": s.label, "media": s.media, **dataclasses.asdict(s.setting)} for s in settings],
    }
    total, done = repeat * len(settings), 0
    outputs: list[Path] = []
    for rep in range(repeat):
        for cs in settings:
            row = run_one(cs, window_s, settle_s, runs_root, seed=2000 + rep)
            row["loadavg_1m"] = os.getloadavg()[0]  # the machine's load around the window (shared cores)
            rows.append(row)
            done += 1
            say(f"[{done}/{total}] {cs.label:<24} {describe(row)}")
            outputs = write_outputs(rows, out_dir, meta)  # partial results survive an interruption
    return outputs


def main_media(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hblab bench --suite media", description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs per setting (default 3)")
    p.add_argument("--window-s", type=float, default=30.0, help="CPU window per run (default 30 s)")
    p.add_argument("--settle-s", type=float, default=3.0, help="wait after the VIP is held (default 3 s)")
    p.add_argument("--media", type=int, nargs="+", choices=MEDIA_COUNTS, default=list(MEDIA_COUNTS))
    p.add_argument("--no-keepalived", action="store_true", help="hbd only")
    p.add_argument("--out", type=Path, default=Path("bench/results/media"))
    p.add_argument("--runs-root", type=Path, default=Path("runs/bench"))
    p.add_argument("--resummarize", action="store_true", help="rewrite --out's tables from its bench.json")
    args = p.parse_args(argv)
    if args.resummarize:
        data = json.loads((args.out / "bench.json").read_text())
        for row in data["runs"]:
            if row.get("window_mono") and Path(row["run_dir"]).is_dir():
                row["events"] = count_events(Path(row["run_dir"]), *row["window_mono"])
        print("wrote " + ", ".join(str(o) for o in write_outputs(data["runs"], args.out, data["meta"])))
        return 0
    if args.repeat < 1 or args.window_s <= 0 or args.settle_s < 0:
        p.error("--repeat must be at least 1, --window-s above 0, --settle-s not negative")
    if os.geteuid() != 0:
        print("hblab bench: needs root (network namespaces)", file=sys.stderr)
        return 2
    settings = default_settings(args.media, keepalived=not args.no_keepalived)
    need = missing_packages([s.setting for s in settings], stress=False)
    if need:
        print(
            f"hblab bench: missing packages: {' '.join(need)} (apt-get install -y {' '.join(need)})",
            file=sys.stderr,
        )
        return 1
    outputs = run_media(
        settings,
        args.repeat,
        args.window_s,
        args.settle_s,
        args.out,
        args.runs_root,
        lambda m: print(m, flush=True),
    )
    print("wrote " + ", ".join(str(o) for o in outputs))
    return 0
