"""The Docker node image gets hbd's runtime dependencies from pyproject.toml (no second list to forget), and
from the lab extra what node programs need (scapy, for the attack faults)."""

from __future__ import annotations

from pathlib import Path

from lab.backends.docker.image import dependency_pins, node_lab_deps, runtime_deps


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


def test_node_lab_deps_are_the_lab_extras_node_packages(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = []\n'
        '[project.optional-dependencies]\nlab = ["matplotlib>=3.7", "docker>=7", "scapy>=2.5"]\n'
    )
    assert node_lab_deps(pyproject) == ("scapy",)  # matplotlib and the docker SDK are for the host
    (tmp_path / "bare.toml").write_text('[project]\nname = "x"\ndependencies = []\n')
    assert node_lab_deps(tmp_path / "bare.toml") == ()


def test_the_node_image_pins_scapy_for_the_attack_programs():
    assert "scapy" in {pin.split("==")[0].lower() for pin in dependency_pins()}
