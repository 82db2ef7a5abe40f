from hbd.transport.serial import Deframer

FRAME = b">>>\nt=status\nsrc=alice\nseq=1\n<<<\n"


def test_one_frame_gets_its_nul():
    d = Deframer()
    assert d.feed(FRAME + b"\0") == [FRAME + b"\0"]
    assert d.frames == 1 and d.garbage_bytes == 0


def test_byte_by_byte_is_the_same_as_all_at_once():
    d = Deframer()
    stream = (FRAME + b"\0") * 3
    out = []
    for i in range(len(stream)):
        out += d.feed(stream[i : i + 1])
    assert out == [FRAME + b"\0"] * 3


def test_frame_without_nul_is_emitted_at_its_end_marker():
    d = Deframer()
    assert d.feed(FRAME) == [FRAME + b"\0"]


def test_garbage_before_and_between_frames_is_skipped_and_counted():
    d = Deframer()
    out = d.feed(b"\xff\xfelinenoise" + FRAME + b"\0\r\n" + b"xx>>" + FRAME)
    assert out == [FRAME + b"\0", FRAME + b"\0"]
    assert d.garbage_bytes == len(b"\xff\xfelinenoise") + len(b"xx>>")


def test_half_frame_followed_by_new_frame_resynchronises():
    d = Deframer()
    half = FRAME[: len(FRAME) // 2]
    assert d.feed(half) == []
    assert d.feed(b"\n" + FRAME) == [FRAME + b"\0"]
    assert d.truncated == 1


def test_frame_cut_mid_line_then_restarted_resynchronises():
    # the writer died after "src=al" and started over without a newline
    d = Deframer()
    assert d.feed(FRAME[:15] + FRAME) == [FRAME + b"\0"]
    assert d.truncated == 1


def test_start_marker_inside_a_frame_restarts_even_before_the_end_arrives():
    d = Deframer()
    assert d.feed(b">>>\nt=x\n") == []
    assert d.feed(b"junk>>>\n") == []
    assert d.truncated == 1
    assert d.feed(FRAME[4:]) == [FRAME + b"\0"]


def test_start_marker_split_across_reads():
    d = Deframer()
    assert d.feed(b"junk>") == []
    assert d.feed(b">") == []
    assert d.feed(FRAME[2:]) == [FRAME + b"\0"]


def test_empty_frame():
    assert Deframer().feed(b">>>\n<<<\n") == [b">>>\n<<<\n\0"]


def test_oversized_frame_is_dropped_and_stream_recovers():
    d = Deframer(max_frame=100)
    out = d.feed(b">>>\n" + b"x=" + b"y" * 300 + b"\n")
    assert out == [] and d.oversized == 1
    assert len(d._buf) < 100
    assert d.feed(b"\n<<<\n" + FRAME) == [FRAME + b"\0"]


def test_frame_completing_just_over_the_limit_is_dropped():
    d = Deframer(max_frame=40)
    big = b">>>\n" + b"k=" + b"v" * 40 + b"\n<<<\n"
    assert d.feed(big + FRAME[:10]) == []
    assert d.oversized == 1
    assert d.feed(FRAME[10:]) == [FRAME + b"\0"]


def test_reset_drops_a_partial_frame():
    d = Deframer()
    d.feed(FRAME[:12])
    d.reset()
    assert d.truncated == 1
    assert d.feed(FRAME[12:] + FRAME) == [FRAME + b"\0"]


def test_garbage_buffer_stays_bounded():
    d = Deframer()
    for _ in range(1000):
        d.feed(b"g" * 1000)
    assert len(d._buf) < 4
