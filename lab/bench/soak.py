"""`hblab soak`: availability under stress as the client sees it (issue 15, part 2).

Per setting, one run on the bench topology (bench-two-node): both daemons booted, the client probing the
VIP every 5 ms, then for `--minutes`: 5 % loss on the crossover (nftables, as in the bench's stress run),
both cores saturated by stress-ng (`--timeout`: it stops by itself), and every `--period` a hard power-off
of whichever node holds the VIP then; that node boots again `--reboot` later, as a machine coming back,
so the next power-off hits whoever is active by then. The count of power-offs is fixed (duration /
period): the soak stops by itself.

Roles alternate: hbd runs with `auto_failback off` and keepalived with `nopreempt` (both nodes BACKUP).
With failback every reboot of the home node would move the VIP back, a second client outage per period
that is neither a takeover nor a false alarm, and an admin who counts outage per hour turns it off.

Settings run side by side by default (`--parallel`, the default): one worker process per setting, each
its own lab run (namespaces named by run id), one stress-ng for all, the soak windows aligned on one
shared start, and each setting's power-offs staggered by period / settings so that no two land together.
So every setting lives through the same 10 minutes of the same machine, as the bench's interleaving does,
in 10 minutes instead of 50. `--sequential` runs them one after another, each with its own stress-ng.

Outputs in --out: soak.md, soak.json and soak.png (lab/bench/soak_report.py); figures per run from
lab/bench/soak_metrics.py. `--latency N` instead runs the bench's power-off scenario N times for hbd
10/40 and 20/150 with and without `hbd_stall_aware` (no stress): the rule's cost on takeover latency.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.backends.base import LabError
from lab.bench.run import BenchRun, Setting
from lab.bench.soak_metrics import soak_metrics
from lab.bench.suite import DEFAULT_SETTINGS, bench_scenario, missing_packages, run_one
from lab.history.store import load_run
from lab.runner import RunResult

LOSS = {"fault": "loss", "link": "crossover", "node": "bob", "percent": 5, "direction": "both"}
SETUP_LIMIT_S = 180.0  # parallel workers build and boot (a few seconds each), then the shared start
START_DELAY_S = 2.0  # from the last worker ready to the shared start
OWNER_WAIT_S = 5.0  # a power-off due while the VIP has no single owner waits this long for one


@dataclasses.dataclass(frozen=True)
class Plan:
    """One setting's soak. Times are time.monotonic(), one clock for every process of the host."""

    start_mono: float  # the stressed window starts (loss on); shared by parallel settings
    duration_s: float
    period_s: float
    first_s: float  # the first power-off, after start
    reboot_s: float  # a powered-off node boots again after this
    count: int  # power-offs
    stress: bool  # this run starts its own stress-ng (sequential); parallel: the parent does
    start_file: str | None = None  # parallel: written here when ready; start_mono then read from `.go`


def soak_settings(stall_off: bool = False) -> list[Setting]:
    """hbd 10/40, 20/150, 50/300 and keepalived v3 20 ms / 100 ms, roles alternating (module doc); with
    `stall_off` also each hbd setting with `hbd_stall_aware off`."""
    out: list[Setting] = []
    for s in DEFAULT_SETTINGS:
        if s.kind == "hbd":
            out.append(dataclasses.replace(s, params={**s.params, "auto_failback": "off"}))
        elif s.label in ("keepalived v3 20ms", "keepalived v3 100ms"):
            out.append(dataclasses.replace(s, params={**s.params, "nopreempt": True}))
    if stall_off:
        out += [stall_variant(s, False) for s in out if s.kind == "hbd"]
    return out


def stall_variant(setting: Setting, on: bool) -> Setting:
    label = f"{setting.label} stall_aware {'on' if on else 'off'}"
    return dataclasses.replace(
        setting, label=label, params={**setting.params, "stall_aware": "on" if on else "off"}
    )


