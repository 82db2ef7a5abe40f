"""The `serial DEV` medium: heartbeat frames over a tty (a null-modem cable, or a socat pty pair in the lab).

A serial line is a byte stream, so frames must be found again on the receiving side. Heartbeat always uses
the classic encoding on serial (`>>>\\n` name=value lines `<<<\\n` + NUL; heartbeat.md 6.1), whose markers
cannot appear inside a valid frame, so `Deframer` cuts the stream at them and resynchronises after line
noise or a frame cut short (even mid-line) by the other end restarting.

The device is opened 8N1 at `baud`, non-blocking, and watched with `loop.add_reader`. When the other end
goes away (EOF or EIO from a pty whose master closed, a USB adapter unplugged) the transport closes the
device and tries to open it again with a growing delay; it never raises out of the event loop.
Hardware flow control is left off: a three-wire cable then works, and heartbeats are small enough that
nothing needs throttling.
"""

from __future__ import annotations

import asyncio
import logging
import os

import serial as pyserial

from hbd.config.model import Medium
from hbd.transport.base import OnPacket, TransportError, TransportStats, register_transport
from hbd.wire.codec import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

FRAME_START = b">>>\n"
FRAME_END = b"\n<<<\n"  # the end marker is a whole line: the newline before it belongs to it
MAX_FRAME = MAX_MESSAGE_BYTES - 1  # with its NUL, a longer frame would be refused by the codec: drop it early
MAX_OUTPUT_BACKLOG = 64 * 1024  # bytes waiting for a slow line; past this, new packets are dropped
READ_CHUNK = 4096
REOPEN_FIRST_S = 0.1
REOPEN_MAX_S = 5.0
DEFAULT_BAUD = 19200


