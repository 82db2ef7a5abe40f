"""The reload fault's file edits (lab/faults/config.py): ha.cf lines replaced, authkeys rotated alike on
every node without the scenario writing a key."""

from __future__ import annotations

import pytest

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from lab.faults.config import rotate_authkeys, set_hacf_lines

KEYS = "auth 1\n1 sha256 run-secret\n"


def parsed(text: str):
    diag = Diagnostics("authkeys")
    auth = parse_authkeys(text, diag)
    return auth, [str(p) for p in diag.errors]


def test_set_replaces_every_line_of_a_directive_and_adds_new_ones() -> None:
    text = "node bob bobek\nkeepalive 50ms\ndeadtime 300ms\nbcast eth1\n"
    out = set_hacf_lines(text, ["keepalive 100ms", "warntime 200ms"])
    assert out == "node bob bobek\ndeadtime 300ms\nbcast eth1\nkeepalive 100ms\nwarntime 200ms\n"


def test_rotation_steps_keep_old_keys_and_derive_the_same_new_key_everywhere() -> None:
    both = rotate_authkeys(KEYS, [1, 2], None)
    assert both == rotate_authkeys(
        KEYS, [1, 2], None
    )  # a pure function of the shared file: same on every node
    auth, errors = parsed(both)
    assert not errors and auth.active == 1 and [k.index for k in auth.keys] == [1, 2]
    assert auth.key(1) is not None and auth.key(1).key == b"run-secret"
    new_key = auth.key(2)
    assert new_key is not None and new_key.method == "sha256" and new_key.key not in (b"", b"run-secret")
    switched, _ = parsed(rotate_authkeys(both, None, 2))
    assert switched.active == 2 and switched.keys == auth.keys
    final, _ = parsed(rotate_authkeys(rotate_authkeys(both, None, 2), [2], None))
    assert final.active == 2 and final.keys == (new_key,)


def test_signing_with_a_key_the_file_lacks_is_written_for_hbd_to_refuse() -> None:
    _, errors = parsed(rotate_authkeys(KEYS, None, 3))
    assert errors and "auth 3: no key with index 3" in errors[0]
    with pytest.raises(ValueError, match="authkeys"):
        rotate_authkeys("auth 1\n", [1], None)
