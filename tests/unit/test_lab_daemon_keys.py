"""A scenario's `daemon:` keys: one table (lab/spec/daemon.py) read by the validator and the renderer."""

from __future__ import annotations

import pytest

from hbd.config.errors import Diagnostics
from hbd.config.hacf import DIRECTIVES, parse_hacf
from lab.render import hacf_source
from lab.spec.daemon import DAEMON_KEYS, HEARTBEAT_UDP_PORT
from lab.spec.scenario import ScenarioError, parse_scenario
from lab.spec.topology import load_topology

SAMPLE = {
    "keepalive": "100ms",
    "deadtime": "1s",
    "warntime": "500ms",
    "initdead": "2s",
    "deadping": "1s",
    "auto_failback": "off",
    "udpport": 700,
    "builtin_ipaddr": "on",
    "garp_count": 3,
    "stall_aware": "off",
    "garp_interval": "50ms",
    "fence_delay": "100ms",
    "resource_timeout": "5s",
    "fencing": "off",
    "ping": ["client"],
    "monitor": ["hblab-service 200ms timeout=2s restarts=1 window=60s", "IPaddr 1s"],
    "metrics": 9694,
}


def test_every_key_names_a_directive_hbd_knows():
    assert set(SAMPLE) == set(DAEMON_KEYS)
    for key in DAEMON_KEYS.values():
        assert key.directive is None or key.directive in DIRECTIVES, key


def test_every_key_validates_renders_and_parses_as_its_directive():
    scenario = parse_scenario(
        {"name": "x", "topology": "two-node", "daemon": SAMPLE, "steps": [{"sleep": "1s"}]}, "x.yaml"
    )
    text, origin = hacf_source(load_topology("two-node"), "bob", scenario.daemon, {"ttyS0": "/dev/pts/7"})
    lines = text.splitlines()
    for number, where in origin.items():
        key = DAEMON_KEYS[where.removeprefix("daemon.")]
        assert lines[number - 1].split()[0] == key.directive
    assert {w.removeprefix("daemon.") for w in origin.values()} == {
        k for k, d in DAEMON_KEYS.items() if d.directive
    }
    diag = Diagnostics("ha.cf")
    cluster = parse_hacf(text, diag, local_node="bob")
    assert diag.errors == []
    assert (cluster.keepalive_s, cluster.udpport) == (0.1, 700)
    assert cluster.metrics_listen == ("127.0.0.1", 9694)  # only the node itself scrapes it
    # scenario durations (60s, which ha.cf refuses) become milliseconds; one hbd_monitor line each
    assert [(m.resource, m.interval_s, m.timeout_s, m.restarts, m.window_s) for m in cluster.monitors] == [
        ("hblab-service", 0.2, 2.0, 1, 60.0),
        ("IPaddr", 1.0, None, 3, 300.0),
    ]


def test_a_bad_monitor_is_refused_at_its_key():
    raw = {"name": "x", "topology": "two-node", "daemon": {"monitor": "hblab-service 2q"}, "steps": []}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(raw, "x.yaml")
    assert any(e.startswith("x.yaml: daemon.monitor: unknown unit 'q' in '2q'") for e in info.value.errors)


def test_the_heartbeat_port_is_hbds_default():
    diag = Diagnostics("ha.cf")
    assert parse_hacf("node bob bobek\nbcast eth0\n", diag, local_node="bob").udpport == HEARTBEAT_UDP_PORT
