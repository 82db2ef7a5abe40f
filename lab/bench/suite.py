"""`hblab bench` / `make bench`: hbd against keepalived, heartbeat 3.0.6 and ucarp, in one invocation.

Every setting (a daemon at one timing) runs the same bench scenarios (lab/bench/scenarios/bench-*.yaml) on the
same netns topology (lab/topologies/bench-two-node.yaml), `--repeat` times each, interleaved (repeat ->
scenario -> setting) so that a noisy machine slows every daemon alike and the ratios hold. Then one
steady-state stress run per setting: both cores saturated by stress-ng and 5 % loss on the crossover for
`--stress-minutes`. Outputs (bench.md, bench.json, bench.png) go to --out; each run keeps its directory
under --runs-root. Missing peer packages are installed with apt first (unless --no-install).
With `--backend docker` every node is a container from the setting's image variant (lab/images/
variants.yaml: hbl-hbd, hbl-keepalived, hbl-heartbeat, hbl-ucarp), each image built or found once at the
start and used for the whole bench; nothing but stress-ng (for the stress runs) is needed on the host.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lab.backends import BACKEND_NAMES, capabilities_of
from lab.backends.base import LabError
from lab.bench.metrics import run_metrics
from lab.bench.report import write_outputs
from lab.bench.run import DRIVERS, BenchRun, Setting
from lab.history.store import load_run
from lab.paths import BENCH_SCENARIO_DIR
from lab.spec.scenario import Scenario, ScenarioError, load_scenario

SCENARIOS = ("power-off", "soft-stop", "link-cut", "boot-together", "steady")
STRESS_SCENARIO = "stress"
EXTRA_PACKAGES = ("stress-ng",)


def _hbd(keepalive_ms: int, deadtime_ms: int, warntime_ms: int, initdead: str) -> dict[str, Any]:
    return {
        "keepalive": f"{keepalive_ms}ms",
        "deadtime": f"{deadtime_ms}ms",
        "warntime": f"{warntime_ms}ms",
        "initdead": initdead,
        "auto_failback": "on",
        "realtime": "on",
    }


DEFAULT_SETTINGS: tuple[Setting, ...] = (
    Setting("hbd 10/40ms", "hbd", _hbd(10, 40, 20, "1s"), 0.01),
    # The deadtime that stays above this VM's own stalls of a realtime process (up to ~100 ms, docs/bench.md).
    Setting("hbd 20/150ms", "hbd", _hbd(20, 150, 60, "1s"), 0.02),
    Setting("hbd 50/300ms", "hbd", _hbd(50, 300, 150, "2s"), 0.05),
    Setting("keepalived v3 20ms", "keepalived", {"advert": 0.02, "rt_priority": 50}, 0.02),
    Setting("keepalived v3 100ms", "keepalived", {"advert": 0.1, "rt_priority": 50}, 0.1),
    Setting("keepalived v2 1s", "keepalived", {"advert": 1, "version": 2}, 1.0),
    Setting("heartbeat 1s/3s", "heartbeat", {"keepalive": "1s", "deadtime": "3s", "warntime": "2s"}, 1.0),
    Setting("heartbeat 200ms/1s", "heartbeat", {"keepalive": "200ms", "deadtime": "1s"}, 0.2),
    Setting("ucarp 1s", "ucarp", {"advbase": 1}, 1.0),
)


def missing_packages(settings: Sequence[Setting], backend: str = "netns", stress: bool = True) -> list[str]:
    """Debian packages the chosen settings need on the host that are not installed (judged by their
    executables). With node images (Docker) the daemons come with them: only stress-ng runs on the host."""
    need: list[str] = []
    kinds = {s.kind for s in settings} - {"hbd"} if not capabilities_of(backend).node_images else set()
    for kind in sorted(kinds):
        driver = DRIVERS[kind]
        if shutil.which(driver.binary) is None and not Path(driver.binary).exists():
            need += list(driver.packages)
        elif kind == "ucarp" and shutil.which("arping") is None:
            need.append("iputils-arping")
    if stress and shutil.which("stress-ng") is None:
        need += list(EXTRA_PACKAGES)
    return need


def _image(kind: str, say: Any) -> str:
    from lab.backends.docker.image import ImageError, ensure_image

    try:
        return ensure_image(kind, progress=say)
    except ImageError as e:
        raise LabError(f"image for {kind}: {e}") from e


def node_images(settings: Sequence[Setting], say: Any) -> dict[str, str]:
    """Docker: the image tag of each daemon, built or found once, so every run of a daemon uses the same
    code even while hbd/ or lab/ are edited during the bench (an edit changes the tag,
    see lab/backends/docker/image.py)."""
    return {kind: _image(kind, say) for kind in dict.fromkeys(s.kind for s in settings)}


def still_there(images: dict[str, str], say: Any) -> dict[str, str]:
    """A pinned image removed meanwhile (a build of a newer one drops older tags): build it again."""
    from lab.backends.docker.image import image_exists

    for kind, tag in list(images.items()):
        if not image_exists(tag):
            images[kind] = _image(kind, say)
            say(f"WARNING: image {tag} was removed; {kind} runs from {images[kind]} from now on")
    return images


def install(packages: Sequence[str], say: Any) -> None:
    say(f"installing with apt: {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        res = subprocess.run(argv, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed: {res.stderr.strip()[-500:]}")


def bench_scenario(name: str, setting: Setting, stress_s: float | None = None) -> Scenario:
    """The bench scenario with the setting's daemon directives (hbd) and, for stress, the long sleep."""
    sc = load_scenario(BENCH_SCENARIO_DIR / f"bench-{name}.yaml")
    daemon = dict(setting.params) if setting.kind == "hbd" else sc.daemon
    steps = list(sc.steps)
    if stress_s is not None:
        for i, step in enumerate(steps[:-1]):
            if step.kind == "inject" and step.args.get("fault") == "loss" and steps[i + 1].kind == "sleep":
                steps[i + 1] = dataclasses.replace(steps[i + 1], args={"duration_s": stress_s})
                break
        else:
            raise LabError(f"{sc.path}: no sleep after the loss inject to stretch to the stress duration")
    return dataclasses.replace(sc, daemon=daemon, steps=steps)