class Deframer:
    """Cuts a byte stream into classic heartbeat frames.

    `feed(data)` returns every complete frame, each as `>>>\\n ... <<<\\n\\0` (the NUL appended, so a frame
    looks exactly like the UDP payload of the same message). Garbage before a frame is skipped; a frame
    interrupted by a new `>>>` line is abandoned; a frame growing past `max_frame` without its end is
    dropped. Counters say how much was lost and why.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self.frames = 0
        self.garbage_bytes = 0  # skipped bytes that were not NUL or whitespace between frames
        self.truncated = 0  # frames abandoned because a new frame started inside them
        self.oversized = 0  # frames dropped for exceeding max_frame

    def _skip(self, count: int) -> None:
        skipped = bytes(self._buf[:count])
        self.garbage_bytes += len(skipped.translate(None, b"\0\r\n \t"))
        del self._buf[:count]

    def reset(self) -> None:
        """Forget buffered bytes (the stream broke); a frame in progress counts as truncated."""
        if self._buf.startswith(FRAME_START):
            self.truncated += 1
        self._buf.clear()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            start = self._buf.find(FRAME_START)
            if start < 0:
                # Keep a tail that could be the beginning of a start marker split across reads.
                self._skip(max(0, len(self._buf) - (len(FRAME_START) - 1)))
                return frames
            self._skip(start)
            # Search from the start marker's own newline: it may be the newline before `<<<` (empty frame).
            body_from = len(FRAME_START) - 1
            end = self._buf.find(FRAME_END, body_from)
            # A writer that died mid-line and started over leaves "...src=al>>>\n": any `>>>\n` after the
            # start, even mid-line, begins a new frame. (A value ending in ">>>" would be split too; such a
            # frame fails authentication either way, and resynchronising on cut frames matters more.)
            restart = self._buf.find(FRAME_START, len(FRAME_START))
            if restart >= 0 and (end < 0 or restart < end):
                self.truncated += 1
                del self._buf[:restart]
                continue
            if end < 0:
                if len(self._buf) > self.max_frame:
                    self.oversized += 1
                    del self._buf[: len(self._buf) - (len(FRAME_START) - 1)]
                return frames
            frame_end = end + len(FRAME_END)
            frame = bytes(self._buf[:frame_end])
            del self._buf[:frame_end]
            if len(frame) > self.max_frame:
                self.oversized += 1
                continue
            self.frames += 1
            frames.append(frame + b"\0")


@register_transport("serial")
class SerialTransport:
    def __init__(self, medium: Medium, udpport: int = 0) -> None:
        if not medium.device:
            raise TransportError(f"{medium.name}: a serial medium needs a device")
        self.name = medium.name
        self.device = medium.device
        self.baud = medium.baud or DEFAULT_BAUD
        self.deframer = Deframer()
        self._stats = TransportStats()
        self.lost = 0  # times the device went away (EOF/EIO)
        self._port: pyserial.Serial | None = None
        self._fd: int | None = None
        self._out = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_packet: OnPacket | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._reopen_delay_s = REOPEN_FIRST_S
        self._closed = False

    async def open(self, on_packet: OnPacket) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_packet = on_packet
        self._closed = False
        try:
            self._open_device()
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot open {self.device}: {exc}") from exc

    def _open_device(self) -> None:
        assert self._loop is not None
        port = pyserial.Serial()
        port.port = self.device
        port.baudrate = self.baud
        port.bytesize = pyserial.EIGHTBITS
        port.parity = pyserial.PARITY_NONE
        port.stopbits = pyserial.STOPBITS_ONE
        port.timeout = 0
        port.rtscts = False
        port.open()  # raises SerialException, an OSError
        fd = port.fileno()
        os.set_blocking(fd, False)
        self._port, self._fd = port, fd
        self._out.clear()
        self._loop.add_reader(fd, self._on_readable)

    def _close_device(self) -> None:
        if self._fd is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        if self._port is not None:
            try:
                self._port.close()
            except OSError:
                pass
        self._port, self._fd = None, None
        self._out.clear()

    async def close(self) -> None:
        self._closed = True
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        self._close_device()

    @property
    def stats(self) -> dict[str, int]:
        return {
            **self._stats.as_dict(),
            "lost": self.lost,
            "frames": self.deframer.frames,
            "garbage_bytes": self.deframer.garbage_bytes,
            "truncated": self.deframer.truncated,
            "oversized": self.deframer.oversized,
        }

    # -- losing and finding the device ----------------------------------------------------------------
    def _lose_device(self, why: str) -> None:
        self.lost += 1
        log.warning("(%s) %s lost (%s); reopening with backoff", self.name, self.device, why)
        self._close_device()
        # A frame cut in half by the other end restarting must not be glued to the next one.
        self.deframer.reset()
        self._reopen_delay_s = REOPEN_FIRST_S
        self._schedule_reopen()

    def _schedule_reopen(self) -> None:
        if self._closed or self._loop is None:
            return
        self._reopen = self._loop.call_later(self._reopen_delay_s, self._try_reopen)
        self._reopen_delay_s = min(self._reopen_delay_s * 2, REOPEN_MAX_S)

    def _try_reopen(self) -> None:
        self._reopen = None
        if self._closed:
            return
        try:
            self._open_device()
        except OSError:
            self._schedule_reopen()
            return
        self._stats.reopened += 1
        log.info("(%s) %s open again", self.name, self.device)

    # -- data path ------------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO: the pty master (socat) closed, or the adapter vanished
            self._stats.receive_errors += 1
            self._lose_device(exc.strerror or str(exc))
            return
        if not data:
            self._lose_device("end of file")
            return
        for frame in self.deframer.feed(data):
            self._stats.received += 1
            assert self._on_packet is not None
            try:
                self._on_packet(frame, self.name)
            except Exception:  # the daemon's bug must not kill the medium
                log.exception("(%s) packet handler failed", self.name)

    def send(self, payload: bytes) -> None:
        if self._fd is None or len(self._out) + len(payload) > MAX_OUTPUT_BACKLOG:
            self._stats.send_errors += 1
            return
        frame = payload.rstrip(b"\0") + b"\0"  # exactly one NUL after `<<<\n`, as heartbeat writes it
        self._stats.sent += 1
        if self._out:
            self._out += frame
            return
        self._out += frame
        self._flush()

    def _flush(self) -> None:
        if self._fd is None or self._loop is None:
            return
        try:
            written = os.write(self._fd, self._out)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError as exc:
            self._stats.send_errors += 1
            self._lose_device(exc.strerror or str(exc))
            return
        del self._out[:written]
        if self._out:
            self._loop.add_writer(self._fd, self._flush)
        else:
            self._loop.remove_writer(self._fd)
