"""Scenario files (`lab/scenarios/NAME.yaml`): a topology, daemon timings, a linear script of steps, checks.

Validation collects every problem, each naming the file and the YAML path
(`power-off.yaml: steps[2].inject.fault: unknown fault 'powr_off' (known: ...)`), and raises them together.
Step args keep the values as written and add parsed twins with units in their names (`within` -> `within_s`),
so the runner never parses durations itself and a report can still show what the author wrote.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.paths import SCENARIO_DIR
from lab.spec.check_params import CHECK_PARAMS, COMMON_KEYS
from lab.spec.daemon import DAEMON_KEYS, DURATION_KEYS, FENCING, monitor_line
from lab.spec.duration import DurationError, parse_duration
from lab.spec.fault_params import FAULTS, HEALABLE
from lab.spec.params import Problem, names_in, parse_params

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class ScenarioError(ValueError):
    """Every problem found in one scenario file, one per line."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Step:
    kind: str  # boot | wait_for | probe | inject | heal | sleep
    args: dict[str, Any]
    where: str  # "file.yaml: steps[3]"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    topology: str
    daemon: dict[str, Any]  # values as written ("50ms"); auto_failback normalised to "on"/"off"/"legacy"
    steps: list[Step]
    expect: list[dict[str, Any]]
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the parsed YAML, for overrides

    def daemon_seconds(self) -> dict[str, float]:
        """The daemon timings that are durations, in seconds (`keepalive` -> 0.05)."""
        return {k: parse_duration(v) for k, v in self.daemon.items() if k in DURATION_KEYS}


# ---------------------------------------------------------------- vocabulary

# `daemon:` keys: lab/spec/daemon.py (DAEMON_KEYS, one table with the ha.cf directive each becomes).

# Faults and their parameters: lab/spec/fault_params.py (FAULTS, HEALABLE). `heal: {fault: X}` undoes an
# earlier `inject: {fault: X}` (soft_stop and power_off: boot again); without parameters it heals every
# active X with the parameters it was injected with.

STEP_KINDS = ("boot", "wait_for", "probe", "inject", "heal", "sleep")
# A probe step's protocol (lab/node/probe.py, app_probe.py; smtp, pop3, imap: lab/node/mail_probe.py).
PROBE_PROTOCOLS = ("tcp", "http", "sql", "smtp", "pop3", "imap")
TOP_KEYS = ("name", "description", "topology", "daemon", "steps", "expect")


# ---------------------------------------------------------------- loading


def scenario_path(path_or_name: str | Path) -> Path:
    """A bare name means lab/scenarios/NAME.yaml; anything path-like is taken as a path."""
    text = str(path_or_name)
    if isinstance(path_or_name, Path) or "/" in text or text.endswith((".yaml", ".yml")):
        return Path(path_or_name)
    return SCENARIO_DIR / f"{text}.yaml"


