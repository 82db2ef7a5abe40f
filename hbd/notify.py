"""systemd's readiness and watchdog protocol (sd_notify), in the few lines it takes.

With `Type=notify` systemd passes NOTIFY_SOCKET (a unix datagram socket path, or `@name` for the abstract
namespace); the service sends `READY=1` once it serves, `STOPPING=1` when it stops, and with `WatchdogSec=`
(WATCHDOG_USEC in its environment) `WATCHDOG=1` more often than that: a service that misses it is killed
and restarted. The pings come from a timer in the daemon's event loop (`start_watchdog`): a loop that is
stuck (a livelock, a blocking call) stops pinging, which is the point; a thread would keep pinging.

Which process talks to systemd: the worker (the supervisor's child) does, with `NotifyAccess=all` in the
unit, because only the worker's event loop can vouch for itself. The supervisor hands the worker the
watchdog by dropping WATCHDOG_PID (set to the supervisor's pid) from the worker's environment.

Standard library only; without NOTIFY_SOCKET every call is a no-op.
"""

from __future__ import annotations

import asyncio
import os
import socket


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self.sent = 0  # datagrams sent (tests, status)
        self.failed: str | None = None  # the last send error, if any
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Notifier:
        env = dict(os.environ) if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog = int(usec) if usec.isdigit() and int(usec) > 0 else None
        if pid and pid != str(os.getpid()):
            watchdog = None  # meant for another process (sd_watchdog_enabled's rule)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Half the watchdog period, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2e6

    def notify(self, *assignments: str) -> bool:
        if self.address is None:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]  # the abstract namespace
        try:
            # Non-blocking: a receiver whose queue is full (systemd busy) must cost a lost ping, never a
            # frozen event loop (a blocked sendto stopped the heartbeats and the control socket).
            with socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            ) as sock:
                sock.sendto("\n".join(assignments).encode(), target)
        except OSError as exc:
            self.failed = f"{self.address}: {exc}"
            return False
        self.sent += 1
        return True

    def ready(self, status: str = "") -> bool:
        # No MAINPID=: the supervisor stays the main process, so that a worker's death is not the service's.
        extra = (f"STATUS={status}",) if status else ()
        return self.notify("READY=1", *extra)

    def stopping(self) -> None:
        self.stop_watchdog()
        self.notify("STOPPING=1")

    def start_watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        interval = self.watchdog_interval_s
        if interval is None or self.address is None:
            return

        def ping() -> None:
            self.notify("WATCHDOG=1")
            self._timer = loop.call_later(interval, ping)

        ping()

    def stop_watchdog(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
