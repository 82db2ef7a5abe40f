"""hblab: build lab topologies, run scenarios and experiments, clean up.

hblab doctor                         what this machine offers (root, iproute2, nft, netem...) and how to fix
hblab up TOPOLOGY [--run ID] [--boot]  build a topology and leave it running
hblab exec [--run ID] NODE -- CMD    run a command inside a node
hblab down [--run ID]                remove a topology made by `up`
hblab clean [--all]                  remove what crashed runs left behind (only the lab's own things)
hblab run SCENARIO... [--repeat N] [--seed S] [--backend netns]   exit 1 if a check fails
hblab experiment NAME [--repeat N] [--record]   every scenario of experiments/NAME, N times, with a summary
hblab report RUN_DIR                 re-check a recorded run and rewrite its report
hblab pcap RUN_DIR [--json]          the run's captured heartbeats (verdict with its authkeys) and VIP ARP
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lab.backends import BACKEND_NAMES
from lab.backends.base import Backend, LabError
from lab.spec.names import check_run_id, new_run_id

UP_DAEMON_DEFAULTS = {"keepalive": "50ms", "deadtime": "300ms", "warntime": "150ms", "initdead": "2s"}


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("this command needs root (network namespaces): run it with sudo")


# -- doctor -------------------------------------------------------------------------------------------


def cmd_doctor(_args: argparse.Namespace) -> int:
    from lab.backends.host import probe_kernel_features

    checks: list[tuple[str, bool, str]] = []
    checks.append(("root", os.geteuid() == 0, "run hblab as root (sudo): namespaces and links need it"))
    for tool, package in (
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("tc", "iproute2"),
        ("setsid", "util-linux"),
    ):
        checks.append((f"{tool} command", shutil.which(tool) is not None, f"apt-get install {package}"))
    checks.append(("socat (optional)", shutil.which("socat") is not None, "apt-get install socat"))
    for module in ("yaml", "pyroute2", "serial", "matplotlib", "scapy", "netfilterqueue"):
        ok = importlib.util.find_spec(module) is not None
        checks.append((f"python module {module}", ok, f"{sys.executable} -m pip install -e '.[lab]'"))
    features = probe_kernel_features() if os.geteuid() == 0 and shutil.which("ip") else {}
    hints = {
        "veth": "kernel needs CONFIG_VETH",
        "bridge": "kernel needs CONFIG_BRIDGE",
        "nft": "kernel needs nf_tables (link_cut how=drop, loss)",
        "nft_numgen": "kernel needs nft numgen (loss fault)",
        "tbf": "kernel needs sch_tbf (rate limits; optional)",
        "netem": "no sch_netem: the delay fault uses the NFQUEUE relay (netns backend)",
        "nfqueue": "no iptables NFQUEUE target: without netem too, the delay fault is refused",
    }
    for name, hint in hints.items():
        if features:
            checks.append((f"kernel: {name}", features.get(name, False), hint))
    width = max(len(c[0]) for c in checks)
    bad = 0
    for name, ok, hint in checks:
        optional = name in (
            "kernel: netem",
            "kernel: tbf",
            "kernel: nfqueue",
            "socat (optional)",
            "python module matplotlib",
            "python module scapy",
            "python module netfilterqueue",
        )
        mark = "ok  " if ok else ("warn" if optional else "FAIL")
        bad += 0 if ok or optional else 1
        print(f"{mark}  {name:<{width}}  {'' if ok else hint}")
    print("all required checks passed" if not bad else f"{bad} required check(s) failed")
    return 0 if not bad else 1


# -- up / down / exec / clean -------------------------------------------------------------------------


def _runs_on_host() -> list[str]:
    from lab.backends.host import RUN_STATE_ROOT

    if not RUN_STATE_ROOT.is_dir():
        return []
    return sorted(p.name for p in RUN_STATE_ROOT.iterdir() if (p / "lab.json").exists())


def _pick_run(run: str | None) -> str:
    if run:
        return check_run_id(run)
    runs = _runs_on_host()
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise LabError("no lab is up (hblab up TOPOLOGY)")
    raise LabError(f"several labs are up ({', '.join(runs)}): say which with --run ID")


def _backend_of(run_id: str) -> Backend:
    from lab.backends import make_backend
    from lab.backends.host import run_state_dir
    from lab.spec.topology import load_topology

    meta = json.loads((run_state_dir(run_id) / "lab.json").read_text())
    topology = load_topology(meta["topology"])
    return make_backend(meta.get("backend", "netns"), topology, run_id, Path(meta["lab_dir"]))


def cmd_up(args: argparse.Namespace) -> int:
    from lab.backends.host import run_state_dir
    from lab.backends.netns import NetnsBackend, mark_owner
    from lab.render import ClusterSecret, render_node
    from lab.runner import DaemonSet, RecordLog
    from lab.spec.topology import load_topology

    _require_root()
    topology = load_topology(args.topology)
    run_id = check_run_id(args.run) if args.run else new_run_id()
    if run_state_dir(run_id).exists():
        raise LabError(f"run {run_id} already exists (hblab down --run {run_id})")
    lab_dir = run_state_dir(run_id) / "lab"
    backend = NetnsBackend(topology, run_id, lab_dir)
    backend.create()
    mark_owner(run_id, persistent=True)
    try:
        secret = ClusterSecret.fresh()
        for spec in topology.servers:
            if spec.daemon == "hbd":
                serial = {
                    d: backend.serial_device(spec.name, d)
                    for line in topology.serial_lines
                    if (d := line.device_of(spec.name)) is not None
                }
                render_node(
                    topology, spec.name, UP_DAEMON_DEFAULTS, backend.node_dirs(spec.name), secret, serial
                )
        if args.boot:
            log = RecordLog(lab_dir / "lab.jsonl")
            DaemonSet(backend, topology, log).boot([s.name for s in topology.servers if s.daemon != "none"])
            log.close()
    except Exception:
        backend.destroy()
        raise
    print(f"lab {run_id} is up: topology {topology.name}, files in {lab_dir}")
    for node in topology.nodes:
        addrs = ", ".join(f"{e.iface} {e.ip}" for _s, e in topology.endpoints_of(node.name))
        print(f"  {node.name:<8} netns {backend.netns(node.name):<16} {addrs}")
    for g in topology.groups:
        ports = ", ".join(str(x.port) for x in g.services)
        print(f"  group {g.name}: home {g.home}, VIP {g.vip}, ports {ports}")
    print(f"try: hblab exec --run {run_id} {topology.node_names[0]} -- ip addr")
    print(f"remove: hblab down --run {run_id}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    _require_root()
    run_id = _pick_run(args.run)
    backend = _backend_of(run_id)
    backend.destroy()
    print(f"lab {run_id} removed")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    _require_root()
    run_id = _pick_run(args.run)
    backend = _backend_of(run_id)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise LabError("exec needs a command: hblab exec NODE -- CMD [ARGS...]")
    return subprocess.call(backend.exec_argv(args.node, command, tty=sys.stdin.isatty()))


def cmd_clean(args: argparse.Namespace) -> int:
    from lab.backends.netns import clean_leftovers

    _require_root()
    from lab.backends.docker.backend import clean_docker

    removed = clean_leftovers(include_live=args.all)
    removed += clean_docker(include_live=args.all)
    for item in removed:
        print(f"removed {item}")
    print("nothing to clean" if not removed else f"{len(removed)} item(s) removed")
    return 0


# -- run / experiment / report ------------------------------------------------------------------------


class Progress:
    """One line per step, with the time since the run started."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"{time.monotonic() - self.start:7.2f}s {self.prefix}{message}", flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from lab.runner import run_scenario
    from lab.spec.scenario import load_scenario

    _require_root()
    scenarios = [load_scenario(s, args.set or ()) for s in args.scenarios]
    failed = 0
    total = len(scenarios) * args.repeat
    n = 0
    for scenario in scenarios:
        for i in range(args.repeat):
            n += 1
            seed = args.seed + i if args.seed is not None else None
            progress = Progress(f"[{n}/{total} {scenario.name}] ")
            result = run_scenario(
                scenario,
                backend_name=args.backend,
                seed=seed,
                runs_root=Path(args.runs_dir),
                progress=progress,
                verbose_daemon=args.verbose,
                capture=False if args.no_capture else None,
            )
            for r in result.results:
                value = getattr(r, "value", None)
                detail = getattr(r, "detail", "")
                status = "ok  " if r.ok else "FAIL"
                print(f"    {status} {r.name:<20} {'' if value is None else value} {detail}")
            verdict = "PASS" if result.ok else "FAIL"
            print(
                f"{verdict} {scenario.name} seed {result.seed}: {result.run_dir}"
                + (f"  ({result.error})" if result.error else "")
            )
            failed += 0 if result.ok else 1
    if total > 1:
        print(f"{total - failed}/{total} runs passed")
    return 0 if not failed else 1


