"""The status heartbeat's codec: what the machine encodes is what the peer decodes, through the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hbd.config.model import AuthConfig, AuthKey
from hbd.core.status import NodeState, PeerStatus, StatusError, decode_status, encode_status
from hbd.wire.codec import decode, encode
from hbd.wire.message import Message

AUTH = AuthConfig(1, (AuthKey(1, "sha256", b"k"),))
# Group keys are haresources tokens: no blanks, never empty.
keys = st.frozensets(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30))
statuses = st.builds(
    PeerStatus,
    state=st.sampled_from(NodeState),
    holds=keys,
    failed=keys,
    stop_failed=keys,
    standby=keys,
    ping_nodes=st.none() | st.integers(0, 2**63),
    heard=st.none() | st.integers(0, 2**63),
    generation=st.integers(0, 2**64 - 1),
    config_digest=st.text("0123456789abcdef", max_size=12),
    deadtime_ms=st.none() | st.integers(0, 2**64 - 1),
)


@given(statuses)
def test_decode_inverts_encode(status: PeerStatus) -> None:
    assert decode_status(dict(encode_status(status)), status.generation) == status


@given(statuses)
def test_round_trip_through_the_wire(status: PeerStatus) -> None:
    header = (("src", "bob"), ("seq", "1"), ("hg", format(status.generation, "x")))
    packet = encode(Message.of([*encode_status(status), *header]), AUTH)
    message = decode(packet, AUTH)
    assert message.generation == status.generation
    assert decode_status(dict(message.fields), status.generation) == status


def test_a_missing_state_reads_as_running() -> None:
    assert decode_status({"t": "status"}, 3) == PeerStatus(NodeState.RUNNING, generation=3)


@pytest.mark.parametrize(
    "fields",
    [
        {"st": "up"},  # heartbeat's word, not one hbd sends
        {"st": "ACTIVE"},
        {"ping": "²"},  # str.isdigit() says yes, int() says no: this crashed the receive path
        {"heard": "١٢"},  # Arabic-Indic digits, same trap
        {"ping": "1" * 5000},  # thousands of digits: refused before any conversion
        {"heard": "-1"},
        {"dt": "zz"},
        {"t": "hb_takeover"},
    ],
)
def test_malformed_fields_are_a_status_error(fields: dict[str, str]) -> None:
    with pytest.raises(StatusError):
        decode_status({"t": "status", **fields}, 1)


FIELD_NAMES = ["t", "st", "dt", "hold", "fail", "sfail", "sby", "cfg", "heard", "ping"]


@given(st.dictionaries(st.sampled_from(FIELD_NAMES), st.text()))
def test_any_fields_decode_or_raise_status_error(fields: dict[str, str]) -> None:
    try:
        decode_status(fields, 0)
    except StatusError:
        pass