def late_warnings(run_dir: Path, setting: Setting, metrics: dict[str, Any]) -> int | None:
    """Late-heartbeat warnings: hbd's peer.warn events, heartbeat's 'Late heartbeat' log lines."""
    if setting.kind == "hbd":
        return int(metrics.get("late_warnings") or 0)
    if setting.kind == "heartbeat":
        count = 0
        for log in (run_dir / "nodes").glob("*/peer/ha-log"):
            count += log.read_text(errors="replace").count("Late heartbeat")
        return count
    return None  # keepalived and ucarp log no such warning


def execute_into(row: dict[str, Any], start: Callable[[], BenchRun]) -> Path | None:
    """Make a run with `start` and execute it: its directory, or None with the reason in row["error"] when
    it could not be set up or ended in error (a bench goes on with its next run either way)."""
    try:
        result = start().execute()
    except (LabError, ScenarioError, OSError, ValueError) as e:
        row["error"] = f"{type(e).__name__}: {e}"
        return None
    row["run_dir"] = str(result.run_dir)
    if result.error:
        row["error"] = f"{result.error} (run dir {result.run_dir})"
        return None
    return result.run_dir


def run_one(
    scenario: str,
    setting: Setting,
    runs_root: Path,
    seed: int,
    stress_s: float | None = None,
    backend: str = "netns",
    image: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"label": setting.label, "kind": setting.kind, "scenario": scenario, "seed": seed}
    run_dir = execute_into(
        row,
        lambda: BenchRun(
            bench_scenario(scenario, setting, stress_s),
            setting,
            stress_s=stress_s,
            runs_root=runs_root,
            seed=seed,
            backend_name=backend,
            image=image,
        ),
    )
    if run_dir is None:
        return row
    metrics = run_metrics(load_run(run_dir), scenario)
    metrics["late_warnings"] = late_warnings(run_dir, setting, metrics)
    metrics["run_dir"] = str(run_dir)
    row["metrics"] = metrics
    return row


def describe(row: dict[str, Any]) -> str:
    if row.get("error"):
        return f"FAILED: {row['error'][:300]}"
    m = row["metrics"]
    parts = []
    for key, name in (("takeover_s", "takeover"), ("outage_s", "outage"), ("dual_owner_s", "two holders")):
        if isinstance(m.get(key), int | float):
            parts.append(f"{name} {m[key] * 1000:.0f} ms")
    parts.append(f"false failovers {m.get('false_failovers')}")
    if m.get("late_warnings") is not None:
        parts.append(f"late warnings {m['late_warnings']}")
    return ", ".join(parts)


def say_now(message: str) -> None:
    """Progress lines appear at once, also when stdout is a file or a pipe (make, tee)."""
    print(message, flush=True)


