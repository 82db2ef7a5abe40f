"""The Docker node image gets hbd's runtime dependencies from pyproject.toml (no second list to forget)."""

from __future__ import annotations

from pathlib import Path

from lab.backends.docker.image import dependency_pins, runtime_deps


def test_runtime_deps_are_pyprojects_dependencies(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["prometheus_client>=0.17", "pyroute2 >= 0.7", "pyyaml",'
        ' "foo[bar]~=1.0; python_version>\'3\'"]\n'
    )
    assert runtime_deps(pyproject) == ("prometheus_client", "pyroute2", "pyyaml", "foo")


def test_the_node_image_pins_prometheus_client_with_the_other_runtime_deps():
    names = {pin.split("==")[0].lower() for pin in dependency_pins()}
    assert {"prometheus_client", "pyroute2", "pyserial", "pyyaml"} <= names
