"""The serial medium over a real socat pty pair: frames both ways, resync after garbage, the other end
going away and coming back. Needs socat, not root."""

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from hbd.config.model import Medium
from hbd.transport.serial import SerialTransport

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat")

FRAME_A = b">>>\nt=status\nsrc=alice\nseq=1\n<<<\n\0"
FRAME_B = b">>>\nt=status\nsrc=bob\nseq=7\n<<<\n\0"


class Socat:
    """`socat pty pty` with stable symlinks, so a restarted pair reappears at the same paths."""

    def __init__(self, tmp_path):
        self.link_a = str(tmp_path / "ttyA")
        self.link_b = str(tmp_path / "ttyB")
        self.proc = None
        self.ptys = []

    def start(self):
        self.proc = subprocess.Popen(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.link_a}", f"pty,raw,echo=0,link={self.link_b}"],
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ptys = []
        deadline = time.monotonic() + 10
        while len(self.ptys) < 2 and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            match = re.search(r"PTY is (/dev/pts/\d+)", line)
            if match:
                self.ptys.append(match.group(1))
        # The symlinks may appear just after the report.
        links = (self.link_a, self.link_b)
        while not all(map(os.path.exists, links)) and time.monotonic() < deadline:
            time.sleep(0.01)
        if len(self.ptys) < 2 or not os.path.exists(self.link_b):
            self.stop()
            raise RuntimeError("socat did not report two ptys")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def socat(tmp_path):
    pair = Socat(tmp_path).start()
    try:
        yield pair
    finally:
        pair.stop()


class Inbox(list):
    def __call__(self, payload, link):
        self.append((payload, link))


async def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return predicate()


def _pair(socat):
    a = SerialTransport(Medium("serial", "serial:ttyA", device=socat.link_a, baud=115200))
    b = SerialTransport(Medium("serial", "serial:ttyB", device=socat.link_b, baud=115200))
    return a, b


def test_socat_reports_real_ptys(socat):
    assert all(p.startswith("/dev/pts/") for p in socat.ptys)
    assert os.path.realpath(socat.link_a) in socat.ptys


def test_frames_cross_both_ways(socat):
    async def main():
        a, b = _pair(socat)
        ia, ib = Inbox(), Inbox()
        await a.open(ia)
        await b.open(ib)
        try:
            for _ in range(5):
                a.send(FRAME_A)
            b.send(FRAME_B.rstrip(b"\0"))  # the NUL is added when missing
            assert await _until(lambda: len(ib) == 5 and len(ia) == 1)
            assert ib == [(FRAME_A, "serial:ttyB")] * 5
            assert ia == [(FRAME_B, "serial:ttyA")]
            assert a.stats["sent"] == 5 and b.stats["received"] == 5
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_garbage_and_a_cut_frame_on_the_line_are_survived(socat):
    async def main():
        a, b = _pair(socat)
        ib = Inbox()
        await a.open(lambda p, link: None)
        await b.open(ib)
        try:
            # Write noise and half a frame straight into A's tty, as a bad cable or a crashed writer would.
            fd = os.open(socat.link_a, os.O_WRONLY | os.O_NOCTTY)
            try:
                os.write(fd, b"\x00\xffnoise\r\n" + FRAME_A[:15])
            finally:
                os.close(fd)
            a.send(FRAME_A)
            assert await _until(lambda: len(ib) == 1)
            assert ib == [(FRAME_A, "serial:ttyB")]
            assert b.stats["truncated"] == 1 and b.stats["garbage_bytes"] > 0
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_other_end_going_away_and_coming_back(socat):
    async def main():
        a, b = _pair(socat)
        ia, ib = Inbox(), Inbox()
        await a.open(ia)
        await b.open(ib)
        try:
            a.send(FRAME_A)
            assert await _until(lambda: len(ib) == 1)
            socat.stop()  # both pty masters vanish: EIO/EOF on our side
            assert await _until(lambda: a.stats["lost"] >= 1 and b.stats["lost"] >= 1)
            a.send(FRAME_A)  # while down: counted, not raised
            assert a.stats["send_errors"] >= 1
            await asyncio.sleep(0.3)  # some reopen attempts fail while nothing is there
            socat.start()
            assert await _until(lambda: a.stats["reopened"] >= 1 and b.stats["reopened"] >= 1)
            a.send(FRAME_A)
            b.send(FRAME_B)
            assert await _until(lambda: len(ib) == 2 and len(ia) == 1)
            assert ib[-1] == (FRAME_A, "serial:ttyB") and ia == [(FRAME_B, "serial:ttyA")]
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_missing_device_fails_at_open(tmp_path):
    async def main():
        t = SerialTransport(Medium("serial", "serial:none", device=str(tmp_path / "nothing")))
        with pytest.raises(Exception, match="serial:none: cannot open"):
            await t.open(lambda p, link: None)

    asyncio.run(main())
