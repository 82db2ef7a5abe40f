"""Read a configuration directory (ha.cf, haresources, authkeys) into one validated `Config`.

Every problem of all three files is collected and raised once as a `ConfigError`; warnings
come back in `LoadedConfig.warnings`. The local node name follows heartbeat: the first line
of `<config_dir>/nodeinfo` if that file exists, else `uname -n`, lower-cased.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import ConfigError, Diagnostics, Problem
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.model import Config
from hbd.config.monitor import check_monitors
from hbd.config.permission import check_file, trusted_owners

HACF = "ha.cf"
HARESOURCES = "haresources"
AUTHKEYS = "authkeys"
NODEINFO = "nodeinfo"


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    warnings: list[Problem] = field(default_factory=list)


def local_node_name(config_dir: Path) -> str:
    """This node's name as heartbeat finds it: nodeinfo's first line, else uname -n; lower-cased."""
    nodeinfo = config_dir / NODEINFO
    try:
        first = nodeinfo.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    except FileNotFoundError:
        first = []
    name = first[0].strip() if first and first[0].strip() else os.uname().nodename
    return name.lower()


def _read(path: Path, diag: Diagnostics, *, secret: bool = False) -> str | None:
    """The file's text; its mode and owner are checked on the very file read (no swap in between)."""
    try:
        with path.open("rb") as f:
            check_file(os.fstat(f.fileno()), path, diag, secret=secret, owners=trusted_owners())
            # surrogateescape keeps every byte of a key as it is in the file
            return f.read().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        diag.error(None, "file not found", "hbd needs ha.cf, haresources and authkeys in its config dir")
    except OSError as err:
        diag.error(None, f"cannot read: {err.strerror or err}")
    return None


def _in_line_order(problems: list[Problem]) -> list[Problem]:
    """Whole-file problems first, then by line (checks made at the end of a file come last otherwise)."""
    return sorted(problems, key=lambda p: -1 if p.line is None else p.line)


def load_config(config_dir: Path, node: str | None = None) -> LoadedConfig:
    """Parse and cross-check the three files; raise ConfigError listing every problem."""
    config_dir = Path(config_dir)
    local = (node or local_node_name(config_dir)).lower()

    hacf_diag = Diagnostics(str(config_dir / HACF))
    hacf_text = _read(config_dir / HACF, hacf_diag)
    cluster = parse_hacf(hacf_text, hacf_diag, local_node=local) if hacf_text is not None else None

    res_diag = Diagnostics(str(config_dir / HARESOURCES))
    res_text = _read(config_dir / HARESOURCES, res_diag)
    nodes = cluster.nodes if cluster is not None else ()
    groups = parse_haresources(res_text, res_diag, nodes) if res_text is not None else ()
    if cluster is not None and res_text is not None:
        check_monitors(cluster.monitors, groups, hacf_diag)  # ha.cf's hbd_monitor lines name these resources

    auth_diag = Diagnostics(str(config_dir / AUTHKEYS))
    auth_text = _read(config_dir / AUTHKEYS, auth_diag, secret=True)
    auth = None
    if auth_text is not None:
        auth = parse_authkeys(auth_text, auth_diag)

    diags = (hacf_diag, res_diag, auth_diag)
    errors = [p for d in diags for p in _in_line_order(d.errors)]
    warnings = [p for d in diags for p in _in_line_order(d.warnings)]
    if errors or cluster is None or auth is None:
        raise ConfigError(errors, warnings)
    config = Config(config_dir=str(config_dir), node=local, cluster=cluster, groups=groups, auth=auth)
    return LoadedConfig(config, warnings)


def describe(config: Config) -> str:
    """The effective configuration for `hbd check`: every value explicit, keys masked."""
    from hbd.config.render import render_authkeys, render_hacf, render_haresources  # not for `hbd run`

    cluster = config.cluster
    media = ", ".join(m.name for m in cluster.media)
    header = [
        f"# effective configuration of {config.node} (from {config.config_dir})",
        f"# peers: {', '.join(config.peers) or 'none'}; media: {media}",
        f"# signing with authkeys index {config.auth.active} ({config.auth.signing_key.method})",
        "",
        f"# --- {HACF}",
    ]
    text = "\n".join(
        [
            *header,
            render_hacf(cluster, redact=True).rstrip("\n"),
            "",
            f"# --- {HARESOURCES}",
            render_haresources(config.groups).rstrip("\n"),
            "",
            f"# --- {AUTHKEYS} (keys masked)",
            render_authkeys(config.auth, redact=True),
        ]
    )
    # files are read with surrogateescape: show undecodable bytes as escapes, never fail to print
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