def cmd_experiment(args: argparse.Namespace) -> int:
    from lab.analysis.experiment import experiment_out_dir, load_experiment, run_experiment
    from lab.runner import experiment_runner

    _require_root()
    step = Progress()

    def progress(name: str, i: int, count: int) -> None:
        step(f"{name} run {i}/{count}")

    # A plain run must leave a clone clean: its summary goes under runs/; the committed results change
    # only with --record.
    out_dir = None if args.record else experiment_out_dir(Path(args.runs_dir), args.name)
    summary = run_experiment(
        args.name,
        repeat=args.repeat,
        runner=experiment_runner(
            args.backend, Path(args.runs_dir), progress=None if not args.verbose else step
        ),
        progress=progress,
        out_dir=out_dir,
    )
    print(f"summary written to {out_dir or load_experiment(args.name).results_dir}")
    bad = [s for s in getattr(summary, "scenarios", []) if getattr(s, "failures", None)]
    return 1 if bad else 0


def cmd_report(args: argparse.Namespace) -> int:
    from lab.analysis.report import write_run_report
    from lab.checks import run_checks
    from lab.history.store import load_run
    from lab.spec.scenario import load_scenario

    run_dir = Path(args.run_dir)
    meta_path = run_dir / "lab-run.json"
    if not meta_path.exists():
        raise LabError(f"{run_dir} is not a run directory (no lab-run.json)")
    meta = json.loads(meta_path.read_text())
    scenario = load_scenario(meta.get("scenario_path") or meta["scenario"])
    results = run_checks(load_run(run_dir), scenario.expect)
    write_run_report(run_dir, scenario, results)
    for r in results:
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.name}")
    return 0 if all(r.ok for r in results) else 1