def list_scenarios(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_scenario(path_or_name: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    path = scenario_path(path_or_name)
    if not path.exists():
        known = ", ".join(list_scenarios()) or "none"
        raise ScenarioError([f"{path}: no such scenario (known: {known})"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read: {exc}"]) from None
    raw = load_yaml(text, path.name)
    if overrides:
        raw = apply_overrides(raw, overrides, path.name)
    return parse_scenario(raw, path.name, path)


def with_overrides(scenario: Scenario, overrides: Sequence[str]) -> Scenario:
    """The same scenario re-validated with `--set` overrides applied (experiments, bench)."""
    source = scenario.path.name if scenario.path else scenario.name
    return parse_scenario(apply_overrides(scenario.raw, overrides, source), source, scenario.path)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: PyYAML silently keeps the last one otherwise."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([f"{where}: invalid YAML: {problem}"]) from None


# ---------------------------------------------------------------- overrides

_OVERRIDE_PATH = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """`daemon.keepalive=10ms` -> (["daemon", "keepalive"], "10ms"); `steps[3].inject.ms=200`."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected PATH=VALUE, e.g. daemon.keepalive=10ms")
    path_text, value_text = text.split("=", 1)
    path: list[str | int] = []
    for part in path_text.strip().split("."):
        match = _OVERRIDE_PATH.fullmatch(part)
        if match is None:
            raise ValueError(f"--set {text!r}: bad path element {part!r}")
        path.append(match[1])
        path.extend(int(i) for i in re.findall(r"\[(\d+)\]", match[2]))
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else ""
    except yaml.YAMLError:
        value = value_text
    return path, value


def apply_overrides(raw: Any, overrides: Sequence[str], source: str = "scenario") -> dict[str, Any]:
    data = copy.deepcopy(raw) if isinstance(raw, dict) else {}
    errors: list[str] = []
    for text in overrides:
        try:
            path, value = parse_override(text)
        except ValueError as exc:
            errors.append(f"{source}: {exc}")
            continue
        target: Any = data
        for i, key in enumerate(path[:-1]):
            nxt = path[i + 1]
            if isinstance(key, int):
                if not isinstance(target, list) or key >= len(target):
                    errors.append(f"{source}: --set {text}: {_fmt_path(path[:i])} has no item [{key}]")
                    break
                target = target[key]
            else:
                if not isinstance(target, dict):
                    errors.append(f"{source}: --set {text}: {_fmt_path(path[:i])} is not a mapping")
                    break
                target = target.setdefault(key, [] if isinstance(nxt, int) else {})
        else:
            last = path[-1]
            if isinstance(last, int):
                if isinstance(target, list) and last < len(target):
                    target[last] = value
                else:
                    errors.append(f"{source}: --set {text}: {_fmt_path(path[:-1])} has no item [{last}]")
            elif isinstance(target, dict):
                target[last] = value
            else:
                errors.append(f"{source}: --set {text}: {_fmt_path(path[:-1])} is not a mapping")
    if errors:
        raise ScenarioError(errors)
    return data


def _fmt_path(path: Sequence[str | int]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out or "(top)"


# ---------------------------------------------------------------- validation


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")


def parse_scenario(raw: Any, source: str = "scenario", path: Path | None = None) -> Scenario:
    """Validate decoded YAML into a Scenario; raises ScenarioError with every problem found."""
    p = _Problems(source)
    if not isinstance(raw, dict):
        raise ScenarioError(
            [f"{source}: expected a mapping with {', '.join(TOP_KEYS)}; got {type(raw).__name__}"]
        )
    for key in raw:
        if key not in TOP_KEYS:
            p.add(str(key), f"unknown key (known: {', '.join(TOP_KEYS)})")
    name = _string(raw, "name", p, required=True)
    if name and not NAME_RE.match(name):
        p.add(
            "name", f"{name!r} must be lower-case letters, digits, '.', '_' or '-' (it names run directories)"
        )
    description = _string(raw, "description", p) or ""
    topology = _string(raw, "topology", p, required=True)
    daemon = _daemon(raw.get("daemon", {}), p)
    steps = _steps(raw.get("steps"), p)
    expect = _expect(raw.get("expect", []), p)
    if p.errors:
        raise ScenarioError(p.errors)
    return Scenario(
        name=name or "",
        description=description,
        topology=topology or "",
        daemon=daemon,
        steps=steps,
        expect=expect,
        path=path,
        raw=copy.deepcopy(raw),
    )


def _string(raw: Mapping[str, Any], key: str, p: _Problems, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            p.add(key, "required")
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(key, f"expected a non-empty string, got {value!r}")
        return None
    return value.strip()


def _daemon(value: Any, p: _Problems) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        p.add("daemon", f"expected a mapping like {{keepalive: 50ms}}, got {value!r}")
        return {}
    out: dict[str, Any] = {}
    for key, v in value.items():
        spec = DAEMON_KEYS.get(str(key))
        kind = spec.kind if spec is not None else None
        where = f"daemon.{key}"
        if kind is None:
            p.add(where, f"unknown setting (known: {', '.join(DAEMON_KEYS)})")
        elif kind == "duration":
            if _duration(v, where, p) is not None:
                out[key] = v
        elif kind == "int":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                p.add(where, f"expected a non-negative integer, got {v!r}")
            else:
                out[key] = v
        elif kind == "loopback_port":
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
                p.add(where, f"expected a port 1..65535, got {v!r}")
            else:
                out[key] = v
        elif kind == "monitors":
            lines = v if isinstance(v, list) else [v]
            bad = [str(exc) for line in lines for exc in _monitor_problems(line)]
            if not lines or bad:
                p.add(where, "; ".join(bad) or "expected a monitor or a list of them")
            else:
                out[key] = lines
        elif kind == "nodes":
            names = v if isinstance(v, list) else [v]
            if not names or not all(isinstance(n, str) and n for n in names):
                p.add(where, f"expected a node name, an address or a list of them, got {v!r}")
            else:
                out[key] = names
        elif kind in ("auto_failback", "onoff"):
            # YAML reads bare on/off as booleans: accept them and store heartbeat's words.
            word = {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else str(v).lower()
            allowed = ("on", "off", "legacy") if kind == "auto_failback" else ("on", "off")
            if word not in allowed:
                p.add(where, f"expected one of {', '.join(allowed)}, got {v!r}")
            else:
                out[key] = word
        elif kind == "fencing":
            word = {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else str(v)
            if word not in FENCING:
                p.add(where, f"expected one of {', '.join(FENCING)}, got {v!r}")
            else:
                out[key] = word
    seconds = {k: parse_duration(v) for k, v in out.items() if k in DURATION_KEYS}
    ka, dt, wt = seconds.get("keepalive"), seconds.get("deadtime"), seconds.get("warntime")
    if ka is not None and dt is not None and dt <= ka:
        p.add("daemon.deadtime", f"must be longer than keepalive ({out['deadtime']} <= {out['keepalive']})")
    if wt is not None and dt is not None and wt > dt:
        p.add("daemon.warntime", f"must not exceed deadtime ({out['warntime']} > {out['deadtime']})")
    return out


def _monitor_problems(line: Any) -> list[ValueError]:
    try:
        monitor_line(line)
    except ValueError as exc:
        return [exc]
    return []


def _duration(value: Any, where: str, p: _Problems) -> float | None:
    try:
        return parse_duration(value)
    except DurationError as exc:
        p.add(where, str(exc))
        return None


def _steps(value: Any, p: _Problems) -> list[Step]:
    if value is None:
        p.add("steps", "required: a list of steps (boot, wait_for, probe, inject, heal, sleep)")
        return []
    if not isinstance(value, list) or not value:
        p.add("steps", f"expected a non-empty list, got {value!r}")
        return []
    steps: list[Step] = []
    for i, item in enumerate(value):
        where = f"steps[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            p.add(
                where,
                f"expected one mapping like {{sleep: 1s}} (one of {', '.join(STEP_KINDS)}), got {item!r}",
            )
            continue
        ((kind, body),) = item.items()
        if kind not in STEP_KINDS:
            p.add(where, f"unknown step {kind!r} (known: {', '.join(STEP_KINDS)})")
            continue
        before = len(p.errors)
        args = _STEP_PARSERS[kind](body, f"{where}.{kind}", p)
        if len(p.errors) == before and args is not None:
            steps.append(Step(kind=kind, args=args, where=f"{p.source}: {where}"))
    return steps


def _node_list(value: Any, where: str, p: _Problems) -> list[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(n, str) and n for n in value):
        p.add(where, f"expected a non-empty list of node names, got {value!r}")
        return None
    if len(set(value)) != len(value):
        p.add(where, f"a node is listed twice: {value!r}")
        return None
    return list(value)


def _boot(body: Any, where: str, p: _Problems) -> dict[str, Any] | None:
    if isinstance(body, list):
        nodes = _node_list(body, where, p)
        return {"nodes": nodes, "together": False} if nodes else None
    if isinstance(body, dict):
        _unknown_keys(body, ("nodes", "together"), where, p)
        nodes = _node_list(body.get("nodes"), f"{where}.nodes", p)
        together = body.get("together", False)
        if not isinstance(together, bool):
            p.add(f"{where}.together", f"expected true or false, got {together!r}")
            return None
        return {"nodes": nodes, "together": together} if nodes else None
    p.add(where, f"expected a list of nodes or {{nodes: [...], together: true}}, got {body!r}")
    return None


def _wait_for(body: Any, where: str, p: _Problems) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        p.add(where, f"expected {{event: NAME, node: NODE, within: DURATION}}, got {body!r}")
        return None
    _unknown_keys(body, ("event", "node", "within"), where, p)
    event = body.get("event")
    if not isinstance(event, str) or not event:
        p.add(f"{where}.event", f"required: an event name like group.active, got {event!r}")
    node = body.get("node")
    if node is not None and not isinstance(node, str):
        p.add(f"{where}.node", f"expected a node name, got {node!r}")
    if "within" not in body:
        p.add(f"{where}.within", "required: how long to wait before the run fails (e.g. 5s)")
        return None
    within_s = _duration(body["within"], f"{where}.within", p)
    return {**body, "within_s": within_s}


def _probe(body: Any, where: str, p: _Problems) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        p.add(where, f"expected {{target: vip, every_ms: 5}}, got {body!r}")
        return None
    _unknown_keys(body, ("target", "every_ms", "protocol", "group", "port"), where, p)
    target = body.get("target", "vip")
    if target != "vip":
        p.add(f"{where}.target", f"only 'vip' can be probed, got {target!r}")
    every = body.get("every_ms", 5)
    if isinstance(every, bool) or not isinstance(every, int | float) or every <= 0:
        p.add(f"{where}.every_ms", f"expected a positive number of milliseconds, got {every!r}")
    # tcp: the lab's prober (connect, read the answer); http and sql speak the real service's protocol
    # (lab/node/app_probe.py). group: whose VIP (default the topology's first group); port: default the
    # group's first service for tcp, 80 for http, 5432 for sql.
    protocol = body.get("protocol", "tcp")
    if protocol not in PROBE_PROTOCOLS:
        p.add(f"{where}.protocol", f"expected one of {', '.join(PROBE_PROTOCOLS)}, got {protocol!r}")
    group = body.get("group")
    if group is not None and not isinstance(group, str):
        p.add(f"{where}.group", f"expected a group name, got {group!r}")
    port = body.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        p.add(f"{where}.port", f"expected a TCP port 1-65535, got {port!r}")
    given = {key: body[key] for key in ("protocol", "group", "port") if key in body}
    return {"target": target, "every_ms": every, **given}


def _fault_args(body: Any, where: str, p: _Problems, heal: bool) -> dict[str, Any] | None:
    """An inject/heal step checked against its fault's declaration; the args keep the values as written
    (the faults re-read them through the same declaration). A heal names only what it matches on."""
    if not isinstance(body, dict):
        p.add(where, f"expected {{fault: NAME, ...}}, got {body!r}")
        return None
    fault = body.get("fault")
    names = HEALABLE if heal else tuple(FAULTS)
    if fault not in names:
        what = "fault that can be healed" if heal and fault in FAULTS else "fault"
        p.add(f"{where}.fault", f"unknown {what} {fault!r} (known: {', '.join(names)})")
        return None
    _, problems = parse_params(FAULTS[fault].params, body, owner=fault, ignore=("fault",), partial=heal)
    _add_problems(problems, where, p)
    return None if problems else dict(body)


def _sleep(body: Any, where: str, p: _Problems) -> dict[str, Any] | None:
    seconds = _duration(body, where, p)
    return None if seconds is None else {"duration": body, "duration_s": seconds}


def _unknown_keys(body: Mapping[str, Any], known: Iterable[str], where: str, p: _Problems) -> None:
    known = tuple(known)
    for key in body:
        if key not in known:
            p.add(f"{where}.{key}", f"unknown parameter (known: {', '.join(known)})")


_STEP_PARSERS = {
    "boot": _boot,
    "wait_for": _wait_for,
    "probe": _probe,
    "inject": lambda body, where, p: _fault_args(body, where, p, heal=False),
    "heal": lambda body, where, p: _fault_args(body, where, p, heal=True),
    "sleep": _sleep,
}


def _expect(value: Any, p: _Problems) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        p.add("expect", f"expected a list of {{check: NAME, ...}}, got {value!r}")
        return []
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        checked = _expect_item(item, f"expect[{i}]", p)
        if checked is not None:
            out.append(checked)
    names = [str(item.get("name") or item.get("check")) for item in out]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        p.add("expect", f"two checks are named {dup!r}: give one a `name:` so results can tell them apart")
    return out


def _expect_item(item: Any, where: str, p: _Problems) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        p.add(where, f"expected {{check: NAME, ...}}, got {item!r}")
        return None
    check = item.get("check")
    if check not in CHECK_PARAMS:
        p.add(f"{where}.check", f"unknown check {check!r} (known: {', '.join(CHECK_PARAMS)})")
        return None
    _, problems = parse_params(CHECK_PARAMS[check], item, owner=check, ignore=COMMON_KEYS)
    _add_problems(problems, where, p)
    label = item.get("name", "x")
    if not isinstance(label, str) or not label.strip():
        p.add(f"{where}.name", f"expected a non-empty string, got {label!r}")
    return dict(item)


# ---------------------------------------------------------------- one piece at a time (lab/cluster.py)
# The pytest plugin's methods are a scenario written as calls: each is checked by the parser a file's
# item goes through, so a bad argument reads the same, `source` naming where it was written (test_x.py:12).


def parse_daemon(value: Any, source: str) -> dict[str, Any]:
    """A `daemon:` mapping; raises ScenarioError with every problem."""
    p = _Problems(source)
    out = _daemon(value, p)
    if p.errors:
        raise ScenarioError(p.errors)
    return out


def parse_step(kind: str, body: Any, source: str) -> Step:
    """One step (`inject`, {fault: power_off, node: bob}); raises ScenarioError with every problem."""
    p = _Problems(source)
    parser = _STEP_PARSERS.get(kind)
    if parser is None:
        raise ScenarioError([f"{source}: unknown step {kind!r} (known: {', '.join(STEP_KINDS)})"])
    args = parser(body, kind, p)
    if p.errors or args is None:
        raise ScenarioError(p.errors or [f"{source}: {kind}: invalid {body!r}"])
    return Step(kind=kind, args=args, where=source)


def parse_expect_item(item: Any, source: str) -> dict[str, Any]:
    """One `expect:` item ({check: takeover_latency, max: 1s}); raises ScenarioError with every problem."""
    p = _Problems(source)
    out = _expect_item(item, "expect", p)
    if p.errors or out is None:
        raise ScenarioError(p.errors)
    return out


def _add_problems(problems: Iterable[Problem], where: str, p: _Problems) -> None:
    for problem in problems:
        p.add(f"{where}.{problem.path}" if problem.path else where, problem.message)


def validate_for_backend(scenario: Scenario, backend: str) -> list[str]:
    """Problems running `scenario` on `backend` (fence_docker fences containers: docker only; a fault
    declared with `backends` runs only there)."""
    errors = [
        f"{step.where}.{step.kind}.fault: {decl.name} needs the {' or '.join(decl.backends)} backend "
        f"({decl.backends_why}; this run uses {backend})"
        for step in scenario.steps
        if step.kind in ("inject", "heal")
        and (decl := FAULTS.get(str(step.args.get("fault")))) is not None
        and decl.backends is not None
        and backend not in decl.backends
    ]
    errors += _image_problems(scenario, backend)
    errors += _pacemaker_problems(scenario, backend)
    fencing = scenario.daemon.get("fencing")
    backends = FENCING[fencing].backends if isinstance(fencing, str) and fencing in FENCING else None
    if backends is not None and backend not in backends:
        where = scenario.path or scenario.name
        return [
            *errors,
            f"{where}: daemon.fencing: {fencing} needs the {' or '.join(backends)} backend "
            f"(this run uses {backend}: try --backend {backends[0]})",
        ]
    return errors


def _image_problems(scenario: Scenario, backend: str) -> list[str]:
    """A topology whose nodes run from an image variant (real services) needs a backend with images."""
    from lab.spec.topology import TopologyError, load_topology

    try:
        image = load_topology(scenario.topology).image
    except TopologyError:
        return []  # reported where the topology is loaded, with its file and path
    if image is None or backend == "docker":
        return []
    where = scenario.path or scenario.name
    return [
        f"{where}: topology {scenario.topology}: its nodes run from the image variant {image} (real "
        f"services: lab/images/variants.yaml), which needs the docker backend (this run uses {backend})"
    ]


# Why `daemon: pacemaker` nodes need the docker backend (tests/unit/test_shipped_scenarios.py shows it too).
PACEMAKER_NEEDS_DOCKER = (
    "Corosync and Pacemaker keep their files at fixed paths (/etc/corosync, /var/lib/pacemaker, /run): "
    "each node needs a machine of its own, and the pacemaker node image"
)


def _pacemaker_problems(scenario: Scenario, backend: str) -> list[str]:
    """A topology with `daemon: pacemaker` nodes runs only where each node is a container."""
    from lab.spec.topology import TopologyError, load_topology

    try:
        nodes = [n.name for n in load_topology(scenario.topology).nodes if n.daemon == "pacemaker"]
    except TopologyError:
        return []  # reported where the topology is loaded, with its file and path
    if not nodes or backend == "docker":
        return []
    where = scenario.path or scenario.name
    return [
        f"{where}: topology {scenario.topology}: nodes {', '.join(nodes)} run daemon: pacemaker, which needs "
        f"the docker backend ({PACEMAKER_NEEDS_DOCKER}; this run uses {backend}: try --backend docker)"
    ]


_THING = {"node": "node", "link": "link", "serial": "serial line"}


def validate_against_topology(
    scenario: Scenario, nodes: Iterable[str], links: Iterable[str], serials: Iterable[str] = ()
) -> list[str]:
    """Problems with node and link names the topology does not have (the runner calls this before booting)."""
    nodes, links, serials = set(nodes), set(links), set(serials)
    known = {"node": nodes, "link": links, "serial": serials}
    errors: list[str] = []

    def need(names: Iterable[str], known: set[str], what: str, where: str) -> None:
        for n in names:
            if n not in known:
                errors.append(
                    f"{where}: unknown {what} {n!r} in topology {scenario.topology!r} "
                    f"(known: {', '.join(sorted(known)) or 'none'})"
                )

    for step in scenario.steps:
        a = step.args
        if step.kind == "boot":
            need(a["nodes"], nodes, "node", f"{step.where}.boot.nodes")
        elif step.kind == "wait_for" and a.get("node"):
            need([a["node"]], nodes, "node", f"{step.where}.wait_for.node")
        elif step.kind in ("inject", "heal"):
            at = f"{step.where}.{step.kind}"
            for key, what in names_in(FAULTS[a["fault"]].params).items():
                if a.get(key) is not None:
                    values = a[key] if isinstance(a[key], list) else [a[key]]
                    need(values, known[what], _THING[what], f"{at}.{key}")
    return errors
