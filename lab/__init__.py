"""hblab: two-node (and larger) hbd clusters in network namespaces or Docker containers, with faults,
probes, checks and reports. The packages follow the nouns of a lab run (Jepsen's DB / Net / Nemesis /
Checker / Store, Pacemaker CTS's scenario-as-data):

    spec/       what a user writes, validated as data: topology, scenario, fault and check parameters
    backends/   where nodes live: the Backend protocol, netns, docker/ (engine, images, API relay)
    faults/     what goes wrong: one module per family, registered by name
    node/       programs that run inside a node: probe, owner sampler, disk writer, fence_lab, services
    history/    what was recorded: merged records by monotonic time, VIP ownership, the shared disk, run dirs
    checks/     verdicts over a history: latency, ownership, events, safety
    analysis/   reports, plots, experiments over recorded runs
    bench/      hbd against keepalived, heartbeat 3.0.6 and ucarp
    render.py   a topology and a scenario's daemon settings -> each node's /etc/ha.d
    runner.py   one scenario run: boot, steps, teardown, checks
    cli.py      `hblab`

Imports point one way (tests/unit/test_import_direction.py): spec <- backends <- faults <- runner;
checks read only the history; nothing below imports what is above it.
"""