# -- main -----------------------------------------------------------------------------------------------


def cmd_pcap(args: argparse.Namespace) -> int:
    from lab.analysis.pcap import HEADER, PcapError, format_record, packet_records

    try:
        records = packet_records(Path(args.run_dir))
    except PcapError as e:
        raise LabError(str(e)) from e
    if args.link:
        records = [r for r in records if r["link"] in args.link]
    if not args.json:
        print(HEADER)
    for rec in records:
        print(json.dumps(rec) if args.json else format_record(rec))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """A topology from a user's own ha.d (lab/spec/importer.py); what it cannot map goes to stderr."""
    from lab.spec.importer import HaDImportError, import_ha_d

    out = Path(args.out) if args.out else None
    try:
        imported = import_ha_d(Path(args.ha_d), out)
    except HaDImportError as e:
        print(f"hblab import: {e}", file=sys.stderr)
        return 1
    for note in imported.notes:
        print(f"hblab import: not mapped: {note}", file=sys.stderr)
    if out is None:
        sys.stdout.write(imported.yaml_text)
    else:
        out.write_text(imported.yaml_text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_incident(args: argparse.Namespace) -> int:
    """A draft scenario replaying a field incident from its events.jsonl files (lab/analysis/incident.py)."""
    from lab.analysis.incident import IncidentError, draft_scenario

    bad = [kv for kv in args.daemon or () if "=" not in kv]
    if bad:
        print(f"hblab incident: --daemon wants KEY=VALUE, got {bad[0]!r}", file=sys.stderr)
        return 2
    daemon = dict(kv.split("=", 1) for kv in args.daemon or ())
    out = Path(args.out) if args.out else None
    name = args.name or (out.stem if out is not None else "incident")
    try:
        text = draft_scenario([Path(p) for p in args.events], name, args.topology, daemon or None)
    except IncidentError as e:
        print(f"hblab incident: {e}", file=sys.stderr)
        return 1
    for line in text.splitlines():
        if line.startswith("# TODO: "):
            print(f"hblab incident: {line[2:]}", file=sys.stderr)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hblab", description="the hbd lab: topologies, faults, scenarios")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check what this machine offers").set_defaults(func=cmd_doctor)
    from lab.backends.docker.image import add_arguments as add_image_arguments
    from lab.backends.docker.image import main_image

    img = sub.add_parser("image", help="build or list the Docker node images (cached by content hash)")
    add_image_arguments(img)
    img.set_defaults(func=main_image)
    up = sub.add_parser("up", help="build a topology and leave it running")
    up.add_argument("topology", help="topology name (lab/topologies) or YAML path")
    up.add_argument("--run", help="run id (default: random)")
    up.add_argument("--boot", action="store_true", help="also start the daemons")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="remove a topology made by up")
    down.add_argument("--run", help="run id (default: the only lab up)")
    down.set_defaults(func=cmd_down)
    ex = sub.add_parser("exec", help="run a command inside a node: hblab exec NODE -- CMD")
    ex.add_argument("--run", help="run id (default: the only lab up)")
    ex.add_argument("node")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.set_defaults(func=cmd_exec)
    clean = sub.add_parser("clean", help="remove leftovers of crashed runs")
    clean.add_argument("--all", action="store_true", help="also labs made by up and runs still in progress")
    clean.set_defaults(func=cmd_clean)
    run = sub.add_parser("run", help="run scenarios; exit 1 if a check fails")
    run.add_argument("scenarios", nargs="+", help="scenario names (lab/scenarios) or YAML paths")
    run.add_argument("--backend", default="netns", choices=BACKEND_NAMES)
    run.add_argument("--repeat", type=int, default=1)
    run.add_argument("--seed", type=int, help="seed of the first run (then seed+1, ...)")
    run.add_argument("--set", action="append", help="override a scenario value: daemon.deadtime=500ms")
    run.add_argument("--runs-dir", default="runs")
    run.add_argument("-v", "--verbose", action="store_true", help="daemons log DEBUG too")
    run.add_argument("--no-capture", action="store_true", help="do not record the segments to pcap")
    run.set_defaults(func=cmd_run)
    pcap = sub.add_parser("pcap", help="print a run's captured heartbeats and VIP ARP packets")
    pcap.add_argument("run_dir")
    pcap.add_argument("--json", action="store_true", help="one JSON record per line")
    pcap.add_argument("--link", action="append", help="only this segment; repeat")
    pcap.set_defaults(func=cmd_pcap)
    exp = sub.add_parser("experiment", help="run an experiment (experiments/NAME)")
    exp.add_argument("name")
    exp.add_argument("--repeat", type=int)
    exp.add_argument("--backend", default="netns", choices=BACKEND_NAMES)
    exp.add_argument("--runs-dir", default="runs")
    exp.add_argument("-v", "--verbose", action="store_true", help="show every step of every run")
    exp.add_argument(
        "--record",
        action="store_true",
        help="write the summary into experiments/NAME/results (the committed results) instead of runs/",
    )
    exp.set_defaults(func=cmd_experiment)
    # Listed for --help only: main() hands `bench ...` to lab/bench/suite.py's own parser before parsing.
    sub.add_parser("bench", help="hbd against keepalived, heartbeat 3.0.6, ucarp (hblab bench -h)")
    sub.add_parser("soak", help="client outage per hour: power-offs under stress (hblab soak -h)")
    rep = sub.add_parser("report", help="re-check a recorded run and rewrite its report")
    rep.add_argument("run_dir")
    rep.set_defaults(func=cmd_report)
    imp = sub.add_parser("import", help="write a topology from a heartbeat directory (ha.cf, haresources)")
    imp.add_argument("ha_d", help="the directory, e.g. /etc/ha.d")
    imp.add_argument("--out", help="the topology file to write (default: stdout)")
    imp.set_defaults(func=cmd_import)
    inc = sub.add_parser("incident", help="draft a scenario replaying a field incident's events.jsonl files")
    inc.add_argument("events", nargs="+", help="each production node's events.jsonl")
    inc.add_argument("--out", help="the scenario file to write (default: stdout)")
    inc.add_argument("--topology", help="the topology to replay it on (e.g. what `hblab import` wrote)")
    inc.add_argument("--daemon", action="append", metavar="KEY=VALUE", help="a daemon: setting (repeatable)")
    inc.add_argument("--name", help="the scenario's name (default: the --out file's stem)")
    inc.set_defaults(func=cmd_incident)
    return p


