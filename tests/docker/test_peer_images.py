"""Peer daemon images (keepalived, Debian's heartbeat 3.0.6) come from the same build mechanism and carry
their daemon next to hbd. Slow the first time (a debootstrap each), cached afterwards."""

from __future__ import annotations

import docker
import pytest

from lab.backends.docker import dockerd
from lab.backends.docker.image import ensure_image

pytestmark = pytest.mark.docker


def _run(image: str, argv: list[str]) -> str:
    client = docker.from_env()
    try:
        out = client.containers.run(image, argv, remove=True, network_mode="none", stderr=True)
        return out.decode(errors="replace")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("variant", "argv", "expected"),
    [
        ("keepalived", ["keepalived", "--version"], "Keepalived v2."),
        ("heartbeat", ["dpkg-query", "-W", "heartbeat"], "3.0.6"),
    ],
)
def test_peer_image_carries_its_daemon_and_hbd(
    engine: dockerd.EngineState, variant: str, argv: list[str], expected: str
) -> None:
    image = ensure_image(variant)
    assert expected in _run(image, argv)
    assert "usage" in _run(image, ["/opt/hbd/bin/python", "-m", "hbd.cli", "--help"]).lower()
    assert ensure_image(variant) == image  # the second build is the cache


def test_heartbeat_image_has_the_classic_layout(engine: dockerd.EngineState) -> None:
    listing = _run(ensure_image("heartbeat"), ["ls", "/etc/ha.d", "/usr/lib/heartbeat"])
    assert "resource.d" in listing
    assert "heartbeat" in listing  # the daemon binary in /usr/lib/heartbeat
