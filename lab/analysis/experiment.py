"""Experiments: run a list of scenarios N times each, then aggregate the stored results.

`experiments/NAME/experiment.yml` lists the scenarios, the repeat count, the first seed and `--set` overrides
applied to every scenario. Running needs a runner callback (lab/runner.py provides one); summarising reads
only stored run directories, so a report can be redone without touching the lab:
`python -m lab.analysis.experiment article-test-plan` rewrites results/ from results/runs.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from lab.analysis.report import read_result
from lab.history.store import load_run
from lab.paths import EXPERIMENTS_DIR
from lab.spec.scenario import Scenario, ScenarioError, load_scenario

EXPERIMENT_FILE = "experiment.yml"
RESULTS_DIR = "results"
RUNS_FILE = "runs.json"
DEFAULT_REPEAT = 10

Runner = Callable[[Scenario, int], Path]
Progress = Callable[[str, int, int], None]  # (scenario, run index from 1, runs of this scenario)


class ExperimentError(ValueError):
    pass


@dataclass(frozen=True)
class Experiment:
    name: str
    directory: Path
    scenarios: list[str]
    repeat: int = DEFAULT_REPEAT
    seed: int = 1
    overrides: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def results_dir(self) -> Path:
        return self.directory / RESULTS_DIR


def load_experiment(name_or_path: str | Path) -> Experiment:
    """A bare name means experiments/NAME/experiment.yml; a directory or a .yml path is taken as is."""
    path = Path(name_or_path)
    if path.is_dir():
        path = path / EXPERIMENT_FILE
    elif not str(name_or_path).endswith((".yml", ".yaml")):
        path = EXPERIMENTS_DIR / str(name_or_path) / EXPERIMENT_FILE
    src = path.name if path.parent == Path() else f"{path.parent.name}/{path.name}"
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{src}:{mark.line + 1}" if mark is not None else src
        raise ExperimentError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ExperimentError(f"{src}: expected a mapping with name, scenarios, repeat")
    errors: list[str] = []
    known = ("name", "description", "scenarios", "repeat", "seed", "set")
    errors += [f"{src}: {k}: unknown key (known: {', '.join(known)})" for k in raw if k not in known]
    scenarios = raw.get("scenarios")
    if not isinstance(scenarios, list) or not scenarios or not all(isinstance(s, str) for s in scenarios):
        errors.append(f"{src}: scenarios: expected a non-empty list of scenario names, got {scenarios!r}")
        scenarios = []
    for key in ("repeat", "seed"):
        value = raw.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "repeat" else 0):
            errors.append(
                f"{src}: {key}: expected a {'positive' if key == 'repeat' else 'non-negative'} "
                f"integer, got {value!r}"
            )
    overrides = raw.get("set") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        errors.append(f"{src}: set: expected a list of PATH=VALUE strings, got {overrides!r}")
        overrides = []
    if errors:
        raise ExperimentError("\n".join(errors))
    return Experiment(
        name=str(raw.get("name") or path.parent.name),
        directory=path.parent,
        scenarios=list(scenarios),
        repeat=int(raw.get("repeat", DEFAULT_REPEAT)),
        seed=int(raw.get("seed", 1)),
        overrides=list(overrides),
        description=str(raw.get("description") or ""),
    )


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class MetricStats:
    n: int
    min: float
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> MetricStats:
        return cls(len(values), min(values), statistics.median(values), percentile(values, 95), max(values))


@dataclass
class ScenarioSummary:
    scenario: str
    runs: list[Path] = field(default_factory=list)
    attempts: int = 0  # runs started, including those that left no readable result
    passed: int = 0
    failures: list[str] = field(default_factory=list)  # "run_dir: check, check" or "run error: ..."
    metrics: dict[str, list[float]] = field(default_factory=dict)  # metric -> seconds, one per run
    metric_runs: dict[str, list[Path]] = field(default_factory=dict)  # which run gave each value
    # Checks counted in other units (acked_rows: rows lost): "name.value" / "name.key" -> one per run.
    counts: dict[str, list[float]] = field(default_factory=dict)
    count_units: dict[str, str] = field(default_factory=dict)

    def stats(self) -> dict[str, MetricStats]:
        return {name: MetricStats.of(values) for name, values in self.metrics.items() if values}

    def representative(self, metric: str | None = None) -> Path | None:
        """The run whose value of `metric` (default: the first metric) is closest to the median."""
        metric = metric or next(iter(self.metrics), None)
        if metric is None or not self.metrics.get(metric):
            return self.runs[0] if self.runs else None
        median = statistics.median(self.metrics[metric])
        pairs = zip(self.metrics[metric], self.metric_runs[metric], strict=True)
        return min(pairs, key=lambda pair: abs(pair[0] - median))[1]


@dataclass
class Summary:
    scenarios: list[ScenarioSummary]

    def to_markdown(self) -> str:
        lines = [
            "| scenario | runs ok | metric | n | min | median | p95 | max |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in self.scenarios:
            stats = s.stats()
            ok = f"{s.passed}/{s.attempts}"
            if not stats:
                lines.append(f"| {s.scenario} | {ok} | - | 0 | - | - | - | - |")
            for i, (name, st) in enumerate(stats.items()):
                head = f"| {s.scenario} | {ok} |" if i == 0 else "| | |"
                lines.append(
                    f"{head} {name} | {st.n} | {_ms(st.min)} | {_ms(st.median)} | {_ms(st.p95)} | "
                    f"{_ms(st.max)} |"
                )
        if any(s.counts for s in self.scenarios):
            lines += ["", "Counts (checks measured in other units than time):", ""]
            lines += [
                "| scenario | metric | unit | n | min | median | max | per run |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for s in self.scenarios:
                for i, (name, values) in enumerate(s.counts.items()):
                    head = f"| {s.scenario} |" if i == 0 else "| |"
                    shown = ", ".join(f"{v:g}" for v in values)
                    lines.append(
                        f"{head} {name} | {s.count_units[name]} | {len(values)} | {min(values):g} | "
                        f"{statistics.median(values):g} | {max(values):g} | {shown} |"
                    )
        failures = [f"- {s.scenario}: {f}" for s in self.scenarios for f in s.failures]
        if failures:
            lines += ["", "Failed runs:", "", *failures]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": "s",
            "scenarios": [
                {
                    "scenario": s.scenario,
                    "runs": [str(r) for r in s.runs],
                    "attempts": s.attempts,
                    "passed": s.passed,
                    "failures": s.failures,
                    "metrics": {
                        name: {"values": s.metrics[name], **vars(st)} for name, st in s.stats().items()
                    },
                    "counts": {
                        name: {"unit": s.count_units[name], "values": v} for name, v in s.counts.items()
                    },
                }
                for s in self.scenarios
            ],
        }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def run_metrics(result: dict[str, Any]) -> dict[str, float]:
    """Time metrics of one stored result: each check's headline value in seconds, and for checks with several
    time values (the breakdown) each of them as `check.phase`."""
    out: dict[str, float] = {}
    for check in result.get("checks", []):
        if check.get("unit") != "s":
            continue
        name = str(check.get("name"))
        if isinstance(check.get("value"), int | float):
            out[name] = float(check["value"])
        phases = {k: v for k, v in (check.get("values") or {}).items() if k.endswith("_s")}
        if len(phases) > 1:
            out.update(
                {f"{name}.{k[:-2]}": float(v) for k, v in phases.items() if isinstance(v, int | float)}
            )
    return out


def run_counts(result: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """Checks of one stored result measured in other units than seconds (acked_rows: rows): the headline
    value as `name` and each number of its values as `name.key`, with the unit."""
    out: dict[str, tuple[str, float]] = {}
    for check in result.get("checks", []):
        unit = check.get("unit")
        if not unit or unit == "s" or not isinstance(check.get("value"), int | float):
            continue
        name = str(check.get("name"))
        out[name] = (str(unit), float(check["value"]))
        for key, value in (check.get("values") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"{name}.{key}"] = (str(unit), float(value))
    return out


def summarize(run_dirs: Sequence[Path | str], errors: Sequence[tuple[str, str]] = ()) -> Summary:
    """Aggregate stored runs by scenario (in first-seen order). `errors`: (scenario, message) of runs that
    never produced a directory. Unreadable results count as failures, never crash the summary."""
    by_name: dict[str, ScenarioSummary] = {}
    for run_dir in map(Path, run_dirs):
        try:
            result = read_result(run_dir)
        except ValueError as exc:
            name = run_dir.parent.name or "?"
            broken = by_name.setdefault(name, ScenarioSummary(name))
            broken.attempts += 1
            broken.failures.append(str(exc))
            continue
        name = str(result.get("scenario") or run_dir.parent.name)
        s = by_name.setdefault(name, ScenarioSummary(name))
        s.runs.append(run_dir)
        s.attempts += 1
        failed = [str(c.get("name")) for c in result["checks"] if not c.get("ok")]
        if result.get("ok") and not failed:
            s.passed += 1
        else:
            s.failures.append(f"{run_dir}: " + (", ".join(failed) or "not ok"))
        for metric, value in run_metrics(result).items():
            s.metrics.setdefault(metric, []).append(value)
            s.metric_runs.setdefault(metric, []).append(run_dir)
        for metric, (unit, value) in run_counts(result).items():
            s.counts.setdefault(metric, []).append(value)
            s.count_units[metric] = unit
    for name, message in errors:
        s = by_name.setdefault(name, ScenarioSummary(name))
        s.attempts += 1
        s.failures.append(f"run error: {message}")
    return Summary(list(by_name.values()))


# ---------------------------------------------------------------- running and writing


def run_experiment(
    name: str | Path,
    repeat: int | None = None,
    runner: Runner | None = None,
    *,
    progress: Progress | None = None,
    out_dir: Path | None = None,
    echo: bool = True,
) -> Summary:
    """Run every scenario `repeat` times (default: experiment.yml's repeat) with seeds seed, seed+1, ...

    A run that raises is recorded as a failure and the experiment goes on (one broken run must not cost
    the other results); Ctrl-C still stops everything.
    """
    if runner is None:
        raise ExperimentError("run_experiment needs a runner: run_scenario(scenario, seed) -> run_dir")
    experiment = load_experiment(name)
    count = experiment.repeat if repeat is None else repeat
    if count < 1:
        raise ExperimentError(f"repeat must be at least 1, got {count}")
    try:
        refs = [scenario_ref(experiment, s) for s in experiment.scenarios]
        scenarios = [load_scenario(ref, experiment.overrides) for ref in refs]
    except ScenarioError as exc:
        raise ExperimentError(f"{experiment.directory / EXPERIMENT_FILE}: {exc}") from None
    run_dirs: list[Path] = []
    errors: list[tuple[str, str]] = []
    for scenario in scenarios:
        for i in range(count):
            if progress:
                progress(scenario.name, i + 1, count)
            seed = experiment.seed + i
            try:
                run_dirs.append(Path(runner(scenario, seed)))
            except Exception as exc:  # one broken run is a data point, not the end of the experiment
                errors.append((scenario.name, f"seed {seed}: {type(exc).__name__}: {exc}"))
    target = out_dir or experiment.results_dir
    _write_runs(target, run_dirs, errors)
    summary = summarize(run_dirs, errors)
    write_summary(summary, target, title=experiment.name)
    if echo:
        print(summary.to_markdown())
    return summary


def scenario_ref(experiment: Experiment, entry: str) -> str | Path:
    """A bare name is a shipped scenario (lab/scenarios); a path (`scenarios/x.yaml`) is the experiment's
    own, relative to its directory: scenarios that only make sense inside one comparison live with it."""
    if "/" in entry or entry.endswith((".yaml", ".yml")):
        return experiment.directory / entry
    return entry


def experiment_out_dir(runs_root: Path, name: str | Path) -> Path:
    """Where an unrecorded experiment's summary goes: runs/experiments/NAME/<utc time>/."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return runs_root / "experiments" / Path(name).name / stamp


def _write_runs(out_dir: Path, run_dirs: Sequence[Path], errors: Sequence[tuple[str, str]]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"runs": [str(p) for p in run_dirs], "errors": [list(e) for e in errors]}
    (out_dir / RUNS_FILE).write_text(json.dumps(data, indent=2) + "\n")


def write_summary(summary: Summary, out_dir: Path, title: str = "experiment") -> list[Path]:
    """summary.md, summary.json, latency-<scenario>.png and timeline-<scenario>.png (representative run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "summary.md", out_dir / "summary.json"]
    written[0].write_text(
        f"# {title}\n\nTimes in milliseconds; p95 interpolated between ranks.\n\n" + summary.to_markdown()
    )
    written[1].write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    try:
        from lab.analysis.plot import plot_distribution, plot_timeline
    except ImportError as exc:  # pragma: no cover - matplotlib is a lab dependency
        print(f"no plots: {exc}", file=sys.stderr)
        return written
    for s in summary.scenarios:
        written.append(
            plot_distribution(
                s.metrics, out_dir / f"latency-{s.scenario}.png", f"{s.scenario}: {len(s.runs)} runs"
            )
        )
        rep = s.representative()
        if rep is not None:
            written.append(
                plot_timeline(
                    load_run(rep),
                    out_dir / f"timeline-{s.scenario}.png",
                    f"{s.scenario}: representative run {rep.name}",
                )
            )
    return written


def resummarize(name: str | Path) -> Summary:
    """Rewrite an experiment's results/ from the run directories recorded in results/runs.json."""
    experiment = load_experiment(name)
    runs_file = experiment.results_dir / RUNS_FILE
    try:
        data = json.loads(runs_file.read_text())
        run_dirs = [Path(p) for p in data["runs"]]
        errors = [(str(a), str(b)) for a, b in data.get("errors", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExperimentError(f"{runs_file}: cannot read the list of runs: {exc}") from None
    summary = summarize(run_dirs, errors)
    write_summary(summary, experiment.results_dir, title=experiment.name)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.analysis.experiment",
        description="Re-aggregate an experiment's stored runs (no lab needed).",
    )
    parser.add_argument("experiment", help="experiment name (experiments/NAME) or directory")
    parser.add_argument(
        "runs", nargs="*", type=Path, help="run directories to summarise instead of results/runs.json"
    )
    args = parser.parse_args(argv)
    try:
        if args.runs:
            experiment = load_experiment(args.experiment)
            summary = summarize(args.runs)
            write_summary(summary, experiment.results_dir, title=experiment.name)
        else:
            summary = resummarize(args.experiment)
    except ExperimentError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary.to_markdown())
    return 0 if all(not s.failures for s in summary.scenarios) else 1


if __name__ == "__main__":
    sys.exit(main())