class SoakRun(BenchRun):
    """The bench's stress scenario up to its probe, then the soak (Plan) instead of one long sleep."""

    def __init__(
        self, setting: Setting, plan: Plan, *, runs_root: Path, seed: int = 1, progress: Any = None
    ) -> None:
        sc = bench_scenario("stress", setting)
        setup = [s for s in sc.steps if s.kind in ("boot", "wait_for", "probe")]  # no loss, no long sleep
        # Either node may hold the VIP first: keepalived's nopreempt elects whoever's timer ends first.
        single = {"event": "vip.single", "within_s": 60.0}
        setup = [dataclasses.replace(s, args=single) if s.kind == "wait_for" else s for s in setup]
        sc = dataclasses.replace(sc, name="bench-soak", steps=setup, expect=[])
        super().__init__(sc, setting, runs_root=runs_root, seed=seed, progress=progress)
        self.plan = plan

    def after_steps(self) -> None:
        self.soak()

    def _check(self, result: RunResult) -> None:
        """No per-run checks or report: the soak's own summary (soak_metrics, soak_report) reads the run."""

    def soak(self) -> None:
        p = self._synchronised(self.plan)
        _sleep_until(p.start_mono)
        start = time.monotonic()
        self.log.mark("soak.start", **dataclasses.asdict(p), late_s=round(start - p.start_mono, 3))
        if p.stress:
            self._start_stress(p.duration_s)
        self._do_inject(dict(LOSS))
        for k in range(p.count):
            _sleep_until(p.start_mono + p.first_s + k * p.period_s)
            victim = self._single_owner()
            if victim is None:
                self.log.mark("soak.skip", index=k, cause="no single VIP owner")
                continue
            self.progress(f"power-off {k + 1}/{p.count}: {victim}")
            self._do_inject({"fault": "power_off", "node": victim})
            time.sleep(p.reboot_s)
            self._do_heal({"fault": "power_off", "node": victim})  # boots it again
        _sleep_until(p.start_mono + p.duration_s)
        self._do_heal({"fault": "loss"})
        self.log.mark("soak.end")

    def _synchronised(self, p: Plan) -> Plan:
        """Parallel: say we are set up (START_FILE), wait for the shared start (START_FILE.go). Alone
        with no start (start_mono 0): start once set up."""
        if p.start_file is None:
            if p.start_mono <= 0:
                self.plan = dataclasses.replace(p, start_mono=time.monotonic() + 1.0)
            return self.plan
        ready, go = Path(p.start_file), Path(p.start_file + ".go")
        ready.write_text(f"{time.monotonic()}\n")
        deadline = time.monotonic() + SETUP_LIMIT_S + 60
        while not go.exists():
            if time.monotonic() > deadline:
                raise LabError(f"no shared start in {go}")
            time.sleep(0.05)
        self.plan = dataclasses.replace(p, start_mono=float(go.read_text()))
        return self.plan

    def _single_owner(self) -> str | None:
        deadline = time.monotonic() + OWNER_WAIT_S
        while True:
            owners = _last_owners(self.run_dir / "owners.jsonl")
            if len(owners) == 1:
                return owners[0]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


def _sleep_until(mono: float) -> None:
    delay = mono - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _last_owners(path: Path) -> list[str]:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 4096))
        lines = f.read().splitlines()
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            return [str(o) for o in json.loads(line).get("owners") or []]
    return []


def soak_window(run_dir: Path) -> tuple[float, float] | None:
    """[soak.start, soak.end] of a recorded soak run, from its lab.jsonl."""
    marks: dict[str, float] = {}
    with open(run_dir / "lab.jsonl") as f:
        for line in f:
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if rec.get("event") in ("soak.start", "soak.end"):
                    marks[rec["event"]] = float(rec["mono"])
    if "soak.start" in marks and "soak.end" in marks:
        return marks["soak.start"], marks["soak.end"]
    return None


def run_soak_one(setting: Setting, plan: Plan, runs_root: Path, say: Any = None) -> dict[str, Any]:
    """One setting's soak and its figures: a row of soak.json."""
    row: dict[str, Any] = {"label": setting.label, "kind": setting.kind, "params": setting.params}
    try:
        run = SoakRun(setting, plan, runs_root=runs_root, progress=say)
        result = run.execute()
    except (LabError, OSError, ValueError) as e:
        row["error"] = f"{type(e).__name__}: {e}"
        return row
    row["run_dir"] = str(result.run_dir)
    if result.error:
        row["error"] = result.error
        return row
    return {**row, **metrics_of(result.run_dir)}


def metrics_of(run_dir: Path) -> dict[str, Any]:
    window = soak_window(run_dir)
    if window is None:
        return {"error": f"{run_dir}: no soak.start/soak.end in lab.jsonl"}
    stalls = 0
    for events in run_dir.glob("nodes/*/events.jsonl"):
        stalls += events.read_text(errors="replace").count('"daemon.stall"')
    return {**soak_metrics(load_run(run_dir), *window), "stalls": stalls}


# ---------------------------------------------------------------------------------------- orchestration


