"""The pytest plugin without root: its markers skip with the reason, an unmarked test that asks for a
cluster fails saying which marker would have skipped it, and its options are there (via the entry point)."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

USES_THE_LAB = """
import pytest

@pytest.mark.hblab_root
def test_netns(hblab_cluster):
    hblab_cluster("two-node")

@pytest.mark.hblab_docker
def test_docker(hblab_cluster):
    hblab_cluster("two-node", backend="docker")

def test_unmarked(hblab_cluster):
    hblab_cluster("two-node")
"""


def test_markers_skip_with_the_reason_when_not_root(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    pytester.makepyfile(test_lab=USES_THE_LAB)
    result = pytester.runpytest("-rsf", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [[]1[]] test_lab.py:*: hblab netns clusters need root (network namespaces)",
            "SKIPPED [[]1[]] test_lab.py:*: hblab docker clusters need root (*)",
            "*hblab_cluster: hblab netns clusters need root (network namespaces)"
            " (mark the test `hblab_root` to skip it instead)",
        ]
    )


def test_options_and_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--hblab-backend=*", "*--hblab-runs-root=DIR*"])
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.hblab_root: *", "@pytest.mark.hblab_docker: *"])


def test_an_unknown_backend_is_refused(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--hblab-backend=vm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hblab-backend: invalid choice: 'vm'*"])
