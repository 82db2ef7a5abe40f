"""`hbd export pacemaker`: read the config dir with hbd's own loader (same FILE:LINE errors as `hbd check`),
export, and write corosync.conf, authkey (mode 0400) and the resource configuration into --out DIR, or
print the resource configuration when there is no --out."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hbd.config.errors import ConfigError, Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.load import HACF, load_config, local_node_name
from hbd.export import cib, crm, pcs
from hbd.export.model import Configuration, header
from hbd.export.pacemaker import Export, export

FORMATS = {"crm": crm.render, "pcs": pcs.render, "cib": cib.render}
OUTPUT_NAMES = {"crm": "cluster.crm", "pcs": "cluster-pcs.sh", "cib": "cib.xml"}
OUTPUT_MODES = {"crm": 0o600, "pcs": 0o700, "cib": 0o600}  # fence parameters may hold passwords
COROSYNC_CONF = "corosync.conf"
AUTHKEY = "authkey"


def render(configuration: Configuration, fmt: str, config_dir: str) -> str:
    return FORMATS[fmt](configuration, header(config_dir, configuration.notes))


def parse_addresses(texts: list[str]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for text in texts:
        place, sep, address = text.partition("=")
        node, colon, iface = place.partition(":")
        if not sep or not colon or not node or not iface or not address:
            raise ValueError(f"--address {text!r}: expected NODE:IFACE=IP")
        out[(node.lower(), iface)] = address
    return out


def run(args: argparse.Namespace) -> int:
    config_dir = Path(args.config_dir)
    try:
        addresses = parse_addresses(args.address)
    except ValueError as exc:
        print(f"hbd export: {exc}", file=sys.stderr)
        return 2
    local = _local_node(config_dir, args.node)
    try:
        loaded = load_config(config_dir, local or _first_node(config_dir))
    except ConfigError as exc:
        print(f"hbd export: configuration refused ({config_dir}):\n{exc}", file=sys.stderr)
        return 1
    for warning in loaded.warnings:
        print(f"hbd export: warning: {warning}", file=sys.stderr)
    hacf_text = (config_dir / HACF).read_text(encoding="utf-8", errors="replace")
    result = export(
        loaded.config, hacf_text, local=local, addresses=addresses, cluster_name=args.cluster_name
    )
    text = render(result.configuration, args.format, str(config_dir))
    if args.out is None:
        sys.stdout.write(text)
        print("hbd export: corosync.conf and authkey not written: give --out DIR", file=sys.stderr)
        return 0
    try:
        write_all(Path(args.out), result, args.format, text)
    except OSError as exc:
        print(f"hbd export: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"hbd export: wrote {args.out}: {_written(result, args.format)}", file=sys.stderr)
    return 0


def write_all(out: Path, result: Export, fmt: str, text: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write(out / COROSYNC_CONF, result.corosync_conf.encode(), 0o644)
    if result.authkey is not None:
        _write(out / AUTHKEY, result.authkey, 0o400)
    _write(out / OUTPUT_NAMES[fmt], text.encode(), OUTPUT_MODES[fmt])


def _write(path: Path, data: bytes, mode: int) -> None:
    """A fresh file created with `mode` (never a moment with wider permissions)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; keep exactly what we mean
        os.write(fd, data)
    finally:
        os.close(fd)


def _written(result: Export, fmt: str) -> str:
    names = [COROSYNC_CONF, *([AUTHKEY] if result.authkey is not None else []), OUTPUT_NAMES[fmt]]
    return ", ".join(names)


def _nodes(config_dir: Path) -> list[str]:
    try:
        text = (config_dir / HACF).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []  # load_config reports it
    return list(parse_hacf(text, Diagnostics(HACF)).nodes)


def _local_node(config_dir: Path, given: str | None) -> str | None:
    """The node the files are from: --node, else nodeinfo/uname -n when ha.cf lists it, else unknown."""
    if given:
        return given.lower()
    name = local_node_name(config_dir)
    return name if name in _nodes(config_dir) else None


def _first_node(config_dir: Path) -> str | None:
    """Any listed node: the loader's "this node is listed" check passes on a machine outside the cluster."""
    nodes = _nodes(config_dir)
    return nodes[0] if nodes else None
