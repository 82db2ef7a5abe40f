"""What `hbd run` loads at start-up (issue 15, start-up): the daemon's first answer waits for its imports.

Each test runs the real entry point in a fresh interpreter and reads `sys.modules`: re-adding an eager import
of a module only some configurations need (prometheus_client for hbd_metrics, the reload machinery, the
logging handlers for syslog and log files, ctypes.util) fails here. The worker is stopped right after its
imports by a state directory it refuses (a symlink), before it opens any socket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Modules `hbd run` must not load unless the configuration asks for what they do.
NEVER_AT_START = (
    "prometheus_client",  # hbd_metrics only
    "hbd.metrics",
    "yaml",  # the lab's; the daemon reads ha.cf
    "pyroute2",  # hbd.netlink speaks rtnetlink itself
    "hbd.reload",  # SIGHUP / hbctl reload
    "hbd.config.diff",
    "hbd.config.render",  # hbd check
    "hbd.export",  # hbd export: only hbd.export.arguments (argparse) is allowed
    "hbd.transport.serial",  # serial media only
    "logging.handlers",  # logfacility, logfile, debugfile only
    "ctypes.util",
    "ssl",  # asyncio's TLS: hbd speaks none
    "http",
    "email",
)

SCRIPT = """
import json, sys
from hbd import cli
code = cli.main(sys.argv[1:])
modules = sorted(k for k, v in sys.modules.items() if v is not None)
blocked = sorted(k for k, v in sys.modules.items() if v is None)
print(json.dumps({"code": code, "modules": modules, "blocked": blocked}))
"""


def write_config(config_dir: Path, extra: str = "") -> None:
    config_dir.mkdir()
    (config_dir / "ha.cf").write_text("node alpha beta\nkeepalive 50ms\ndeadtime 300ms\nbcast lo\n" + extra)
    (config_dir / "haresources").write_text("alpha IPaddr::10.99.0.1/24/lo\n")
    (config_dir / "authkeys").write_text("auth 1\n1 sha256 k\n")
    (config_dir / "authkeys").chmod(0o600)


def loaded_by_run(tmp_path: Path, extra: str = "") -> tuple[set[str], set[str]]:
    """The modules of a `hbd run --no-supervisor` worker once it has imported the daemon, and those it
    blocked (None in sys.modules)."""
    write_config(tmp_path / "ha.d", extra)
    (tmp_path / "real").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "real")  # refused: the worker stops after its imports
    argv = ["run", "--no-supervisor", "--config-dir", str(tmp_path / "ha.d"), "--node", "alpha"]
    argv += ["--state-dir", str(tmp_path / "state")]
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["code"] == 1 and "symlink" in done.stderr, done.stderr  # refused at the state dir
    modules = set(out["modules"])
    assert "hbd.daemon" in modules and "asyncio" in modules  # it did get as far as the daemon
    return modules, set(out["blocked"])


def unwanted(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if any(m == n or m.startswith(n + ".") for n in NEVER_AT_START)
        and m not in ("hbd.export", "hbd.export.arguments")  # an empty package and argparse only
    )


def test_hbd_run_imports_only_what_its_configuration_needs(tmp_path: Path) -> None:
    modules, blocked = loaded_by_run(tmp_path)
    assert unwanted(modules) == []
    assert "ssl" in blocked


def test_with_hbd_metrics_ssl_stays_importable(tmp_path: Path) -> None:
    # prometheus_client imports ssl unconditionally: blocking it there would kill the daemon at start.
    modules, blocked = loaded_by_run(tmp_path, "hbd_metrics 127.0.0.1:9694\n")
    assert "ssl" not in blocked and "hbd.daemon" in modules


def test_the_supervisor_parent_loads_nothing_the_worker_does_not_need(tmp_path: Path) -> None:
    # The worker is a fork of the parent: what the parent loads before the fork is the worker's start-up
    # cost too, and must never include the daemon itself (the parent stays small and stdlib-only).
    code = (
        "import json, sys\n"
        "from hbd import cli, supervisor\n"
        "cli._parser()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    parent = set(json.loads(done.stdout))
    assert not {m for m in parent if m.startswith("hbd.") and m.split(".")[1] in ("daemon", "core", "config")}
    assert unwanted(parent) == []
    assert "asyncio" not in parent
