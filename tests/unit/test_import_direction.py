"""The layering of DESIGN.md, enforced: the core and the wire codec stay pure, imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMPURE = {"asyncio", "socket", "subprocess", "time", "logging", "os", "select", "selectors", "threading"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    single = ROOT / (package.replace(".", "/") + ".py")
    found = [single] if single.is_file() else sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
    assert found, f"no module {package}"
    return found


@pytest.mark.parametrize("package", ["hbd.core", "hbd.wire", "hbd.event_names"])
def test_pure_layers_do_no_io_and_read_no_clock(package: str) -> None:
    for path in modules(package):
        bad = {name for name in imports_of(path) if name.split(".")[0] in IMPURE}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


ALLOWED = {
    # package: the hbd packages it may import (besides itself)
    "hbd.config": {"hbd.config"},
    "hbd.wire": {"hbd.config.model"},
    "hbd.core": {"hbd.wire", "hbd.config.model", "hbd.event_names"},
    "hbd.event_names": set(),  # the events.jsonl vocabulary: used by every layer and the lab, uses nothing
    "hbd.netlink": set(),  # the kernel's address API: used by transports and resources, uses nothing
    "hbd.transport": {"hbd.config.model", "hbd.wire", "hbd.netlink"},
    "hbd.resources": {"hbd.config", "hbd.wire", "hbd.netlink"},
    "hbd.fencing": {"hbd.config.model"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    for path in modules(package):
        for name in imports_of(path):
            if not name.startswith("hbd.") or name.startswith(package):
                continue
            assert any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[package]), (
                f"{path.relative_to(ROOT)} imports {name}"
            )


def test_the_lab_never_imports_the_core() -> None:
    for path in modules("lab"):
        bad = {name for name in imports_of(path) if name.startswith(("hbd.core", "hbd.daemon"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
