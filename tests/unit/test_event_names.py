"""Event names are a contract: hbd/event_names.py, docs/CONTRACTS.md and the code's emit calls agree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hbd import event_names

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "docs" / "CONTRACTS.md"
# Callables whose first argument is an event name.
EMITTERS = {"emit", "Emit", "_emit", "_emit_from_resources"}
NAME_RE = re.compile(r"[a-z_]+(\.[a-z_]+)+")


def documented() -> set[str]:
    """Names in the first column of the events.jsonl table (`a` / `b` rows name two events)."""
    text = CONTRACTS.read_text()
    section = text.split("## events.jsonl", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([^`]+)`", first_cell))
    return names


def emitted_literals() -> dict[str, list[str]]:
    """String literals passed as the event name to an emit call anywhere in hbd/: where they are."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "hbd").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            candidates = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            if name in EMITTERS:
                for arg in candidates:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_constant_is_documented_and_every_documented_name_is_a_constant() -> None:
    doc = documented()
    assert doc, "no event table found in docs/CONTRACTS.md"
    assert sorted(event_names.ALL - doc) == [], "emitted but not documented in docs/CONTRACTS.md"
    assert sorted(doc - event_names.ALL) == [], "documented but not in hbd/event_names.py"


def test_every_name_emitted_as_a_literal_is_listed() -> None:
    unlisted = {name: where for name, where in emitted_literals().items() if name not in event_names.ALL}
    assert unlisted == {}, "add these to hbd/event_names.py and docs/CONTRACTS.md"


def test_every_listed_name_is_emitted_somewhere() -> None:
    """A name nobody emits any more must leave the list and the doc (the "every documented name emitted"
    direction): each constant is used by name, or its text appears, somewhere in hbd/ outside the list."""
    names: set[str] = set()
    texts: set[str] = set()
    for path in sorted((ROOT / "hbd").rglob("*.py")):
        if path.name == "event_names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.add(node.value)
    constants = {k: v for k, v in vars(event_names).items() if k.isupper() and isinstance(v, str)}
    unused = sorted(v for k, v in constants.items() if k not in names and v not in texts)
    assert unused == [], "listed and documented, but nothing in hbd/ emits them"


def test_the_core_and_the_daemon_emit_constants_not_literals() -> None:
    literal = {
        name: [w for w in where if w.startswith(("hbd/core/", "hbd/daemon.py"))]
        for name, where in emitted_literals().items()
    }
    assert {name: where for name, where in literal.items() if where} == {}


def test_constants_are_well_formed_and_unique() -> None:
    constants = {k: v for k, v in vars(event_names).items() if k.isupper() and isinstance(v, str)}
    assert set(constants.values()) == event_names.ALL
    assert len(constants) == len(event_names.ALL), "two constants share a name"
    for const, value in constants.items():
        assert NAME_RE.fullmatch(value), value
        assert const == value.upper().replace(".", "_"), f"{const} should be named after {value}"
