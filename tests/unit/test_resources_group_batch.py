"""A group's run of neighbouring batchable resources (the built-in IPs) is started and stopped in one
`run_many` call, with the order, rollback and retries of single operations (hbd/resources/group.py)."""

import asyncio

from hbd.config.model import Resource, ResourceGroup
from hbd.resources.group import GroupRunner
from hbd.resources.runner import FakeRunner

IP1, IP2, IP3 = (Resource("IPaddr", (f"10.0.0.{i}",)) for i in (1, 2, 3))
SVC = Resource("svc")
# svc between the addresses: two batches, the script on its own between them
GROUP = ResourceGroup("n", (IP1, IP2, SVC, IP3))


def _runner() -> FakeRunner:
    return FakeRunner(batchable={"IPaddr"})


def _groups(fake: FakeRunner) -> tuple[GroupRunner, list[tuple[str, dict]]]:
    events: list[tuple[str, dict]] = []
    runner = GroupRunner(fake, "n", lambda e, lvl, **f: events.append((e, f)), stop_retry_delay_s=0)
    return runner, events


def _known_stopped(groups: GroupRunner) -> None:
    assert asyncio.run(groups.probe_idle(GROUP))


def test_takeover_starts_neighbouring_addresses_in_one_batch_in_order():
    fake = _runner()
    groups, events = _groups(fake)
    _known_stopped(groups)
    fake.calls.clear()
    result = asyncio.run(groups.start(GROUP, "peer dead"))
    assert result.ok
    assert fake.batch_calls == [
        (("IPaddr::10.0.0.1", "IPaddr::10.0.0.2"), "start"),
        (("IPaddr::10.0.0.3",), "start"),
    ]
    assert fake.ops() == [(r.spec, "start") for r in GROUP.resources]  # left to right, no status probes
    logged = [f["resource"] for e, f in events if e == "resource.op" and f["op"] == "start"]
    assert logged == [r.spec for r in GROUP.resources]
    assert [s.resource for s in result.steps] == logged


def test_unknown_state_probes_each_resource_and_batches_nothing():
    fake = _runner()
    groups, _ = _groups(fake)
    assert asyncio.run(groups.start(GROUP, "boot")).ok
    assert fake.batch_calls == []
    assert fake.ops()[:2] == [("IPaddr::10.0.0.1", "status"), ("IPaddr::10.0.0.1", "start")]


def test_a_failed_address_in_a_batch_rolls_back_what_was_touched_and_leaves_the_rest():
    fake = _runner()
    fake.script("IPaddr::10.0.0.2", "start", 1)
    groups, _ = _groups(fake)
    _known_stopped(groups)
    fake.calls.clear()
    result = asyncio.run(groups.start(GROUP, "peer dead"))
    assert not result.ok and result.failed_resource == "IPaddr::10.0.0.2" and result.rolled_back
    assert result.rollback_ok
    # the rollback stops the failed address and the one before it, right to left, in one batch
    assert fake.batch_calls[-1] == (("IPaddr::10.0.0.2", "IPaddr::10.0.0.1"), "stop")
    assert ("svc", "start") not in fake.ops() and ("IPaddr::10.0.0.3", "start") not in fake.ops()
    assert fake.running == set()


def test_stop_batches_right_to_left_and_retries_only_the_address_that_stayed():
    fake = _runner()
    fake.preset(r.spec for r in GROUP.resources)
    fake.script("IPaddr::10.0.0.2", "stop", 1)  # fails once in the batch, then stops on its own
    groups, _ = _groups(fake)
    result = asyncio.run(groups.stop(GROUP, "standby"))
    assert result.ok
    assert fake.batch_calls == [(("IPaddr::10.0.0.2", "IPaddr::10.0.0.1"), "stop")]
    assert fake.ops() == [
        ("IPaddr::10.0.0.3", "stop"),
        ("svc", "stop"),
        ("IPaddr::10.0.0.2", "stop"),
        ("IPaddr::10.0.0.1", "stop"),
        ("IPaddr::10.0.0.2", "stop"),  # the retry, as a single stop
    ]
    assert fake.running == set()
