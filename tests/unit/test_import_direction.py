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
    "hbd.export": {"hbd.config"},  # hbd export pacemaker: reads the config, nothing of the daemon
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


# What the lab may use of hbd: its config (to render each node's files), its event names (the contract of
# events.jsonl) and its wire codec (to forge and dissect heartbeats). Never the core or the daemon.
LAB_MAY_USE_OF_HBD = ("hbd.config", "hbd.event_names", "hbd.wire")


def test_the_lab_uses_only_hbds_contracts_never_the_core() -> None:
    for path in modules("lab"):
        bad = {
            name
            for name in imports_of(path)
            if name.split(".")[0] == "hbd"
            and not any(name == ok or name.startswith(ok + ".") for ok in LAB_MAY_USE_OF_HBD)
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


# Inside the lab (DESIGN.md): spec <- backends <- faults <- runner; checks read only the history; nothing
# imports upward. Each lab package: the lab packages it may import besides itself.
LAB_ALLOWED: dict[str, set[str]] = {
    "lab.paths": set(),
    "lab.node": set(),  # programs that run inside a node: the standard library and each other
    "lab.spec": {"lab.paths"},
    "lab.history": {"lab.paths"},
    "lab.backends": {"lab.paths", "lab.spec", "lab.node"},
    "lab.backends.docker": {"lab.paths", "lab.spec", "lab.node", "lab.backends"},
    "lab.checks": {"lab.spec", "lab.history"},
    "lab.faults": {"lab.paths", "lab.spec", "lab.backends"},
    "lab.render": {"lab.paths", "lab.spec", "lab.history", "lab.backends"},
    # daemon: pacemaker nodes: hbd's files rendered, then exported (hbd's exporter runs as a command)
    "lab.pacemaker": {"lab.paths", "lab.spec", "lab.backends", "lab.render"},
    "lab.analysis": {"lab.paths", "lab.spec", "lab.history", "lab.checks", "lab.node"},
    "lab.runner": {
        "lab.paths", "lab.spec", "lab.history", "lab.backends", "lab.faults", "lab.checks", "lab.analysis",
        "lab.render", "lab.pacemaker",
    },
    "lab.bench": {
        "lab.paths", "lab.spec", "lab.history", "lab.backends", "lab.backends.docker", "lab.faults",
        "lab.checks", "lab.analysis", "lab.render", "lab.runner",
    },
    # The top: a scenario driven call by call, and the pytest plugin that hands such clusters out.
    "lab.cluster": {
        "lab.paths", "lab.spec", "lab.history", "lab.backends", "lab.checks", "lab.runner",
    },
    "lab.pytest_plugin": {"lab.cluster", "lab.backends.docker"},
}  # fmt: skip


def lab_package_of(module: str) -> str:
    """The LAB_ALLOWED key a lab module belongs to (the longest one that is a prefix)."""
    keys = [k for k in [*LAB_ALLOWED, "lab.cli"] if module == k or module.startswith(k + ".")]
    return max(keys, key=len) if keys else module


def lab_modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted((ROOT / "lab").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found.append((name, path))
    return found


def test_every_lab_module_has_a_layer() -> None:
    for name, path in lab_modules():
        if name in ("lab", "lab.cli"):
            continue
        where = path.relative_to(ROOT)
        assert lab_package_of(name) in LAB_ALLOWED, f"{where}: add its package to LAB_ALLOWED"


@pytest.mark.parametrize("package", sorted(LAB_ALLOWED))
def test_lab_imports_point_one_way(package: str) -> None:
    for name, path in lab_modules():
        if lab_package_of(name) != package:
            continue
        for imported in imports_of(path):
            if not imported.startswith("lab.") or lab_package_of(imported) == package:
                continue
            where = path.relative_to(ROOT)
            assert lab_package_of(imported) in LAB_ALLOWED[package], f"{where} imports {imported}"