def run_bench(
    settings: Sequence[Setting],
    scenarios: Sequence[str],
    repeat: int,
    stress_minutes: float,
    out_dir: Path,
    runs_root: Path,
    say: Any = say_now,
    backend: str = "netns",
) -> list[Path]:
    rows: list[dict[str, Any]] = []
    images = node_images(settings, say) if capabilities_of(backend).node_images else {}
    total = repeat * len(scenarios) * len(settings) + (len(settings) if stress_minutes > 0 else 0)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    meta = {
        "started": started,
        "repeat": repeat,
        "stress_minutes": stress_minutes,
        "settings": [dataclasses.asdict(s) for s in settings],
        "scenarios": list(scenarios),
        "cpus": os.cpu_count(),
        "backend": backend,
        **({"images": images} if images else {}),
    }
    reference = next((s.label for s in settings if s.kind == "hbd"), settings[0].label)
    order = [*scenarios] + ([STRESS_SCENARIO] if stress_minutes > 0 else [])
    done = 0
    t0 = time.monotonic()

    def record(row: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        rows.append(row)
        elapsed = time.monotonic() - t0
        head = f"[{done}/{total} {elapsed / 60:.1f} min] {row['label']:<22} {row['scenario']:<14}"
        say(f"{head} {describe(row)}")
        write_outputs(rows, out_dir, reference, order, meta)  # partial results survive an interruption

    def one(scenario: str, setting: Setting, seed: int, stress_s: float | None = None) -> dict[str, Any]:
        image = still_there(images, say).get(setting.kind) if images else None
        return run_one(scenario, setting, runs_root, seed, stress_s, backend=backend, image=image)

    for rep in range(repeat):
        for scenario in scenarios:
            for setting in settings:
                record(one(scenario, setting, seed=1000 + rep))
    if stress_minutes > 0:
        for setting in settings:
            say(
                f"stress: {setting.label} for {stress_minutes:g} min (both cores busy, 5 % loss on crossover)"
            )
            record(one(STRESS_SCENARIO, setting, seed=1, stress_s=stress_minutes * 60))
    return write_outputs(rows, out_dir, reference, order, meta)


def resummarize(out_dir: Path) -> list[Path]:
    """Recompute every run's metrics from its run directory (listed in bench.json) and rewrite the
    outputs: for a changed metric definition, without running the bench again."""
    data = json.loads((out_dir / "bench.json").read_text())
    meta = data["meta"]
    kinds = {s["label"]: s for s in meta["settings"]}
    rows: list[dict[str, Any]] = []
    for cell in data["cells"]:
        setting = Setting(**{**kinds[cell["label"]], "params": kinds[cell["label"]]["params"]})
        for run in cell["runs"]:
            run_dir = Path(run["run_dir"])
            metrics = run_metrics(load_run(run_dir), cell["scenario"])
            metrics["late_warnings"] = late_warnings(run_dir, setting, metrics)
            metrics["run_dir"] = str(run_dir)
            rows.append(
                {
                    "label": cell["label"],
                    "kind": cell["kind"],
                    "scenario": cell["scenario"],
                    "metrics": metrics,
                }
            )
        for error in cell["stats"].get("errors", []):
            rows.append(
                {"label": cell["label"], "kind": cell["kind"], "scenario": cell["scenario"], "error": error}
            )
    order = [*meta["scenarios"]] + ([STRESS_SCENARIO] if meta.get("stress_minutes") else [])
    return write_outputs(rows, out_dir, data["reference"], order, meta)


def select_settings(only: Sequence[str]) -> list[Setting]:
    if not only:
        return list(DEFAULT_SETTINGS)
    chosen = [s for s in DEFAULT_SETTINGS if any(o.lower() in s.label.lower() for o in only)]
    if not chosen:
        labels = ", ".join(s.label for s in DEFAULT_SETTINGS)
        raise LabError(f"--only {' '.join(only)} matches no setting (settings: {labels})")
    return chosen


def main_bench(argv: Sequence[str] | None = None) -> int:
    """The failover suite (`hblab bench`); lab/cli.py hands `--suite scale|media` to their own modules,
    which build on this one."""
    p = argparse.ArgumentParser(prog="hblab bench", description=__doc__.split("\n")[0])
    p.add_argument("--suite", choices=("failover", "media"), help="media: see `--suite media -h`")
    p.add_argument("--repeat", type=int, default=10, help="runs per setting and scenario (default 10)")
    p.add_argument("--stress-minutes", type=float, default=10.0, help="stress run per setting; 0 skips")
    p.add_argument("--only", action="append", default=[], help="settings whose label contains this")
    p.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--runs-root", type=Path, default=Path("runs/bench"))
    p.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default="netns",
        help="netns (default) or docker: every node a container from its daemon's image",
    )
    p.add_argument("--no-install", action="store_true", help="fail instead of installing peers with apt")
    p.add_argument("--resummarize", action="store_true", help="recompute --out from its recorded runs")
    args = p.parse_args(argv)
    if args.repeat < 0 or args.stress_minutes < 0:
        p.error("--repeat and --stress-minutes must not be negative")
    if args.resummarize:
        print("wrote " + ", ".join(str(o) for o in resummarize(args.out)))
        return 0
    if os.geteuid() != 0:
        print("hblab bench: needs root (network namespaces or Docker, apt)", file=sys.stderr)
        return 2
    try:
        settings = select_settings(args.only)
        need = missing_packages(settings, args.backend, stress=args.stress_minutes > 0)
        if need:
            if args.no_install:
                raise LabError(f"missing packages: {' '.join(need)} (apt-get install -y {' '.join(need)})")
            install(need, say_now)
        outputs = run_bench(
            settings,
            args.scenarios,
            args.repeat,
            args.stress_minutes,
            args.out,
            args.runs_root,
            backend=args.backend,
        )
    except LabError as e:
        print(f"hblab bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hblab bench: interrupted; partial results are in " + str(args.out), file=sys.stderr)
        return 130
    print("wrote " + ", ".join(str(o) for o in outputs))
    md = args.out / "bench.md"
    if md.exists():
        print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
