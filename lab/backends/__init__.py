"""Ways of running a topology's nodes, behind one protocol (base.py): network namespaces and Docker.

`make_backend` is the one place that maps a backend's name to its class; everything else holds a
`Backend` and asks it (its methods and `capabilities`), never which one it is.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from lab.backends.base import Backend, Capabilities, LabError
from lab.spec.topology import Topology

# name -> "module:class". Named, not imported: a backend's module is loaded only when a run asks for it
# (the docker backend needs the docker SDK, a lab-only dependency), and this package stays below
# lab.backends.docker, which builds on it (tests/unit/test_import_direction.py).
BACKENDS = {
    "netns": "lab.backends.netns:NetnsBackend",
    "docker": "lab.backends.docker.backend:DockerBackend",
}
BACKEND_NAMES = tuple(BACKENDS)


def backend_class(name: str) -> type[Backend]:
    """The class of the backend called `name` (its `capabilities` are known before any run exists)."""
    where = BACKENDS.get(name)
    if where is None:
        raise LabError(f"unknown backend {name!r} (known: {', '.join(BACKEND_NAMES)})")
    module, cls = where.split(":")
    found: type[Backend] = getattr(importlib.import_module(module), cls)
    return found


def capabilities_of(name: str) -> Capabilities:
    """What the backend called `name` offers (Backend.capabilities), without building anything."""
    return backend_class(name).capabilities


def make_backend(name: str, topology: Topology, run_id: str, lab_dir: Path) -> Backend:
    """A backend for `topology` (not created yet); `lab_dir` holds the run's node dirs and logs."""
    return backend_class(name)(topology, run_id, lab_dir)
