"""Replays across our restart, and lock-outs a live peer can lift (issue 11, bugs 2 and 5)."""

from __future__ import annotations

import pytest

from hbd.wire.replay import (
    GENERATION_AHEAD_MAX,
    Floor,
    ReplayCheck,
    ReplayGuard,
    Verdict,
    echoes,
    plausible_generation,
)

G = 0x6B06FBC0
NEW, REPLAY = Verdict.NEW, Verdict.REPLAY
QUIET = 0.1


def restarted(before: ReplayGuard) -> ReplayGuard:
    """What the daemon does across a restart: save floors(), hand them back."""
    return ReplayGuard(known_generations=before.floors(), quiet_s=QUIET)


def test_the_newest_seq_survives_our_restart_so_older_copies_stay_refused() -> None:
    first = ReplayGuard(quiet_s=QUIET)
    for seq in range(1, 11):
        first.check("bob", G, seq, "eth1")
    assert first.floors() == {"bob": Floor(G, 10)}

    after = restarted(first)
    # A copy captured before our restart (same generation, seq not above the saved one): refused.
    for seq in (1, 9, 10):
        assert after.check("bob", G, seq, "eth1") == ReplayCheck(REPLAY, False, "before_restart")
    # The peer's next real packet goes on from there.
    assert after.check("bob", G, 11, "eth1").verdict is NEW
    assert after.check("bob", G, 10, "eth2").verdict is Verdict.LATE  # now inside the live window


def test_an_older_hbd_floor_file_with_generations_only_still_works() -> None:
    guard = ReplayGuard(known_generations={"bob": G})
    assert guard.check("bob", G - 1, 5, "eth1").reason == "old_generation"
    assert guard.check("bob", G, 1, "eth1").verdict is NEW


def test_a_peer_whose_generation_went_down_recovers_by_echoing_our_generation() -> None:
    # The peer's state was wiped and its clock is behind: its new generation is below the saved one.
    guard = ReplayGuard(known_generations={"bob": Floor(G, 500)}, quiet_s=QUIET)
    low = G - 100_000
    assert guard.check("bob", low, 1, "eth1") == ReplayCheck(REPLAY, False, "old_generation")
    recovered = guard.check("bob", low, 2, "eth1", echoes=True, now=1.0)
    assert recovered.verdict is NEW and recovered.deliver
    assert "old_generation" in recovered.recovered and str(low) in recovered.recovered
    assert guard.check("bob", low, 3, "eth1").verdict is NEW  # no echo needed any more
    # The lock-out is not saved: after our next restart the lower generation is the one remembered.
    assert guard.floors() == {"bob": Floor(low, 3)}
    assert restarted(guard).check("bob", low, 4, "eth1").verdict is NEW


def test_a_forged_huge_seq_saved_to_disk_is_lifted_by_an_echoing_packet() -> None:
    guard = ReplayGuard(known_generations={"bob": Floor(G, 2**60)}, quiet_s=QUIET)
    assert guard.check("bob", G, 7, "eth1").reason == "before_restart"
    assert guard.check("bob", G, 8, "eth1", echoes=True, now=1.0).recovered
    assert guard.floors() == {"bob": Floor(G, 8)}


def test_during_a_boot_a_lower_generation_waits_until_the_current_one_is_quiet() -> None:
    guard = ReplayGuard(quiet_s=QUIET)
    guard.check("bob", G, 1, "eth1", now=0.0)
    low = G - 5
    # The current generation still talks: even an echoing lower generation is refused.
    assert guard.check("bob", low, 1, "eth1", echoes=True, now=0.05).reason == "old_generation"
    # Without an echo, never.
    assert guard.check("bob", low, 2, "eth1", now=5.0).reason == "old_generation"
    assert guard.check("bob", low, 3, "eth1", echoes=True, now=5.0).recovered
    # The higher generation is the stale one now; it comes back only as a restart would (higher).
    assert guard.check("bob", G, 2, "eth1", now=5.01).verdict is NEW


def test_a_forged_huge_generation_cannot_lock_the_real_peer_out_and_replays_cannot_ride_the_recovery() -> (
    None
):
    guard = ReplayGuard(quiet_s=QUIET)
    for seq in range(1, 6):
        guard.check("bob", G, seq, "eth1", echoes=True, now=seq * 0.01)
    forged = G + 1_000_000
    assert guard.check("bob", forged, 1, "eth1", now=0.06).verdict is NEW  # a key holder's forgery
    assert guard.check("bob", G, 6, "eth1", echoes=True, now=0.07).reason == "old_generation"
    # A copy captured earlier in this boot (seq 3 <= 5, the newest seen of G): refused even with its echo.
    assert guard.check("bob", G, 3, "eth1", echoes=True, now=1.0).reason == "old_generation"
    # The real peer goes on with seq 7: recovered once the forged generation has been quiet.
    assert guard.check("bob", G, 7, "eth1", echoes=True, now=1.0).recovered
    assert guard.floors() == {"bob": Floor(G, 7)}


def test_a_forged_huge_seq_during_a_boot_holds_until_the_peer_restarts() -> None:
    guard = ReplayGuard(quiet_s=QUIET)
    guard.check("bob", G, 1, "eth1")
    guard.check("bob", G, 2**40, "eth1")  # a key holder's forgery
    assert guard.check("bob", G, 2, "eth1", echoes=True, now=9.0).reason == "too_old"
    assert guard.check("bob", G + 1, 1, "eth1").verdict is NEW  # the peer's restart clears it


@pytest.mark.parametrize(
    ("ahead", "ok"), [(0, True), (GENERATION_AHEAD_MAX, True), (GENERATION_AHEAD_MAX + 1, False)]
)
def test_plausible_generations(ahead: int, ok: bool) -> None:
    wall = 1_800_000_000.7
    assert plausible_generation(int(wall) + ahead, wall) is ok
    assert plausible_generation(2**64 - 1, wall) is False


def test_echoes_names_exactly_our_generation() -> None:
    assert echoes(str(G), G)
    assert not echoes(None, G)
    assert not echoes(str(G - 1), G)
    assert not echoes(f"{G:x}", G)  # hex is not the echo format (decimal, like the status field)


def test_the_daemon_loads_floors_in_both_formats_and_drops_implausible_generations(tmp_path) -> None:
    from hbd.daemon import _load_generations

    path = tmp_path / "peer-generations.json"
    path.write_text(
        '{"bob": {"generation": 9223372036854775807, "seq": 1}, "old": 5, "new": {"generation": 7, '
        '"seq": 3}, "bad": {"generation": "x"}, "neg": -1}'
    )
    assert _load_generations(path, 1_800_000_000.0) == {"old": Floor(5, 0), "new": Floor(7, 3)}
    assert _load_generations(tmp_path / "missing.json", 0.0) == {}
