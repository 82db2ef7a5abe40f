import pytest

from hbd.wire.message import Message


def test_build_keeps_order_and_renders_hex_fields():
    msg = Message.build("status", st="active", src="bob", seq=0x2F, hg=0x6B06FBC0, ts=255, dt=7000)
    assert msg.fields == (
        ("t", "status"),
        ("st", "active"),
        ("src", "bob"),
        ("seq", "2f"),
        ("hg", "6b06fbc0"),
        ("ts", "ff"),
        ("dt", "1b58"),
    )
    assert msg.msg_type == "status"
    assert msg.src == "bob"
    assert msg.seq == 0x2F
    assert msg.generation == 0x6B06FBC0
    assert msg.ts == 255
    assert msg.deadtime_ms == 7000
    assert msg.dest is None


def test_accessors_parse_heartbeat_hex_text():
    msg = Message.of([("t", "status"), ("seq", "A"), ("hg", "6b06fbc0"), ("dt", "1b58")])
    assert msg.seq == 10
    assert msg.generation == 0x6B06FBC0
    assert msg.deadtime_ms == 7000
    assert msg.ts is None


def test_get_and_contains():
    msg = Message.of([("t", "ip-request"), ("ipaddr", "10.0.0.1=x")])
    assert msg.get("ipaddr") == "10.0.0.1=x"  # '=' in a value is fine
    assert msg.get("missing") is None
    assert "ipaddr" in msg and "missing" not in msg
    assert msg.names == ("t", "ipaddr")


def test_int_only_for_hex_fields():
    with pytest.raises(TypeError, match="ttl"):
        Message.build("status", ttl=3)  # ttl is decimal on the wire
    with pytest.raises(TypeError):
        Message.build("status", seq=True)
    with pytest.raises(ValueError, match="negative"):
        Message.build("status", seq=-1)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ([("", "x")], "empty field name"),
        ([("a=b", "x")], "contains '='"),
        ([("a\nb", "x")], "contains"),
        ([("(1)uuid", "x")], "starts with"),
        ([("auth", "1 abc")], "auth field"),
        ([("t", "a\nb")], "value contains"),
        ([("t", "a\rb")], "value contains"),
        ([("t", "a\0b")], "value contains"),
        ([("t", "\udc80")], "UTF-8"),
        ([("t", "x"), ("t", "y")], "twice"),
        ([("seq", "0x1f")], "not a hex number"),
        ([("seq", "")], "not a hex number"),
        ([("hg", "1" * 17)], "not a hex number"),
        ([("t", 3)], "must be str"),
        ([("t", "x", "y")], "pair"),
    ],
)
def test_invalid_fields_are_refused(fields, match):
    with pytest.raises(ValueError, match=match):
        Message.of(fields)


def test_binary_fields_hold_base64():
    msg = Message.of([("t", "status"), ("srcuuid", "AAECAwQFBgcICQoLDA0ODw==")], binary=["srcuuid"])
    assert msg.get_bytes("srcuuid") == bytes(range(16))
    assert msg.get_bytes("t") is None  # not binary
    with pytest.raises(ValueError, match="not base64"):
        Message.of([("srcuuid", "not base64!")], binary=["srcuuid"])
    with pytest.raises(ValueError, match="not in the message"):
        Message.of([("t", "x")], binary=["srcuuid"])


def test_message_is_immutable_and_hashable():
    msg = Message.of([["t", "status"]])  # lists are normalised to tuples
    assert msg.fields == (("t", "status"),)
    assert hash(msg) == hash(Message.build("status"))
    with pytest.raises(AttributeError):
        msg.fields = ()  # type: ignore[misc]
