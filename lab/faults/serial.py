"""A serial line cut: the lab's relay between the two ptys stops copying bytes (and relays again at the
heal); the backend waits for the relay's acknowledgement."""

from __future__ import annotations

import time
from typing import Any

from lab.faults.base import Fault, FaultContext, FaultError, Given
from lab.spec import fault_params as fp


class SerialCut(Fault[fp.SerialCut]):
    params = fp.SerialCut

    def _line(self, ctx: FaultContext, p: fp.SerialCut) -> str:
        names = [ln.name for ln in ctx.topology.serial_lines]
        line = p.link or p.line or (names[0] if len(names) == 1 else None)
        if line not in names:
            raise FaultError(f"{self.name}: line must be one of {', '.join(names) or '(no serial lines)'}")
        return str(line)

    def inject(self, ctx: FaultContext, p: fp.SerialCut, given: Given) -> dict[str, Any]:
        line = self._line(ctx, p)
        mono = time.monotonic()
        ctx.backend.serial_set(line, False)
        return ctx.emit(
            "fault.inject", self.name, given, mono=mono, line=line, verified_mono=time.monotonic()
        )

    def heal(self, ctx: FaultContext, p: fp.SerialCut, given: Given) -> dict[str, Any]:
        line = self._line(ctx, p)
        mono = time.monotonic()
        ctx.backend.serial_set(line, True)
        return ctx.emit("fault.heal", self.name, given, mono=mono, line=line, verified_mono=time.monotonic())


FAULTS = (SerialCut(),)
