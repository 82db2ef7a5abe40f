"""Synthetic histories for the lab checker tests: a few lines describe a whole run."""

from __future__ import annotations

from typing import Any

from lab.history.records import History, history_from_records


class HistoryBuilder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def node(self, t: float, node: str, event: str, level: str = "INFO", **fields: Any) -> HistoryBuilder:
        self.records.append(
            {
                "mono": t,
                "source": "node",
                "node": node,
                "event": event,
                "level": level,
                "wall": 1e9 + t,
                **fields,
            }
        )
        return self

    def fault(self, t: float, fault: str, **params: Any) -> HistoryBuilder:
        self.records.append({"mono": t, "source": "lab", "event": "fault.inject", "fault": fault, **params})
        return self

    def probes(self, start: float, stop: float, answer: str | None, every: float = 0.005) -> HistoryBuilder:
        """Probes in [start, stop): answered by `answer`, or failing when it is None."""
        n = round((stop - start) / every)
        for i in range(n):
            self.records.append(
                {
                    "mono": round(start + i * every, 6),
                    "source": "probe",
                    "event": "probe",
                    "ok": answer is not None,
                    "answer": answer,
                    "rtt_ms": 0.2,
                }
            )
        return self

    def owners(self, start: float, stop: float, owners: list[str], every: float = 0.01) -> HistoryBuilder:
        n = round((stop - start) / every)
        for i in range(n):
            self.records.append(
                {
                    "mono": round(start + i * every, 6),
                    "source": "owner",
                    "event": "vip.owners",
                    "owners": list(owners),
                }
            )
        return self

    def takeover(self, t: float, node: str, group: str = "10.0.0.100") -> HistoryBuilder:
        """A survivor's takeover chain starting at t: acquire, ip, active, garp (1 ms apart)."""
        self.node(t, node, "group.acquire.start", group=group, cause="test")
        self.node(t + 0.001, node, "ip.added", ip="10.0.0.100/24", iface="eth0")
        self.node(t + 0.002, node, "group.active", group=group, duration_s=0.002, cause="test")
        self.node(t + 0.003, node, "garp.sent", ip="10.0.0.100", iface="eth0", count=5)
        return self

    def release(self, t: float, node: str, group: str = "10.0.0.100") -> HistoryBuilder:
        self.node(t, node, "group.release.start", group=group, cause="test")
        self.node(t + 0.001, node, "ip.removed", ip="10.0.0.100/24", iface="eth0")
        self.node(t + 0.002, node, "group.released", group=group, duration_s=0.002)
        return self

    def build(self, problems: tuple[str, ...] = ()) -> History:
        return history_from_records(self.records, problems)


def power_off_history() -> HistoryBuilder:
    """bob holds the VIP, is powered off at t=3.0, bobek detects at 3.3 and answers from 3.35."""
    b = HistoryBuilder()
    b.takeover(1.0, "bob")
    b.probes(2.0, 3.0, "bob").probes(3.0, 3.35, None).probes(3.35, 5.0, "bobek")
    # The powered-off namespace still lists the address: samples show bob until the end.
    b.owners(2.0, 3.31, ["bob"]).owners(3.31, 5.0, ["bob", "bobek"])
    b.fault(3.0, "power_off", node="bob")
    b.node(3.3, "bobek", "peer.dead", level="WARN", peer="bob", silence_s=0.3, links=["bcast:eth1"])
    b.takeover(3.301, "bobek")
    return b
