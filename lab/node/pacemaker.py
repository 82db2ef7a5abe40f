"""Run Corosync + Pacemaker inside a lab node as one process the lab holds: its pid is the node's daemon.

`python -m lab.node.pacemaker --dir DIR` (DIR: what lab/pacemaker.py rendered from `hbd export pacemaker`:
corosync.conf, authkey, cib.xml)

A node container has no systemd, so this does what the units would: install the files where Corosync and
Pacemaker look for them, start `corosync -f`, wait until it answers (`corosync-cfgtool -s`), then start
`pacemakerd` (it stays in the foreground). SIGTERM is the lab's soft stop: pacemakerd is stopped first
(Pacemaker moves or stops every resource of this node and leaves the cluster cleanly), then corosync, as
`systemctl stop pacemaker corosync` does. A power-off kills everything at once (`docker kill`), this
included. If either daemon dies on its own, the other is stopped and this exits non-zero, so the lab sees a
dead daemon.

The CIB is installed only when the node has none yet: after a power-off and power-on the node keeps the
CIB Pacemaker wrote (newer epoch, as on a real machine) and the cluster syncs it.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

COROSYNC_DIR = Path("/etc/corosync")
CIB_DIR = Path("/var/lib/pacemaker/cib")
COROSYNC_READY_S = 30.0
PACEMAKER_STOP_S = 120.0  # pacemakerd waits for every resource to stop or move: the agents' stop timeouts
COROSYNC_STOP_S = 20.0
POLL_S = 0.05


def log(message: str) -> None:
    print(f"{time.monotonic():.3f} lab.node.pacemaker: {message}", flush=True)


def install(source: Path) -> None:
    """corosync.conf and authkey into /etc/corosync; cib.xml into Pacemaker's CIB dir if it has none."""
    COROSYNC_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "corosync.conf", COROSYNC_DIR / "corosync.conf")
    key = COROSYNC_DIR / "authkey"
    key.unlink(missing_ok=True)
    shutil.copyfile(source / "authkey", key)
    os.chmod(key, 0o400)  # corosync refuses a key others can read
    cib = CIB_DIR / "cib.xml"
    if cib.exists():
        log(f"{cib} exists (an earlier boot): kept")
        return
    CIB_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "cib.xml", cib)
    # The CIB manager runs as hacluster and refuses a CIB it cannot own; with no .sig file beside it,
    # Pacemaker reads the file as given (it writes the digest itself on the first update).
    uid, gid = pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid
    os.chown(cib, uid, gid)
    os.chmod(cib, 0o600)
    log(f"installed {cib}")


def wait_corosync(corosync: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + COROSYNC_READY_S
    while True:
        if corosync.poll() is not None:
            raise SystemExit(f"corosync exited with {corosync.returncode} before it was ready")
        probe = subprocess.run(["corosync-cfgtool", "-s"], capture_output=True, check=False)
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"corosync not ready after {COROSYNC_READY_S:g} s")
        time.sleep(POLL_S)


def stop(proc: subprocess.Popen[bytes] | None, name: str, timeout_s: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    log(f"stopping {name} (pid {proc.pid})")
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        log(f"{name} still running after {timeout_s:g} s: SIGKILL")
        proc.kill()
        proc.wait()
    log(f"{name} stopped ({proc.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.node.pacemaker", description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="corosync.conf, authkey, cib.xml")
    args = parser.parse_args(argv)
    stopping = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    install(args.dir)
    corosync = subprocess.Popen(["corosync", "-f"])
    log(f"corosync started (pid {corosync.pid})")
    pacemakerd: subprocess.Popen[bytes] | None = None
    try:
        wait_corosync(corosync)
        if stopping:
            return 0
        # Pacemaker's own log beside corosync's, in the run directory (the container's /var/log goes away).
        env = {**os.environ, "PCMK_logfile": str(args.dir / "pacemaker.log")}
        pacemakerd = subprocess.Popen(["pacemakerd"], env=env)
        log(f"pacemakerd started (pid {pacemakerd.pid})")
        while not stopping:
            for proc, name in ((corosync, "corosync"), (pacemakerd, "pacemakerd")):
                if proc.poll() is not None:
                    log(f"{name} exited on its own ({proc.returncode})")
                    return 1
            time.sleep(POLL_S)
        log("SIGTERM: stopping Pacemaker, then Corosync")
        return 0
    finally:
        stop(pacemakerd, "pacemakerd", PACEMAKER_STOP_S)
        stop(corosync, "corosync", COROSYNC_STOP_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
