"""The delay relay's decisions (lab/node/delay_relay.py) without a kernel queue: what each packet gets,
and the iptables rules it adds and removes."""

from __future__ import annotations

import random

import pytest

from lab.node.delay_relay import DUP_MARK, Policy, _jumps, chain_name, parse_args


def plans(policy: Policy, n: int = 2000, outgoing: bool = True) -> list[tuple[float, bool, bool]]:
    return [(p.release_at, p.duplicate, p.reordered) for p in (policy.plan(0.0, outgoing) for _ in range(n))]


def test_delay_plus_minus_jitter_never_negative() -> None:
    got = plans(Policy(0.100, 0.020, 0, 0, random.Random(1)))
    holds = [h for h, _d, _r in got]
    assert min(holds) >= 0.080 and max(holds) <= 0.120
    assert max(holds) - min(holds) > 0.035, "the jitter spreads the delays"
    wide = plans(Policy(0.010, 0.050, 0, 0, random.Random(1)))
    assert min(h for h, _d, _r in wide) == 0.0, "more jitter than delay: clamped at zero, never early"


def test_reorder_and_duplicate_shares() -> None:
    got = plans(Policy(0.050, 0.0, 20, 30, random.Random(2)))
    reordered = [h for h, _d, r in got if r]
    assert 0.15 < len(reordered) / len(got) < 0.25
    assert set(reordered) == {0.0}, "a reordered packet goes at once, overtaking the held ones"
    assert 0.25 < sum(d for _h, d, _r in got) / len(got) < 0.35
    assert not any(d for _h, d, _r in plans(Policy(0.05, 0, 0, 100, random.Random(3)), outgoing=False))


def test_the_same_seed_gives_the_same_run() -> None:
    assert plans(Policy(0.1, 0.05, 10, 10, random.Random(7))) == plans(
        Policy(0.1, 0.05, 10, 10, random.Random(7))
    )


def test_rules_follow_the_direction_and_skip_our_own_copies() -> None:
    assert [r[0] for r in _jumps("eth1", "both")] == ["OUTPUT", "INPUT"]
    out = _jumps("eth1", "out")
    assert out == [
        ["OUTPUT", "-o", "eth1", "-m", "mark", "!", "--mark", f"{DUP_MARK:#x}", "-j", chain_name("eth1")]
    ]
    assert _jumps("eth1", "in") == [["INPUT", "-i", "eth1", "-j", "HBLAB_DELAY_eth1"]]
    assert len(chain_name("a" * 15)) <= 28, "iptables chain names end at 28 characters"


@pytest.mark.parametrize(
    "argv",
    [["--max-s", "0"], ["--max-s", "4000"], ["--delay-ms", "-1"], ["--reorder-pct", "101"]],
)
def test_bounds_are_refused(argv: list[str]) -> None:
    base = {"--iface": "eth0", "--delay-ms": "10", "--out": "x"}
    for key, value in zip(argv[::2], argv[1::2], strict=True):
        base[key] = value
    with pytest.raises(SystemExit):
        parse_args([a for kv in base.items() for a in kv])
