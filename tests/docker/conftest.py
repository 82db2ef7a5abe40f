"""Fixtures for the Docker backend tests: the engine (started if needed, stopped if we started it),
the node image (built once per session, cached by content hash across sessions), and labs that are
destroyed even when a test fails."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.backends.docker import dockerd
from lab.backends.docker.backend import DockerBackend
from lab.spec.names import new_run_id
from lab.spec.topology import Topology, load_topology


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "docker tests need root (to start dockerd and enter container namespaces)"
    if shutil.which("dockerd") is None and not dockerd.engine_answers():
        return "no Docker engine: apt-get install docker.io"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (the node image is built from scratch)"
    return None


@pytest.fixture(scope="session")
def engine() -> Iterator[dockerd.EngineState]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    was_running = dockerd.engine_answers()
    state = dockerd.ensure_running()
    yield state
    if not was_running:  # stop exactly what this session started, nothing that ran before it
        dockerd.stop_if_ours()


@pytest.fixture(scope="session")
def hbd_image(engine: dockerd.EngineState) -> str:
    from lab.backends.docker.image import ensure_image

    return ensure_image("hbd")


@pytest.fixture
def make_lab(hbd_image: str, tmp_path: Path) -> Iterator[Callable[..., DockerBackend]]:
    labs: list[DockerBackend] = []

    def make(topology: str | Topology = "two-node") -> DockerBackend:
        topo = load_topology(topology) if isinstance(topology, str) else topology
        lab = DockerBackend(topo, new_run_id(), tmp_path / f"lab{len(labs)}", image=hbd_image)
        labs.append(lab)
        lab.create()
        return lab

    yield make
    for lab in labs:
        lab.destroy()
