"""`hbd run` (the foreground daemon), `hbd check` (validate and print the effective configuration) and
`hbd export pacemaker` (hbd.export: the same cluster as Pacemaker + Corosync configuration).

`hbd run` starts a supervisor (hbd.supervisor) that runs the daemon itself as its worker: a fork that runs
`main` again with HBD_SUPERVISOR_PID set; `--no-supervisor` runs the daemon in this process. Imports stay
lazy: the supervisor parent must not load the daemon (or anything beyond the standard library), and what it
loads before the fork is what the worker needs anyway (tests/unit/test_import_graph.py keeps it so).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbd.supervisor import Supervision

DEFAULT_CONFIG_DIR = "/etc/ha.d"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hbd", description="High-availability failover daemon (heartbeat-style)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon in the foreground")
    check = sub.add_parser("check", help="validate the configuration and print it as understood")
    from hbd.export.arguments import add_arguments as add_export_arguments  # argparse only: stays light

    add_export_arguments(sub.add_parser("export", help="write the Pacemaker + Corosync configuration"))
    for p in (run, check):
        p.add_argument(
            "--config-dir", default=DEFAULT_CONFIG_DIR, help="where ha.cf, haresources, authkeys are"
        )
        p.add_argument("--node", help="this node's name (default: nodeinfo, else uname -n)")
    run.add_argument(
        "--state-dir", help="control socket, pid file, events.jsonl (default /run/hbd, /var/lib/hbd)"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log DEBUG events too")
    run.add_argument(
        "--no-supervisor",
        action="store_true",
        help="run the daemon in this process, without the parent that restarts it when it dies",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(raw)
    if args.command == "export":
        from hbd.export.command import run as export

        return export(args)
    supervision: Supervision | None = None
    if args.command == "run" and not args.no_supervisor:
        from hbd import supervisor

        supervision = supervisor.supervised_worker()
        if supervision is None:  # we are the parent
            return supervisor.supervise(
                raw, _events_path(args.state_dir), args.node, fork_worker=lambda: main(raw)
            )
        if not supervisor.die_with_supervisor(supervision.supervisor_pid):
            return 1  # the parent died while we started: nobody would restart or stop us
    code = _check_and_run(args, supervision)
    if supervision is not None and code == CONFIG_REFUSED:
        return supervisor.EX_CONFIG  # tells the parent not to restart a refusal
    return code


CONFIG_REFUSED = 1


def _events_path(state_dir: str | None) -> Path:
    """Where the worker's events.jsonl is (the parent appends daemon.restarted there). Mirrors
    hbd.daemon.StatePaths without importing it."""
    return Path(state_dir or "/var/lib/hbd") / "events.jsonl"


def _check_and_run(args: argparse.Namespace, supervision: Supervision | None) -> int:
    # Start-up creates ~20,000 objects that live as long as the process (modules, classes, the config) and
    # almost no garbage (66 unreachable objects measured): the collector's passes during the imports, and
    # the daemon's full collection at boot, cost 10-30 ms before the first heartbeat. Off until `_run` has
    # imported everything, which then goes to the permanent generation (gc.freeze).
    gc.disable()
    from hbd.config.errors import ConfigError
    from hbd.config.load import describe, load_config
    from hbd.journal import prefix

    try:
        loaded = load_config(Path(args.config_dir), args.node)
    except ConfigError as exc:
        # Under systemd each line is a journal entry: every problem line gets the error priority.
        lines = f"hbd: configuration refused ({args.config_dir}):\n{exc}".splitlines()
        print("\n".join(prefix(logging.ERROR, sys.stderr) + line for line in lines), file=sys.stderr)
        return CONFIG_REFUSED
    for warning in loaded.warnings:
        print(f"{prefix(logging.WARNING, sys.stderr)}hbd: warning: {warning}", file=sys.stderr)
    if args.command == "check":
        print(describe(loaded.config))
        return 0
    return _run(loaded.config, args, supervision)


def _run(config: object, args: argparse.Namespace, supervision: Supervision | None) -> int:
    from hbd.config.model import Config

    assert isinstance(config, Config)
    if config.cluster.metrics_listen is None:  # prometheus_client imports ssl unconditionally
        # hbd speaks no TLS. asyncio imports ssl only to offer it: ~5 ms at every start, and libssl mapped,
        # which `realtime on` (mlockall) keeps resident (~2 MB of RSS). Here an import of ssl fails instead;
        # asyncio runs without it as on a Python built without ssl. (hbd_metrics is read at start only.)
        sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    import asyncio

    from hbd.daemon import Daemon, StatePaths
    from hbd.statefile import StateDirError
    from hbd.transport.base import TransportError

    gc.freeze()
    gc.enable()
    logger = _logger(config, args.verbose)
    try:
        daemon = Daemon(config, StatePaths.from_arg(args.state_dir), logger, supervision=supervision)
    except StateDirError as exc:
        logger.critical("(%s) refusing to start: %s", config.node, exc)
        return CONFIG_REFUSED
    try:
        return asyncio.run(daemon.run())
    except (OSError, TransportError) as exc:
        logger.critical("(%s) cannot run: %s", config.node, exc)
        return 1


def _logger(config: object, verbose: bool) -> logging.Logger:
    from hbd.config.model import Config
    from hbd.logconfig import configure

    assert isinstance(config, Config)
    logger = logging.getLogger("hbd")
    # ha.cf's logfacility, logfile and debugfile as heartbeat reads them, and the journal under systemd.
    for problem in configure(logger, config.cluster, verbose=verbose):
        logger.warning("(%s) logging: %s", config.node, problem)
    return logger


if __name__ == "__main__":
    sys.exit(main())
