"""Reloading the configuration of a running daemon (SIGHUP, `hbctl reload`): read, compare, decide.

The daemon (hbd.daemon) owns the I/O of applying a reload; this module holds what is decided before it:
read the three files again, refuse them with every problem at its FILE:LINE, compare them with the running
configuration (hbd.config.diff), and build the core's ConfigChanged. No asyncio here: it is called from the
event loop and returns at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hbd.config.diff import ConfigDiff, diff_configs
from hbd.config.errors import ConfigError
from hbd.config.load import load_config
from hbd.config.model import AutoFailback, Config
from hbd.core.events import ConfigChanged
from hbd.core.monitor import monitor_specs


@dataclass(frozen=True)
class ReloadPlan:
    """A valid new configuration and what it changes."""

    config: Config
    diff: ConfigDiff
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReloadRefused:
    """Why the new files are not taken: each line names FILE:LINE (or what cannot change while running)."""

    problems: tuple[str, ...]

    @property
    def cause(self) -> str:
        return "; ".join(self.problems)


def plan_reload(running: Config) -> ReloadPlan | ReloadRefused:
    """Read the running configuration's directory again for the same node."""
    try:
        loaded = load_config(Path(running.config_dir), running.node)
    except ConfigError as exc:
        return ReloadRefused(tuple(str(p) for p in exc.problems) or (str(exc),))
    diff = diff_configs(running, loaded.config)
    if diff.refused:
        return ReloadRefused(diff.refused)
    return ReloadPlan(loaded.config, diff, tuple(str(w) for w in loaded.warnings))


def config_changed(
    config: Config, *, fencing: bool, digest: str, replaced: tuple[str, ...] = ()
) -> ConfigChanged:
    """The core's view of a new configuration (the same values hbd.daemon gives NodeMachine at boot);
    `replaced`: the groups whose resources changed (ConfigDiff.groups_replaced): released, decided again."""
    cluster = config.cluster
    return ConfigChanged(
        keepalive_s=cluster.keepalive_s,
        deadtime_s=cluster.deadtime_s,
        warntime_s=cluster.warntime_s,
        initdead_s=cluster.initdead_s,
        groups=tuple((g.key, g.home) for g in config.groups),
        replaced=frozenset(replaced),
        auto_failback=cluster.auto_failback is not AutoFailback.OFF,
        fencing=fencing,
        fence_delay_s=cluster.fence_delay_s,
        config_digest=digest,
        ping_targets=cluster.ping_nodes,
        deadping_s=cluster.deadping_s,
        monitors=monitor_specs(config),
    )
