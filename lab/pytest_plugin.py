"""The pytest plugin: failover tests of hbd clusters in any repository (docs/pytest.md).

Registered through the `pytest11` entry point, so `pip install 'hbd[lab]'` loads it. It adds:
- the `hblab_cluster` fixture: `hblab_cluster("two-node", daemon={...})` builds a topology and returns a
  lab.cluster.Cluster (one method per scenario step kind, `check()` per expect item); every cluster the
  test built is torn down when the test ends, whatever way it ends (failure, error, Ctrl-C: pytest runs
  fixture finalizers from its session end too; SIGTERM, which CI runners send on a timeout, is turned into
  a Ctrl-C while clusters are up);
- the options `--hblab-backend netns|docker` and `--hblab-runs-root DIR`;
- the markers `hblab_root` and `hblab_docker`, which skip a test with the reason when the machine cannot
  run netns (root, iproute2) or Docker (root, an engine, debootstrap for the node image) clusters;
- a report section on every failing test that built a cluster: run dir, failing checks, timeline, report.

This module is loaded into every pytest run of an environment that has hbd installed, so it imports only
pytest and the standard library at the top; the lab comes in when a test asks for a cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lab.cluster import Cluster

BACKENDS = ("netns", "docker")
DEFAULT_RUNS_ROOT = Path(tempfile.gettempdir()) / "hblab-runs"  # short: unix socket paths live in runs
MARKERS = {
    "hblab_root": ("netns", "skip unless this machine can run hblab netns clusters (root, iproute2)"),
    "hblab_docker": ("docker", "skip unless this machine can run hblab Docker clusters (root, engine)"),
}


@dataclass
class _Session:
    """What the plugin remembers across a pytest session."""

    engine_was_running: bool | None = None  # None: no Docker cluster yet; else whether dockerd already ran
    live: list[Cluster] = field(default_factory=list)  # built and not yet closed: closed at session end
    sigterm_hooked: bool = False


_SESSION = pytest.StashKey[_Session]()
_CLUSTERS = pytest.StashKey[list["Cluster"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hblab", "hbd lab clusters (hblab_cluster fixture)")
    group.addoption(
        "--hblab-backend",
        choices=BACKENDS,
        default=None,
        help="where hblab_cluster builds topologies: netns (default) or docker",
    )
    group.addoption(
        "--hblab-runs-root",
        default=None,
        metavar="DIR",
        help=f"where run directories go (default {DEFAULT_RUNS_ROOT}; keep it short: unix socket paths)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, (_backend, text) in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[_SESSION] = _Session()


def missing(backend: str) -> str | None:
    """Why this machine cannot run clusters on `backend`, or None when it can."""
    if backend not in BACKENDS:
        return f"unknown hblab backend {backend!r} (known: {', '.join(BACKENDS)})"
    if os.geteuid() != 0:
        what = "network namespaces" if backend == "netns" else "starting dockerd and entering containers"
        return f"hblab {backend} clusters need root ({what})"
    if backend == "netns":
        return None if shutil.which("ip") else "hblab netns clusters need iproute2 (`ip`)"
    from lab.backends.docker import dockerd

    if shutil.which("dockerd") is None and not dockerd.engine_answers():
        return "hblab docker clusters need a Docker engine (apt-get install docker.io)"
    if shutil.which("debootstrap") is None:
        return "hblab docker clusters need debootstrap (the node image is built from scratch)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A skip mark rather than pytest.skip() in a hook: the report then names the test, not this file.
    reasons: dict[str, str | None] = {}
    for item in items:
        for name, (backend, _text) in MARKERS.items():
            if item.get_closest_marker(name) is None:
                continue
            if backend not in reasons:
                reasons[backend] = missing(backend)
            if reason := reasons[backend]:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def hblab_cluster(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """`hblab_cluster(topology, *, backend=None, daemon=None, seed=None, name=None, verbose_daemon=False)`:
    build `topology` (a name shipped with hbd, or the path of your own YAML) and return its Cluster."""
    config = request.config
    session = config.stash[_SESSION]
    clusters: list[Cluster] = []
    request.node.stash[_CLUSTERS] = clusters

    def make(
        topology: str | Path,
        *,
        backend: str | None = None,
        daemon: dict[str, Any] | None = None,
        seed: int | None = None,
        name: str | None = None,
        verbose_daemon: bool = False,
    ) -> Cluster:
        from lab.cluster import Cluster, caller

        chosen = backend or config.getoption("--hblab-backend") or "netns"
        reason = missing(chosen)
        if reason:
            marker = "hblab_root" if chosen == "netns" else "hblab_docker"
            pytest.fail(
                f"hblab_cluster: {reason} (mark the test `{marker}` to skip it instead)", pytrace=False
            )
        if chosen == "docker" and session.engine_was_running is None:
            from lab.backends.docker import dockerd

            session.engine_was_running = dockerd.engine_answers()
        root = config.getoption("--hblab-runs-root")
        cluster = Cluster(
            topology,
            backend=chosen,
            daemon=daemon,
            name=name or request.node.name,
            seed=seed,
            runs_root=Path(root) if root else DEFAULT_RUNS_ROOT,
            progress=lambda msg: print(f"hblab: {msg}", flush=True),  # captured: shown when the test fails
            verbose_daemon=verbose_daemon,
            source=caller(),
        )
        clusters.append(cluster)
        session.live.append(cluster)
        _interrupt_on_sigterm(session)
        cluster.start()
        return cluster

    try:
        yield make
    finally:
        _close_all(clusters, session)


def _interrupt_on_sigterm(session: _Session) -> None:
    """SIGTERM ends Python at once by default, finalizers unrun, clusters left up. While this session has
    clusters, the first SIGTERM raises KeyboardInterrupt (pytest's interrupt path tears down) and further
    ones do nothing, so that teardown finishes (a handler, not SIG_IGN: processes the teardown starts must
    not inherit an ignored SIGTERM). Only when nobody else handles SIGTERM, and from the main thread."""
    if session.sigterm_hooked or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, lambda _s, _f: None)
        raise KeyboardInterrupt("SIGTERM: tearing the hblab clusters down")

    signal.signal(signal.SIGTERM, interrupt)
    session.sigterm_hooked = True


def _close_all(clusters: list[Cluster], session: _Session) -> None:
    """Close every cluster, the newest first; one cluster's teardown error does not keep the others up."""
    errors: list[BaseException] = []
    for cluster in reversed(clusters):
        try:
            cluster.close()
        except Exception as e:  # each cluster must be tried
            errors.append(e)
        finally:
            if cluster in session.live:
                session.live.remove(cluster)
    if errors:
        raise errors[0]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The last resort for clusters whose fixture never finished, then stop a dockerd only we started."""
    state = session.config.stash.get(_SESSION, None)
    if state is None:
        return
    _close_all(list(state.live), state)
    if state.sigterm_hooked and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        state.sigterm_hooked = False
    if state.engine_was_running is False:
        from lab.backends.docker import dockerd

        dockerd.stop_if_ours()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    clusters = item.stash.get(_CLUSTERS, None)
    if clusters and report.failed:
        text = "\n\n".join(describe(c) for c in clusters)
        longrepr = report.longrepr
        if hasattr(longrepr, "addsection"):  # printed with the failure, whatever --show-capture says
            longrepr.addsection("hblab", text)
        else:
            report.sections.append(("hblab", text))
    return report


def describe(cluster: Cluster) -> str:
    """Where to look after a failure: the run dir, the failing checks, the timeline and the report."""
    lines = [
        f"run dir:  {cluster.run_dir}",
        f"cluster:  {cluster.topology.name} on {cluster.backend_name}, seed {cluster.seed}",
        f"timeline: {cluster.timeline}",
        f"report:   {cluster.run_dir / 'report.md'}",
    ]
    if cluster.error:
        lines.append(f"error:    {cluster.error}")
    failed = cluster.failed_checks()
    if failed:
        lines.append("failed checks:")
        for r in failed:
            value = f" = {r.value:.3g} {r.unit}".rstrip() if r.value is not None else ""
            lines.append(f"  {r.name}{value}: {r.detail}")
    return "\n".join(lines)
