"""What a reload changes: the difference between the running `Config` and a freshly loaded one.

Pure: two frozen configs in, one `ConfigDiff` out. The daemon applies it piece by piece (timings, media,
keys, ping nodes, fencing, resources) and writes `summary()` into the `config.reloaded` event. Some changes
cannot be applied to a running node (who the cluster's members are); those come back as `refused` and the
daemon keeps the old configuration, as for an invalid file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hbd.config.model import AuthConfig, ClusterConfig, Config, ResourceGroup

# ha.cf fields by what applying them touches in the daemon (the rest are only re-read: see NEXT_START).
TIMING_FIELDS = frozenset({"keepalive_s", "deadtime_s", "warntime_s", "initdead_s", "deadping_s"})
MEDIA_FIELDS = frozenset({"media", "udpport", "baud"})
FENCING_FIELDS = frozenset({"stonith_hosts", "fence_delay_s"})
RESOURCE_FIELDS = frozenset(
    {"builtin_ipaddr", "resource_dirs", "resource_timeout_s", "garp_count", "garp_interval_s"}
)
# Read once at start (the log handlers, the scheduling class, the metrics endpoint): a reload reports them as
# changed, they take effect at the next start.
NEXT_START = frozenset({"logfile", "debugfile", "logfacility", "realtime", "metrics_listen", "stall_aware"})
# Ignored by the diff: `where` positions move whenever a comment line is added.
_POSITION = "where"


@dataclass(frozen=True)
class ConfigDiff:
    """Every difference, named as the files name things (ClusterConfig field names for ha.cf)."""

    cluster: tuple[str, ...] = ()  # changed ClusterConfig fields, in declaration order
    media_added: tuple[str, ...] = ()  # Medium names (a medium whose settings changed is removed + added)
    media_removed: tuple[str, ...] = ()
    auth: tuple[str, ...] = ()  # human-readable: "signing key 1 -> 2", "keys added: 2", ... (never a key)
    groups_added: tuple[str, ...] = ()
    groups_removed: tuple[str, ...] = ()
    groups_replaced: tuple[str, ...] = ()  # same first resource, other resources: stopped and started again
    groups_rehomed: tuple[str, ...] = ()  # only the home node changed: the core decides who holds it
    refused: tuple[str, ...] = ()  # changes a running node cannot take: the reload fails

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in dataclasses.fields(self))

    @property
    def timing_changed(self) -> bool:
        return bool(TIMING_FIELDS.intersection(self.cluster))

    @property
    def media_changed(self) -> bool:
        return bool(self.media_added or self.media_removed)

    @property
    def groups_changed(self) -> bool:
        return bool(self.groups_added or self.groups_removed or self.groups_replaced or self.groups_rehomed)

    @property
    def next_start(self) -> tuple[str, ...]:
        return tuple(name for name in self.cluster if name in NEXT_START)

    def summary(self) -> dict[str, list[str]]:
        """The non-empty parts, for the `config.reloaded` event and hbctl's answer."""
        return {
            f.name: list(getattr(self, f.name)) for f in dataclasses.fields(self) if getattr(self, f.name)
        }

    def describe(self) -> str:
        """One line: `cluster: deadtime_s, keepalive_s; auth: signing key 1 -> 2`."""
        parts = [f"{name}: {', '.join(values)}" for name, values in self.summary().items()]
        return "; ".join(parts) or "nothing changed"


def diff_configs(old: Config, new: Config) -> ConfigDiff:
    refused: list[str] = []
    if new.node != old.node:
        refused.append(f"this node's name changed ({old.node} -> {new.node}): restart hbd")
    if set(new.cluster.nodes) != set(old.cluster.nodes):
        refused.append(
            f"the cluster's nodes changed ({' '.join(old.cluster.nodes)} -> {' '.join(new.cluster.nodes)}): "
            "restart hbd on both nodes"
        )
    cluster = _cluster_fields(old.cluster, new.cluster)
    added, removed = _media(old.cluster, new.cluster)
    groups = _groups(old.groups, new.groups)
    return ConfigDiff(
        cluster=cluster,
        media_added=added,
        media_removed=removed,
        auth=_auth(old.auth, new.auth),
        refused=tuple(refused),
        **groups,
    )


def _cluster_fields(old: ClusterConfig, new: ClusterConfig) -> tuple[str, ...]:
    changed = []
    for f in dataclasses.fields(ClusterConfig):
        if f.name == "nodes":
            continue  # refused above when it matters; a different order is the same cluster
        if f.name == "media":
            if _media_keys(old) != _media_keys(new):
                changed.append(f.name)
            continue
        if _strip(getattr(old, f.name)) != _strip(getattr(new, f.name)):
            changed.append(f.name)
    return tuple(changed)


def _strip(value: object) -> object:
    """A value without source positions (`where`), so that moving a line is not a change."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, _strip(getattr(value, f.name))) for f in dataclasses.fields(value) if f.name != _POSITION
        )
    if isinstance(value, tuple):
        return tuple(_strip(v) for v in value)
    return value


def _media_keys(cluster: ClusterConfig) -> dict[str, object]:
    # The port and speed are part of a transport's identity: a change reopens it.
    return {m.name: (_strip(m), cluster.udpport, cluster.baud) for m in cluster.media}


def _media(old: ClusterConfig, new: ClusterConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    before, after = _media_keys(old), _media_keys(new)
    removed = tuple(name for name, key in before.items() if after.get(name) != key)
    added = tuple(name for name, key in after.items() if before.get(name) != key)
    return added, removed


def _auth(old: AuthConfig, new: AuthConfig) -> tuple[str, ...]:
    out = []
    if old.active != new.active:
        out.append(f"signing key {old.active} -> {new.active}")
    before = {k.index: k for k in old.keys}
    after = {k.index: k for k in new.keys}
    if added := sorted(set(after) - set(before)):
        out.append("keys added: " + " ".join(map(str, added)))
    if removed := sorted(set(before) - set(after)):
        out.append("keys removed: " + " ".join(map(str, removed)))
    if replaced := sorted(i for i in set(before) & set(after) if before[i] != after[i]):
        out.append("keys changed: " + " ".join(map(str, replaced)))
    return tuple(out)


def _groups(old: tuple[ResourceGroup, ...], new: tuple[ResourceGroup, ...]) -> dict[str, tuple[str, ...]]:
    before = {g.key: g for g in old}
    after = {g.key: g for g in new}
    common = [k for k in after if k in before]
    return {
        "groups_added": tuple(k for k in after if k not in before),
        "groups_removed": tuple(k for k in before if k not in after),
        "groups_replaced": tuple(k for k in common if before[k].resources != after[k].resources),
        "groups_rehomed": tuple(
            k for k in common if before[k].resources == after[k].resources and before[k].home != after[k].home
        ),
    }
