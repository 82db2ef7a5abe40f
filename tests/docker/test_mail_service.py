"""The mailer init script in a bare mail-image container (no cluster): what its start leaves behind."""

from __future__ import annotations

import subprocess

import pytest

from lab.backends.docker import dockerd
from lab.backends.docker.image import ensure_image
from lab.paths import SERVICE_DIR

pytestmark = pytest.mark.docker

# The working tree's scripts in a resource.d of their own, the lab's conf beside it (hblab-mail.sh reads
# ../hblab-service.conf), a local mail dir (no shared disk). The first start creates the queue (seconds,
# once per disk); the second is a takeover's: the seconds between main.cf's mtime and the moment
# `postfix start` runs, from the script's own step log.
START = r"""
set -e
mkdir -p /etc/hbt/resource.d /state
cp /svc/mailer /svc/hblab-mail.sh /etc/hbt/resource.d/
printf 'NODE=bob\nSTATE_DIR=/state\n' >/etc/hbt/hblab-service.conf
/etc/hbt/resource.d/mailer start
/etc/hbt/resource.d/mailer stop
: >/state/hblab-mail.log
/etc/hbt/resource.d/mailer start
started=$(date -d "$(awk '$3 == "postfix" {print $1}' /state/hblab-mail.log)" +%s)
echo $((started - $(stat -c %Y /etc/postfix/main.cf)))
"""


def test_mailer_starts_postfix_on_a_main_cf_older_than_its_cool_down(engine: dockerd.EngineState) -> None:
    """Postfix re-reads a main.cf modified less than 2 s ago every 300 ms until it is 2 s old (util/dict.c);
    the script's postconf -e right before `postfix start` cost every takeover 1.8-2.6 s of it."""
    tag = ensure_image("mail")
    mount = f"{SERVICE_DIR}:/svc:ro"
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", mount, tag, "sh", "-c", START],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    age = int(proc.stdout.split()[-1])
    assert age >= 2, f"main.cf was {age} s old when postfix started: postfix waits for it to cool down"
