"""A Configuration as a shell script of pcs (0.11) commands: they edit an offline copy of the CIB
(`pcs -f FILE`) and push it once at the end, so a failing command changes nothing in the cluster."""

from __future__ import annotations

import shlex

from hbd.export.model import Configuration, Location, Primitive, ms_text


def _pairs(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [shlex.quote(f"{name}={value}") for name, value in pairs]


def render(config: Configuration, header: list[str]) -> str:
    lines = ["#!/bin/sh", *(f"# {line}" if line else "#" for line in header)]
    lines += [
        "# The nodes and their ids come from corosync.conf (written beside this script).",
        "set -eu",
        'CIB="${CIB:-hbd-export-cib.xml}"',
        "# PCS_OPTS=--force creates resources whose agents are not installed here (yet)",
        'PCS_OPTS="${PCS_OPTS:-}"',
        'pcs cluster cib "$CIB"',
    ]
    pcs = 'pcs -f "$CIB"'
    if ("stonith-enabled", "false") in config.properties:
        lines.append("# WARNING: fencing disabled (no stonith_host lines): unsafe, see the top of this file")
    lines += [f"{pcs} property set {' '.join(_pairs(config.properties))}"]
    group_of = {member: group.id for group in config.groups for member in group.members}
    for primitive in config.primitives:
        lines.append(f"{pcs} $PCS_OPTS {_create(primitive, group_of.get(primitive.id))}")
        if not any(op.name == "monitor" for op in primitive.ops):
            # pcs gives every resource a monitor operation; hbd watched this one with none, nor do crm and cib
            noun = "stonith" if primitive.standard == "stonith" else "resource"
            lines.append(
                f"{pcs} {noun} op {'delete' if noun == 'stonith' else 'remove'} {primitive.id} monitor"
            )
    for group in config.groups:
        if group.meta:
            lines.append(f"{pcs} resource meta {group.id} {' '.join(_pairs(group.meta))}")
    for clone in config.clones:
        lines.append(f"{pcs} resource clone {clone.member}")  # pcs names it <member>-clone
        if clone.id != f"{clone.member}-clone":
            raise ValueError(f"pcs names the clone of {clone.member} {clone.member}-clone, not {clone.id}")
    lines += [f"{pcs} {_location(location)}" for location in config.locations]
    if config.rsc_defaults:
        lines.append(f"{pcs} resource defaults update {' '.join(_pairs(config.rsc_defaults))}")
    if config.op_defaults:
        lines.append(f"{pcs} resource op defaults update {' '.join(_pairs(config.op_defaults))}")
    lines.append('pcs cluster cib-push "$CIB" --config')
    return "\n".join(lines) + "\n"


def _create(primitive: Primitive, group: str | None) -> str:
    words = (
        ["stonith", "create", primitive.id, primitive.type]
        if primitive.standard == "stonith"
        else ["resource", "create", primitive.id, primitive.agent]
    )
    words += _pairs(primitive.params)
    if primitive.meta:
        words += ["meta", *_pairs(primitive.meta)]
    for op in primitive.ops:
        words += ["op", op.name, f"interval={ms_text(op.interval_ms) if op.interval_ms else '0s'}"]
        if op.timeout_ms is not None:
            words.append(f"timeout={ms_text(op.timeout_ms)}")
    if group is not None:
        words += ["--group", group]
    words.append("--no-default-ops")  # no start/stop timeouts from the agent: op_defaults holds hbd's
    return " ".join(words)


def _location(location: Location) -> str:
    if location.node is not None:
        score = location.score
        # `--` ends pcs's options, so a negative score is not read as one
        score = f"-- {score}" if score.startswith("-") else score
        return f"constraint location add {location.id} {location.rsc} {location.node} {score}"
    score = (
        f"score-attribute={location.score_attribute}"
        if location.score_attribute
        else f"score={location.score}"
    )
    return (
        f"constraint location {location.rsc} rule constraint-id={location.id} {score} "
        f"defined {location.rule_attribute}"
    )
