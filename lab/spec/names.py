"""Names of everything the lab creates in the kernel.

Every namespace, link and bridge starts with `hbl<run>-` so parallel runs never clash and
`hblab clean` can find the leftovers of a crashed run (and nothing that is not the lab's).
Linux limits interface names to 15 characters (IFNAMSIZ - 1); namespace names are files and
have no such limit, but we keep them short too so `ip netns list` stays readable.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

LAB_PREFIX = "hbl"
IFNAME_MAX = 15
RUN_ID_LEN = 4
_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits
_RUN_ID_RE = re.compile(r"^[a-z0-9]{1,8}$")


def new_run_id() -> str:
    """A short random id: 36**4 = 1.7 million values, plenty for the runs alive on one host."""
    return "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(RUN_ID_LEN))


def check_run_id(run_id: str) -> str:
    if not _RUN_ID_RE.match(run_id):
        raise ValueError(f"run id {run_id!r}: use 1 to 8 lower-case letters or digits")
    return run_id


def fit_ifname(name: str) -> str:
    """`name` if it fits in 15 characters, else a prefix of it plus a short hash (stable, unique enough)."""
    if len(name) <= IFNAME_MAX:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:4]
    return name[: IFNAME_MAX - 5] + "~" + digest


@dataclass(frozen=True)
class RunNames:
    """The kernel names of one run of the lab."""

    run_id: str

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @property
    def prefix(self) -> str:
        return f"{LAB_PREFIX}{self.run_id}-"

    def node_netns(self, node: str) -> str:
        return f"{self.prefix}{node}"

    @property
    def switch_netns(self) -> str:
        """The namespace holding every bridge of the run: nothing of the lab lives in the host namespace."""
        return f"{self.prefix}sw"

    @staticmethod
    def bridge(segment: str) -> str:
        """A bridge inside the switch namespace (its own namespace, so no run prefix is needed)."""
        return fit_ifname(f"br-{segment}")

    @staticmethod
    def switch_port(node: str, iface: str) -> str:
        """The switch-side end of a node's veth: the 'cable' seen from the switch."""
        return fit_ifname(f"{node}-{iface}")


def is_lab_name(name: str) -> bool:
    return name.startswith(LAB_PREFIX)


def run_id_of(name: str) -> str | None:
    """The run id inside a lab name (`hblab12-bob` -> `ab12`), or None for a foreign name."""
    if not is_lab_name(name) or "-" not in name:
        return None
    candidate = name[len(LAB_PREFIX) : name.index("-")]
    return candidate if _RUN_ID_RE.match(candidate) else None
