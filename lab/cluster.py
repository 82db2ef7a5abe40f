"""A scenario written as calls: build a topology, then boot, wait, probe, inject, heal and check one call at a
time (the pytest plugin's `hblab_cluster` hands these out; lab/pytest_plugin.py).

Each method is one step kind of a scenario file and goes through the same parser (lab.spec.scenario:
parse_step, parse_daemon, parse_expect_item), so a bad argument reads as it would in a file, with the
caller's FILE:LINE where a file has its YAML path. Steps run on lab.runner.ScenarioRun, the machinery
`hblab run` uses, so a call records the same lab.jsonl lines and `check()` returns the CheckResult a
scenario's `expect:` item gets. `close()` tears everything down (also after a failure) and writes the run's
report with the checks asked for so far, and `scenario.yaml`: the calls as a scenario file, so
`hblab report RUN_DIR` re-checks the run and `hblab run RUN_DIR/scenario.yaml` runs it again.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lab.backends.base import LabError
from lab.checks.result import CheckResult
from lab.history.records import History
from lab.history.store import load_run
from lab.paths import TOPOLOGY_DIR
from lab.runner import RUN_ERRORS, Progress, ScenarioRun
from lab.spec.scenario import (
    Scenario,
    ScenarioError,
    parse_daemon,
    parse_expect_item,
    parse_step,
    validate_against_topology,
    validate_for_backend,
)
from lab.spec.topology import Topology

# AF_UNIX paths (hbd's control socket in each node's state dir) must fit 108 bytes; the run dir is
# runs_root/NAME/STAMP-SEED, so the name is kept short and the whole path is checked before anything starts.
NAME_MAX = 24
SOCKET_PATH_MAX = 107
CONTROL_SOCKET_TAIL = "nodes/{node}/state/control.sock"
# A check on a live cluster first lets the recorders catch up with the moment it was called (see _settle).
SETTLE_MIN_S = 0.02  # the owner sampler's change records (every 2 ms) and the daemons' event lines
SETTLE_MAX_S = 1.0  # bound: the probe's timeout (100 ms) and its write buffer (50 ms), with room for load


def run_name(text: str) -> str:
    """A run directory name from free text (a test's name): lower case, [a-z0-9._-], at most NAME_MAX."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:NAME_MAX].rstrip("-._")
    return name or "cluster"


def caller(depth: int = 2) -> str:
    """FILE:LINE of the code that called the public method `depth - 1` frames up (for error messages)."""
    frame = sys._getframe(depth)
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"


class Cluster:
    """One topology on one backend, driven step by step. Built by `start()`; always end with `close()`."""

    def __init__(
        self,
        topology: str | Path,
        *,
        backend: str = "netns",
        daemon: Mapping[str, Any] | None = None,
        name: str = "cluster",
        seed: int | None = None,
        runs_root: Path = Path("runs"),
        progress: Progress | None = None,
        verbose_daemon: bool = False,
        source: str | None = None,
    ) -> None:
        where = source or caller()
        scenario = Scenario(
            name=run_name(name),
            description=f"driven step by step from {where}",
            topology=str(topology),
            daemon=parse_daemon(dict(daemon or {}), where),
            steps=[],
            expect=[],
            raw={"daemon": dict(daemon or {})},
        )
        self.run = ScenarioRun(
            scenario,
            backend_name=backend,
            seed=seed,
            runs_root=runs_root,
            progress=progress,
            verbose_daemon=verbose_daemon,
        )
        self.checks: list[CheckResult] = []
        self.steps = 0
        self.written: dict[str, Any] = {  # the calls as a scenario file (scenario.yaml at close)
            "name": scenario.name,
            "description": scenario.description,
            "topology": _topology_ref(self.run.topology.source),
            "daemon": dict(daemon or {}),
            "steps": [],
            "expect": [],
        }
        self.error: str | None = None  # the step that failed, as lab.jsonl's run.error has it
        self._check_socket_room()

    # -- what a test looks at ------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        return self.run.run_dir

    @property
    def timeline(self) -> Path:
        """timeline.png, drawn by close() (lab/analysis/report.py)."""
        return self.run_dir / "timeline.png"

    @property
    def topology(self) -> Topology:
        return self.run.topology

    @property
    def backend_name(self) -> str:
        return self.run.backend.name

    @property
    def seed(self) -> int:
        return self.run.seed

    def failed_checks(self) -> list[CheckResult]:
        return [r for r in self.checks if not r.ok]

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> Cluster:
        """Build the topology and start the owner sampler; on failure everything built is removed."""
        self.run.begin()
        try:
            self.run.build()
        except BaseException as e:
            self._record_error(e)
            self.close()
            raise
        return self

    def close(self) -> None:
        """Tear down (idempotent), then write result.json, report.md and timeline.png with the checks
        asked for so far. Teardown comes first: the report must not delay removing a cluster."""
        if self.run.finished:
            return
        self.run.finish()
        self._write_scenario()
        self.run.write_report(self.checks)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps: one method per step kind of a scenario file ------------------------------------------

    def boot(self, *nodes: str, together: bool = False) -> None:
        self._step("boot", {"nodes": list(nodes), "together": together})

    def wait_for(self, event: str, *, within: str | float, node: str | None = None) -> None:
        body: dict[str, Any] = {"event": event, "within": within}
        if node is not None:
            body["node"] = node
        self._step("wait_for", body)

    def probe(self, target: str = "vip", *, every_ms: float = 5) -> None:
        self._step("probe", {"target": target, "every_ms": every_ms})

    def inject(self, fault: str, **params: Any) -> None:
        self._step("inject", {"fault": fault, **params})

    def heal(self, fault: str, **params: Any) -> None:
        self._step("heal", {"fault": fault, **params})

    def sleep(self, duration: str | float) -> None:
        self._step("sleep", duration)

    # -- verdicts and looking inside -----------------------------------------------------------------

    def check(self, check: str, **params: Any) -> CheckResult:
        """One `expect:` item over the history up to this call (`name=` labels it, as in a file)."""
        item = parse_expect_item({"check": check, **params}, caller())
        self.written["expect"].append(item)
        if not self.run.finished:
            self._settle()
        results: list[CheckResult] = self.run.check([item])
        self.checks.append(results[0])
        return results[0]

    def history(self) -> History:
        """Every record of the run so far, merged by time (lab.history.store.load_run)."""
        return load_run(self.run_dir)

    def exec(
        self,
        node: str,
        argv: Sequence[str],
        *,
        input_text: str | None = None,
        timeout_s: float = 30.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a node and wait for it; `check` raises LabError on a non-zero exit."""
        if node not in self.topology.node_names:
            raise LabError(
                f"{caller()}: unknown node {node!r} (known: {', '.join(self.topology.node_names)})"
            )
        return self.run.backend.exec(
            node, list(argv), input_text=input_text, timeout_s=timeout_s, check=check
        )

    # -- inside --------------------------------------------------------------------------------------

    def _step(self, kind: str, body: Any) -> None:
        where = caller(3)
        if self.run.finished:
            raise LabError(f"{where}: {kind}: the cluster is closed")
        step = parse_step(kind, body, where)
        one = dataclasses.replace(self.run.scenario, steps=[step])
        topo = self.topology
        problems = validate_for_backend(one, self.backend_name) + validate_against_topology(
            one, topo.node_names, [s.name for s in topo.segments], [s.name for s in topo.serial_lines]
        )
        if problems:  # these name a file's step as `WHERE.KIND.key`: make it `FILE:LINE: KIND.key`
            raise ScenarioError([m.replace(f"{where}.{kind}.", f"{where}: {kind}.", 1) for m in problems])
        self.written["steps"].append({kind: body})
        try:
            self.run.run_step(self.steps, step)
        except BaseException as e:
            self._record_error(e)
            raise
        finally:
            self.steps += 1

    def _record_error(self, e: BaseException) -> None:
        if self.error is None:
            self.error = f"{type(e).__name__}: {e}"
            if isinstance(e, RUN_ERRORS) and not self.run.finished:
                self.run.log.mark("run.error", error=self.error)

    def _settle(self) -> None:
        """Wait until what happened before this moment is on disk: the probe has recorded an attempt it
        began after it (probe.jsonl lines are written when an attempt ends and buffered up to 50 ms), and
        the other recorders had SETTLE_MIN_S. Without it, `check("takeover_latency")` right after
        `wait_for("group.active", node=survivor)` ran before the survivor's first answer was written
        (3 runs of 13 failed so on this busy 2-core machine before this wait)."""
        since = time.monotonic()
        deadline = since + SETTLE_MAX_S
        probe = self.run_dir / "probe.jsonl"
        while probe.exists() and _newest(probe, "sent_mono") < since:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        time.sleep(max(0.0, since + SETTLE_MIN_S - time.monotonic()))

    def _write_scenario(self) -> None:
        """scenario.yaml in the run dir, and lab-run.json pointing at it (what `hblab report` loads)."""
        if not self.written["steps"]:  # a scenario needs a step; nothing was done to replay
            return
        path = self.run_dir / "scenario.yaml"
        path.write_text(yaml.safe_dump(self.written, sort_keys=False, default_flow_style=None))
        meta_path = self.run_dir / "lab-run.json"
        meta = json.loads(meta_path.read_text())
        meta["scenario_path"] = str(path)
        meta_path.write_text(json.dumps(meta, indent=2, default=str) + "\n")

    def _check_socket_room(self) -> None:
        longest = max((len(n) for n in self.topology.node_names), default=0)
        tail = CONTROL_SOCKET_TAIL.format(node="x" * longest)
        path = self.run_dir / tail
        if len(str(path)) > SOCKET_PATH_MAX:
            root = self.run_dir.parent.parent
            self.run.log.close()
            raise LabError(
                f"{path} is {len(str(path))} bytes, over the {SOCKET_PATH_MAX} a unix socket path may have: "
                f"choose a shorter runs root than {root} (--hblab-runs-root)"
            )


def _topology_ref(source: Path) -> str:
    """A shipped topology by name, anyone else's by absolute path (the scenario file must find it again)."""
    source = Path(source).resolve()
    return source.stem if source.parent == TOPOLOGY_DIR.resolve() else str(source)


def _newest(path: Path, key: str) -> float:
    """The largest `key` among the last complete lines of a growing .jsonl file (0 when there is none):
    probe attempts overlap, so the last line is not always the latest attempt."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 4096))
        tail = f.read()
    newest = 0.0
    for line in tail.split(b"\n")[:-1]:  # after the last newline: a line still being written
        try:
            value = json.loads(line).get(key)
        except (ValueError, AttributeError):  # the first line may be cut by the seek
            continue
        if isinstance(value, int | float):
            newest = max(newest, float(value))
    return newest