def plans(
    settings: Sequence[Setting],
    duration_s: float,
    period_s: float,
    reboot_s: float,
    parallel: bool,
    start: float,
) -> list[Plan]:
    """Parallel: one shared start, power-offs staggered by period / settings. Sequential: one each."""
    count = max(1, int(duration_s // period_s))
    stagger = period_s / max(1, len(settings))
    out = []
    for i in range(len(settings)):
        first = (stagger * (i + 0.5)) if parallel else period_s / 2
        out.append(Plan(start, duration_s, period_s, first, reboot_s, count, stress=False))
    return out


def start_stress(duration_s: float, log_path: Path) -> subprocess.Popen[bytes]:
    if shutil.which("stress-ng") is None:
        raise LabError("stress-ng is not installed (apt-get install -y stress-ng)")
    cpus = os.cpu_count() or 2
    argv = ["stress-ng", "--cpu", str(cpus), "--timeout", f"{int(duration_s) + 1}s", "--quiet"]
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def run_parallel(settings: Sequence[Setting], args: argparse.Namespace, say: Any) -> list[dict[str, Any]]:
    """One worker process per setting (`python -m lab.bench.soak --worker`), one stress-ng for all."""
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.runs_root / "workers"  # specs, logs and rows of the workers: beside their runs
    work.mkdir(parents=True, exist_ok=True)
    duration = args.minutes * 60
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    stress: subprocess.Popen[bytes] | None = None
    try:
        for i, (setting, plan) in enumerate(
            zip(settings, plans(settings, duration, args.period, args.reboot, True, 0.0), strict=True)
        ):
            ready = work / f"{i}.ready"
            for stale in (ready, Path(f"{ready}.go")):
                stale.unlink(missing_ok=True)
            plan = dataclasses.replace(plan, start_file=str(ready))
            spec = {"setting": dataclasses.asdict(setting), "plan": dataclasses.asdict(plan)}
            spec_path, out_path = work / f"{i}.json", work / f"{i}.row.json"
            out_path.unlink(missing_ok=True)
            spec_path.write_text(json.dumps({**spec, "runs_root": str(args.runs_root), "out": str(out_path)}))
            argv = [sys.executable, "-m", "lab.bench.soak", "--worker", str(spec_path)]
            with open(work / f"{i}.log", "wb") as log:
                procs.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT), out_path))
            say(f"worker {i}: {setting.label}, first power-off at +{plan.first_s:.1f} s")
        start = _all_ready(procs, work, say)
        say(f"soak starts in {start - time.monotonic():.1f} s, {args.minutes:g} min")
        _sleep_until(start)
        if args.stress:
            stress = start_stress(duration, work / "stress-ng.log")
        for proc, _ in procs:
            proc.wait()
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # the worker's run tears its lab down
        for proc, _ in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
        if stress is not None and stress.poll() is None:
            stress.kill()
            stress.wait()
    rows = []
    for (proc, out_path), setting in zip(procs, settings, strict=True):
        if out_path.exists():
            rows.append(json.loads(out_path.read_text()))
        else:
            rows.append(
                {"label": setting.label, "kind": setting.kind, "error": f"worker exit {proc.returncode}"}
            )
    return rows


def _all_ready(procs: Sequence[tuple[subprocess.Popen[bytes], Path]], work: Path, say: Any) -> float:
    """Wait until every live worker is set up (its .ready file), then give them all one start."""
    deadline = time.monotonic() + SETUP_LIMIT_S
    readies = [work / f"{i}.ready" for i in range(len(procs))]
    while not all(r.exists() or p.poll() is not None for r, (p, _) in zip(readies, procs, strict=True)):
        if time.monotonic() > deadline:
            say(f"WARNING: not every worker was set up within {SETUP_LIMIT_S:g} s; starting the others")
            break
        time.sleep(0.1)
    start = time.monotonic() + START_DELAY_S
    for r in readies:
        Path(f"{r}.go").write_text(f"{start}\n")
    return start


def run_sequential(settings: Sequence[Setting], args: argparse.Namespace, say: Any) -> list[dict[str, Any]]:
    rows = []
    duration = args.minutes * 60
    for setting in settings:
        plan = plans([setting], duration, args.period, args.reboot, False, 0.0)[0]
        plan = dataclasses.replace(plan, stress=args.stress)  # start_mono 0: once set up
        say(f"soak: {setting.label}, {args.minutes:g} min")
        rows.append(run_soak_one(setting, plan, args.runs_root, say=None))
    return rows