def _bench(argv: list[str]) -> int:
    """`hblab bench [--suite failover|scale|media] ...`: each suite parses its own options. The choice is
    made here, above the suites: scale and media build on the failover suite (lab/bench/suite.py)."""
    if argv[:2] == ["--suite", "scale"]:
        from lab.bench.scale import main_scale

        return main_scale(argv[2:])
    suite = argparse.ArgumentParser(add_help=False)
    suite.add_argument("--suite", default="failover")
    known, rest = suite.parse_known_args(argv)
    if known.suite == "media":
        from lab.bench.cost import main_media

        return main_media(rest)
    from lab.bench.suite import main_bench

    # Any other name goes to the failover suite's parser, which refuses it by name.
    return main_bench(rest if known.suite == "failover" else ["--suite", known.suite, *rest])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    if argv[:1] == ["soak"]:
        from lab.bench.soak import main_soak

        return main_soak(argv[1:])
    args = _parser().parse_args(argv)
    if getattr(args, "repeat", 1) is not None and getattr(args, "repeat", 1) < 1:
        print("hblab: --repeat must be at least 1", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("hblab: interrupted (the lab was torn down)", file=sys.stderr)
        return 130
    except Exception as e:
        from lab.spec.scenario import ScenarioError
        from lab.spec.topology import TopologyError

        if isinstance(e, (LabError, ScenarioError, TopologyError, FileNotFoundError)):
            print(f"hblab: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
