"""Image variants file and mirror discovery: clear errors, stable hashes (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.backends.docker import image


def test_shipped_variants_include_the_peer_daemons() -> None:
    spec = image.load_spec()
    assert {"hbd", "keepalived", "heartbeat"} <= set(spec.variants)
    assert "heartbeat" in spec.variants["heartbeat"].packages
    assert "python3" in spec.base_packages


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("suite: 12\nbase_packages: [a]\nvariants: {x: {packages: []}}\n", "suite"),
        ("suite: bookworm\nbase_packages: a\nvariants: {x: {packages: []}}\n", "base_packages"),
        ("suite: bookworm\nbase_packages: [a]\nvariants: {}\n", "variants"),
        ("suite: bookworm\nbase_packages: [a]\nvariants: {Bad_Name: {packages: []}}\n", "variants.Bad_Name"),
        ("suite: bookworm\nbase_packages: [a]\nvariants: {x: {packages: [1]}}\n", "variants.x.packages"),
        ("suite: bookworm\nbase_packages: [a]\nvariants: {x: {pkgs: []}}\n", "variants.x"),
        ("suite: [unclosed\n", "cannot read"),
    ],
)
def test_bad_variants_file_names_file_and_path(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "variants.yaml"
    path.write_text(text)
    with pytest.raises(image.ImageError) as err:
        image.load_spec(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert image.debian_mirror("bookworm", (tmp_path,)) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main contrib\n"
    )
    assert image.debian_mirror("bookworm", (sources,)) == "http://one.example/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "other.list").write_text("deb http://x.example/ubuntu jammy main\n")
    with pytest.raises(image.ImageError, match="no Debian mirror for suite 'bookworm'"):
        image.debian_mirror("bookworm", (tmp_path,))


def test_tags_are_stable_and_follow_their_inputs() -> None:
    spec = image.load_spec()
    first = image.plan("hbd", spec, "http://mirror.example/debian")
    again = image.plan("hbd", spec, "http://mirror.example/debian")
    assert first == again
    other_mirror = image.plan("hbd", spec, "http://elsewhere.example/debian")
    assert other_mirror.base_tag != first.base_tag
    peer = image.plan("heartbeat", spec, "http://mirror.example/debian")
    assert peer.base_tag.startswith("hbl-base-heartbeat:") and peer.node_tag.startswith("hbl-heartbeat:")
    assert peer.base_tag.split(":")[1] != first.base_tag.split(":")[1]


def test_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(image.ImageError, match="known: fence-agents, hbd, heartbeat, keepalived"):
        image.plan("nginx", mirror="http://mirror.example/debian")
