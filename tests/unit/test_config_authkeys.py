"""authkeys parsing (heartbeat.md §4), permissions, and key material kept out of messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.model import AuthConfig, AuthKey
from hbd.config.permission import check_file, trusted_owners


def parse(text: str) -> tuple[AuthConfig, Diagnostics]:
    diag = Diagnostics("authkeys")
    return parse_authkeys(text, diag), diag


def test_methods_and_rotation_table() -> None:
    auth, diag = parse("# comment\nauth 2\n1 sha1 oldkey\n2 sha256 newkey#with-hash\n3 md5 k3\n0 crc\n")
    assert diag.errors == []
    assert auth.active == 2
    assert auth.keys == (
        AuthKey(0, "crc"),
        AuthKey(1, "sha1", b"oldkey"),
        AuthKey(2, "sha256", b"newkey#with-hash"),  # only a leading '#' is a comment, as in heartbeat
        AuthKey(3, "md5", b"k3"),
    )
    assert auth.signing_key.method == "sha256"
    assert [p.message for p in diag.warnings] == ["index 0: crc authenticates nothing"]


def test_method_names_any_case_and_raw_key_bytes() -> None:
    raw = "auth 1\n1 SHA1 k\udcff\udcfe\n"  # undecodable bytes survive via surrogateescape
    auth, diag = parse(raw)
    assert diag.errors == []
    assert auth.signing_key == AuthKey(1, "sha1", b"k\xff\xfe")


def test_index_range() -> None:
    auth, diag = parse("auth 15\n15 sha256 a\n0 sha256 b\n")
    assert diag.errors == [] and auth.active == 15
    _, diag = parse("auth 1\n1 sha256 a\n16 sha256 b\n")
    assert [str(p) for p in diag.errors] == [
        "authkeys:3: bad line (auth N, or N METHOD [KEY] with N in 0..15)"
    ]


def test_missing_auth_line() -> None:
    _, diag = parse("1 sha1 key\n")
    assert [str(p) for p in diag.errors] == ["authkeys: no auth line (add: auth N (the index that signs))"]


@pytest.mark.parametrize(
    "text",
    [
        "auth 1\n1 sha1 VerySecretKey1 VerySecretKey2\n",
        "auth 1\nVerySecretKey\n1 sha256 OtherSecretKey\n",
        "auth 1\n1 VerySecretKey\n",
        "auth VerySecretKey\n",
        "auth 1\n1 crc VerySecretKey\n",
        "auth 2\n1 sha1 VerySecretKey\n",
    ],
)
def test_key_material_never_in_messages(text: str) -> None:
    _, diag = parse(text)
    assert diag.errors, "each of these is an error"
    for problem in diag.errors + diag.warnings:
        assert "Secret" not in str(problem)


@pytest.mark.parametrize(
    ("mode", "bad"),
    [
        (0o600, False),
        (0o400, False),
        (0o700, False),
        (0o620, True),  # heartbeat let a group-writable key file pass
        (0o602, True),
        (0o610, True),
        (0o640, True),
        (0o604, True),
        (0o644, True),
        (0o660, True),
    ],
)
def test_permissions(tmp_path: Path, mode: int, bad: bool) -> None:
    path = tmp_path / "authkeys"
    path.write_text("auth 1\n1 sha256 key\n")
    os.chmod(path, mode)
    diag = Diagnostics(str(path))
    check_file(os.stat(path), path, diag, secret=True, owners=trusted_owners())
    if bad:
        (problem,) = diag.errors
        assert problem.message.startswith(f"bad permissions {mode:04o} on the key file: ")
        assert problem.message.endswith(" by group or others")
        assert problem.hint == f"heartbeat requires 600: chmod 600 {path}"
    else:
        assert diag.errors == []
