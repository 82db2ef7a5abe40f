"""A Configuration in crmsh's `configure` syntax (`crm configure load update FILE`)."""

from __future__ import annotations

import re

from hbd.export.model import Configuration, Location, Primitive, comment_text, ms_text

_PLAIN = re.compile(r"[A-Za-z0-9_.:/@%+,=-]+")


def value(text: str) -> str:
    """A parameter value as crmsh reads it: bare when plain, else double-quoted."""
    if _PLAIN.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    return " ".join(f"{name}={value(v)}" for name, v in pairs)


def render(config: Configuration, header: list[str]) -> str:
    lines = [f"# {comment_text(line)}" if line else "#" for line in header]
    lines += [f"node {nodeid}: {name}" for nodeid, name in config.nodes]
    lines += [_primitive(p) for p in config.primitives]
    for group in config.groups:
        text = f"group {group.id} {' '.join(group.members)}"
        if group.meta:
            text += f" \\\n\tmeta {_pairs(group.meta)}"
        lines.append(text)
    lines += [f"clone {clone.id} {clone.member}" for clone in config.clones]
    lines += [_location(location) for location in config.locations]
    if ("stonith-enabled", "false") in config.properties:
        lines.append("# WARNING: fencing disabled (no stonith_host lines): unsafe, see the top of this file")
    props = " \\\n\t".join(f"{name}={value(v)}" for name, v in config.properties)
    lines.append(f"property cib-bootstrap-options: \\\n\t{props}")
    if config.rsc_defaults:
        lines.append(f"rsc_defaults rsc-options: {_pairs(config.rsc_defaults)}")
    if config.op_defaults:
        lines.append(f"op_defaults op-options: {_pairs(config.op_defaults)}")
    return "\n".join(lines) + "\n"


def _primitive(primitive: Primitive) -> str:
    parts = [f"primitive {primitive.id} {primitive.agent}"]
    if primitive.params:
        parts.append(f"params {_pairs(primitive.params)}")
    if primitive.meta:
        parts.append(f"meta {_pairs(primitive.meta)}")
    for op in primitive.ops:
        text = f"op {op.name} interval={ms_text(op.interval_ms) if op.interval_ms else '0s'}"
        if op.timeout_ms is not None:
            text += f" timeout={ms_text(op.timeout_ms)}"
        parts.append(text)
    return " \\\n\t".join(parts)


def _location(location: Location) -> str:
    if location.node is not None:
        return f"location {location.id} {location.rsc} {location.score}: {location.node}"
    score = location.score_attribute or location.score
    return f"location {location.id} {location.rsc} rule {score}: defined {location.rule_attribute}"