def worker(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    setting = Setting(**spec["setting"])
    plan = Plan(**spec["plan"])
    row = run_soak_one(setting, plan, Path(spec["runs_root"]), say=lambda m: print(m, flush=True))
    Path(spec["out"]).write_text(json.dumps(row, indent=1) + "\n")
    return 0 if not row.get("error") else 1


def latency(args: argparse.Namespace, say: Any) -> list[dict[str, Any]]:
    """Power-off takeover with and without hbd_stall_aware, interleaved, no stress (the bench's runs)."""
    base = [s for s in DEFAULT_SETTINGS if s.label in ("hbd 10/40ms", "hbd 20/150ms")]
    settings = [stall_variant(s, on) for s in base for on in (True, False)]
    rows = []
    for rep in range(args.latency):
        for setting in settings:
            row = run_one("power-off", setting, args.runs_root, seed=2000 + rep)
            m = row.get("metrics") or {}
            say(f"{setting.label:<32} takeover {m.get('takeover_s')} {row.get('error') or ''}")
            rows.append(row)
    return rows


def resummarize(out: Path) -> list[Path]:
    """Recompute every row of out/soak.json from its recorded run (a changed metric, no new soak)."""
    from lab.bench.soak_report import write_soak

    data = json.loads((out / "soak.json").read_text())
    rows = []
    for row in data["rows"]:
        if row.get("run_dir") and not row.get("error"):
            keep = {k: row[k] for k in ("label", "kind", "params", "run_dir")}
            row = {**keep, **metrics_of(Path(row["run_dir"]))}
        rows.append(row)
    return write_soak(rows, out, data["meta"])


def main_soak(argv: Sequence[str] | None = None) -> int:
    from lab.bench.soak_report import write_latency, write_soak

    p = argparse.ArgumentParser(prog="hblab soak", description=__doc__.split("\n")[0])
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--minutes", type=float, default=10.0, help="stressed window per setting (default 10)")
    p.add_argument("--period", type=float, default=60.0, help="seconds between power-offs (default 60)")
    p.add_argument("--reboot", type=float, default=10.0, help="a powered-off node boots after (default 10 s)")
    p.add_argument("--only", action="append", default=[], help="settings whose label contains this")
    p.add_argument("--stall-aware-off", action="store_true", help="also each hbd setting with the rule off")
    p.add_argument("--no-stress", dest="stress", action="store_false", help="no stress-ng (tests)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--sequential", action="store_true", help="one setting after another")
    order.add_argument("--latency", type=int, default=0, metavar="N", help="power-off runs, rule on/off")
    p.add_argument("--out", type=Path, default=Path("bench/results/soak"))
    p.add_argument("--runs-root", type=Path, default=Path("runs/soak"))
    p.add_argument("--resummarize", action="store_true", help="recompute --out from its recorded runs")
    p.add_argument("--combine", nargs="+", type=Path, metavar="DIR", help="sum soak windows into --out")
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.resummarize:
        _say("wrote " + ", ".join(str(o) for o in resummarize(args.out)))
        return 0
    if args.combine:
        from lab.bench.soak_report import combine

        data = [json.loads((d / "soak.json").read_text()) for d in args.combine]
        meta = {**data[0]["meta"], "argv": ["hblab", "soak", *(argv if argv is not None else sys.argv[1:])]}
        meta["minutes"] = sum(d["meta"]["minutes"] for d in data)
        meta["mode"] = f"{len(data)} windows summed: " + ", ".join(d["meta"]["started"] for d in data)
        written = write_soak(combine([d["rows"] for d in data]), args.out, meta)
        _say("wrote " + ", ".join(str(o) for o in written))
        return 0
    if os.geteuid() != 0:
        print("hblab soak: needs root (network namespaces)", file=sys.stderr)
        return 2
    if args.minutes <= 0 or args.period <= 0 or args.reboot <= 0 or args.reboot >= args.period:
        p.error("--minutes, --period and --reboot must be positive, --reboot under --period")
    say = _say
    try:
        if args.latency:
            rows = latency(args, say)
            say("wrote " + str(write_latency(rows, args.out)))
            return 0
        settings = [
            s
            for s in soak_settings(args.stall_aware_off)
            if not args.only or any(o in s.label for o in args.only)
        ]
        if not settings:
            raise LabError(f"--only {' '.join(args.only)} matches no soak setting")
        need = missing_packages(settings, stress=args.stress)
        if need:
            raise LabError(f"missing packages: {' '.join(need)} (apt-get install -y {' '.join(need)})")
        meta = {
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "minutes": args.minutes,
            "period_s": args.period,
            "reboot_s": args.reboot,
            "stress": args.stress,
            "mode": "sequential" if args.sequential else "parallel",
            "cpus": os.cpu_count(),
            "argv": ["hblab", "soak", *(argv if argv is not None else sys.argv[1:])],
        }
        rows = (run_sequential if args.sequential else run_parallel)(settings, args, say)
        outputs = write_soak(rows, args.out, meta)
    except LabError as e:
        print(f"hblab soak: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hblab soak: interrupted", file=sys.stderr)
        return 130
    say("wrote " + ", ".join(str(o) for o in outputs))
    return 0 if all(not r.get("error") for r in rows) else 1


def _say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main_soak())
