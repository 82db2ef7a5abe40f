"""`hbd run` (the foreground daemon) and `hbd check` (validate and print the effective configuration)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from hbd.config.errors import ConfigError
from hbd.config.load import describe, load_config
from hbd.transport.base import TransportError

DEFAULT_CONFIG_DIR = "/etc/ha.d"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hbd", description="High-availability failover daemon (heartbeat-style)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon in the foreground")
    check = sub.add_parser("check", help="validate the configuration and print it as understood")
    for p in (run, check):
        p.add_argument(
            "--config-dir", default=DEFAULT_CONFIG_DIR, help="where ha.cf, haresources, authkeys are"
        )
        p.add_argument("--node", help="this node's name (default: nodeinfo, else uname -n)")
    run.add_argument(
        "--state-dir", help="control socket, pid file, events.jsonl (default /run/hbd, /var/lib/hbd)"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log DEBUG events too")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        loaded = load_config(Path(args.config_dir), args.node)
    except ConfigError as exc:
        print(f"hbd: configuration refused ({args.config_dir}):\n{exc}", file=sys.stderr)
        return 1
    for warning in loaded.warnings:
        print(f"hbd: warning: {warning}", file=sys.stderr)
    if args.command == "check":
        print(describe(loaded.config))
        return 0
    return _run(loaded.config, args)


def _run(config: object, args: argparse.Namespace) -> int:
    from hbd.config.model import Config
    from hbd.daemon import Daemon, StatePaths

    assert isinstance(config, Config)
    logger = _logger(config, args.verbose)
    try:
        daemon = Daemon(config, StatePaths.from_arg(args.state_dir), logger)  # refuses an unsafe state dir
        return asyncio.run(daemon.run())
    except (OSError, TransportError) as exc:
        logger.critical("(%s) cannot run: %s", config.node, exc)
        return 1


def _logger(config: object, verbose: bool) -> logging.Logger:
    from hbd.config.model import Config

    assert isinstance(config, Config)
    logger = logging.getLogger("hbd")
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s hbd[%(process)d] %(levelname)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.cluster.logfile:
        handlers.append(logging.FileHandler(config.cluster.logfile))
    if config.cluster.logfacility and config.cluster.logfacility != "none":
        from logging.handlers import SysLogHandler

        if Path("/dev/log").exists():
            handlers.append(SysLogHandler("/dev/log", facility=config.cluster.logfacility))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


if __name__ == "__main__":
    sys.exit(main())
