import pytest

from hbd.wire.replay import ReplayCheck, ReplayGuard, Verdict

NEW, LATE, DUP, REPLAY = Verdict.NEW, Verdict.LATE, Verdict.DUPLICATE, Verdict.REPLAY
G = 0x6B06FBC0


def test_first_message_is_new():
    guard = ReplayGuard()
    result = guard.check("bob", G, 1, "bcast:eth1")
    assert result == ReplayCheck(NEW, link_fresh=True)
    assert result.deliver


def test_every_medium_carries_each_message_once():
    guard = ReplayGuard()
    for seq in range(1, 20):
        assert guard.check("bob", G, seq, "bcast:eth1") == ReplayCheck(NEW, True)
        dup = guard.check("bob", G, seq, "serial:/dev/ttyS0")
        assert dup == ReplayCheck(DUP, True)
        assert not dup.deliver


def test_second_copy_on_the_same_link_is_a_replay():
    guard = ReplayGuard()
    guard.check("bob", G, 5, "eth1")
    guard.check("bob", G, 5, "eth2")
    assert guard.check("bob", G, 5, "eth1") == ReplayCheck(REPLAY, False, "seen_on_link")
    assert guard.check("bob", G, 5, "eth2") == ReplayCheck(REPLAY, False, "seen_on_link")


def test_reordered_message_is_late_and_not_delivered():
    guard = ReplayGuard()
    guard.check("bob", G, 10, "eth1")
    late = guard.check("bob", G, 8, "eth1")
    assert late.verdict is LATE and not late.deliver
    # It moves no link forward: eth1 has already carried seq 10.
    assert late.link_fresh is False
    # The same seq later on another link that has carried nothing newer does refresh that link.
    assert guard.check("bob", G, 8, "eth2") == ReplayCheck(DUP, True)
    assert guard.check("bob", G, 8, "eth1") == ReplayCheck(REPLAY, False, "seen_on_link")


def test_late_first_sighting_on_a_quiet_link_refreshes_it():
    guard = ReplayGuard()
    guard.check("bob", G, 10, "eth1")
    assert guard.check("bob", G, 9, "serial") == ReplayCheck(LATE, True)


def test_duplicate_older_than_the_links_newest_does_not_refresh_it():
    guard = ReplayGuard()
    for seq in (1, 2, 3):
        guard.check("bob", G, seq, "eth1")
    guard.check("bob", G, 3, "eth2")
    assert guard.check("bob", G, 2, "eth2") == ReplayCheck(DUP, False)


def test_window_edges():
    guard = ReplayGuard(window=4)
    guard.check("bob", G, 10, "eth1")
    assert guard.check("bob", G, 7, "eth1").verdict is LATE  # age 3: inside a window of 4
    assert guard.check("bob", G, 6, "eth1") == ReplayCheck(REPLAY, False, "too_old")  # age 4
    assert guard.check("bob", G, 6, "eth2") == ReplayCheck(REPLAY, False, "too_old")


def test_big_jump_forward_empties_the_window():
    guard = ReplayGuard(window=8)
    for seq in range(1, 9):
        guard.check("bob", G, seq, "eth1")
    assert guard.check("bob", G, 1000, "eth1").verdict is NEW
    assert guard.check("bob", G, 999, "eth1").verdict is LATE  # never seen before
    assert guard.check("bob", G, 8, "eth1").reason == "too_old"


def test_old_generation_is_a_replay():
    guard = ReplayGuard()
    guard.check("bob", G, 50, "eth1")
    assert guard.check("bob", G - 1, 51, "eth1") == ReplayCheck(REPLAY, False, "old_generation")


def test_higher_generation_resets_the_sequence_space():
    guard = ReplayGuard()
    for seq in range(1, 100):
        guard.check("bob", G, seq, "eth1")
    # The peer restarted: seq starts again at 1 and is new, on every link.
    assert guard.check("bob", G + 1, 1, "eth1") == ReplayCheck(NEW, True)
    assert guard.check("bob", G + 1, 1, "eth2") == ReplayCheck(DUP, True)
    assert guard.check("bob", G + 1, 2, "eth1").verdict is NEW
    # Anything from the previous life is now refused, however new its seq.
    assert guard.check("bob", G, 100, "eth1").reason == "old_generation"


def test_senders_are_independent():
    guard = ReplayGuard()
    guard.check("bob", G, 7, "eth1")
    assert guard.check("bobek", G, 7, "eth1").verdict is NEW
    assert guard.check("bobek", G, 7, "eth1").reason == "seen_on_link"


def test_known_generations_survive_our_restart():
    first = ReplayGuard()
    first.check("bob", G, 3, "eth1")
    first.check("bobek", 5, 1, "eth1")
    saved = first.generations()
    assert saved == {"bob": G, "bobek": 5}

    after_restart = ReplayGuard(known_generations=saved)
    assert after_restart.check("bob", G - 1, 9, "eth1").reason == "old_generation"
    # The same generation is accepted: the peer did not restart, only we did.
    assert after_restart.check("bob", G, 4, "eth1").verdict is NEW
    assert after_restart.generations() == saved
    assert after_restart.check("bobek", 6, 1, "eth1").verdict is NEW
    assert after_restart.generations() == {"bob": G, "bobek": 6}


def test_bad_arguments():
    with pytest.raises(ValueError):
        ReplayGuard(window=0)
    with pytest.raises(ValueError):
        ReplayGuard().check("bob", -1, 1, "eth1")
    with pytest.raises(ValueError):
        ReplayGuard().check("bob", 1, -1, "eth1")
