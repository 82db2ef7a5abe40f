"""PNG figures: a run's timeline (who held the VIP, who answered each probe, when faults hit) and the latency
distribution of an experiment. matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hbd.event_names import (
    GARP_SENT,
    GROUP_ACTIVE,
    GROUP_RELEASE_START,
    PEER_DEAD,
    PEER_GONE,
    SPLITBRAIN_DETECTED,
)
from lab.history.ownership import holding_intervals
from lab.history.records import History

# Events worth a marker on a node's lane.
MARKED_EVENTS = {
    PEER_DEAD: "v",
    PEER_GONE: "v",
    GROUP_ACTIVE: "^",
    GROUP_RELEASE_START: "s",
    GARP_SENT: "d",
    SPLITBRAIN_DETECTED: "X",
}
FAILED_PROBE_COLOUR = "#d62728"


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot has no useful type
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never try a display
    import matplotlib.pyplot as plt

    return plt


def _origin(history: History) -> float:
    faults = history.faults()
    if faults:
        return faults[0].mono
    return history.start or 0.0


def _plot_heartbeats(
    ax: Any, history: History, heartbeats: Sequence[Mapping[str, Any]], first_lane: int, t0: float,
    colours: Mapping[str, str],
) -> list[str]:
    """One lane per captured link: a tick per heartbeat in its sender's colour (refused ones: a red x),
    and for each death detection a dotted line at the last heartbeat heard from the dead peer before it:
    where the detection's latency starts. Returns the lanes' labels."""
    links = sorted({str(h["link"]) for h in heartbeats})
    for i, link in enumerate(links):
        lane = first_lane + i
        senders = sorted({str(h.get("src")) for h in heartbeats if h["link"] == link})
        for k, src in enumerate(senders):
            y = lane + 0.3 * (k - (len(senders) - 1) / 2) / max(len(senders) - 1, 1)  # a row per sender
            xs = [
                float(h["mono"]) - t0
                for h in heartbeats
                if h["link"] == link and str(h.get("src")) == src and h.get("verdict") == "accept"
            ]
            if xs:
                ax.scatter(xs, [y] * len(xs), marker="|", s=40, color=colours.get(src, "grey"))
        on_link = [h for h in heartbeats if h["link"] == link]
        bad = [float(h["mono"]) - t0 for h in on_link if h.get("verdict") != "accept"]
        if bad:
            ax.scatter(bad, [lane] * len(bad), marker="x", s=12, color=FAILED_PROBE_COLOUR, label="refused")
    good = [h for h in heartbeats if h.get("verdict") == "accept" and h.get("src") is not None]
    for dead in history.select((PEER_DEAD, PEER_GONE), source="node"):
        heard = [float(h["mono"]) for h in good if h["src"] != dead.node and h["mono"] < dead.mono]
        if heard:
            x = max(heard) - t0
            top = first_lane + len(links) - 0.6
            ax.vlines(x, first_lane - 0.4, top, colors="black", linestyles=":")
            # above the link lanes: the fault labels sit just above the probe lane, below them
            ax.annotate(f"last heard by {dead.node}", (x, top), fontsize=7, ha="right", va="bottom")
    return [f"{link} (heartbeats)" for link in links]


def plot_timeline(
    history: History, path: Path, title: str = "", heartbeats: Sequence[Mapping[str, Any]] = ()
) -> Path:
    """One lane per node (VIP held: bar; daemon events: markers), one lane for the client's probes, and
    with `heartbeats` (lab.analysis.pcap records of the run's capture) one lane per link."""
    plt = _pyplot()
    t0 = _origin(history)
    nodes = list(history.nodes)
    colours = {node: f"C{i % 10}" for i, node in enumerate(nodes)}
    intervals = holding_intervals(history)
    n_links = len({h["link"] for h in heartbeats})
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.8 * (len(nodes) + 1 + n_links)))
    for lane, node in enumerate(nodes):
        spans = [(a - t0, b - a) for a, b in intervals.get(node, [])]
        if spans:
            ax.broken_barh(spans, (lane - 0.3, 0.6), facecolors=colours[node], alpha=0.45)
        for event, marker in MARKED_EVENTS.items():
            xs = [r.mono - t0 for r in history.select(event, source="node", node=node)]
            if xs:
                ax.scatter(xs, [lane] * len(xs), marker=marker, s=30, color="black", zorder=3, label=event)
    probe_lane = len(nodes)
    probes = history.probes()
    for node in nodes:
        xs = [p.mono - t0 for p in probes if p.get("ok") and p.get("answer") == node]
        if xs:
            ax.scatter(xs, [probe_lane] * len(xs), s=4, color=colours[node], label=f"answered by {node}")
    failed = [p.mono - t0 for p in probes if not p.get("ok")]
    if failed:
        ax.scatter(
            failed, [probe_lane] * len(failed), s=8, marker="x", color=FAILED_PROBE_COLOUR, label="no answer"
        )
    for r in history.select(("fault.inject", "fault.heal"), source="lab"):
        x = r.mono - t0
        style = "-" if r.event == "fault.inject" else ":"
        ax.axvline(x, color="black", linestyle=style, linewidth=0.8)
        what = str(r.get("fault")) + (f" {r.get('node')}" if r.get("node") else "")
        what += f" {r.get('link')}" if r.get("link") else ""
        verb = "" if r.event == "fault.inject" else "heal "
        ax.annotate(verb + what, (x, probe_lane + 0.45), rotation=0, fontsize=7, ha="left", va="bottom")
    link_labels = _plot_heartbeats(ax, history, heartbeats, probe_lane + 1, t0, colours)
    labels = [f"{n} (VIP)" for n in nodes] + ["client probes"] + link_labels
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.7, probe_lane + len(link_labels) + 0.9)
    ax.set_xlabel("seconds from the first fault" if history.faults() else "seconds from the start")
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "timeline", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_distribution(metrics: Mapping[str, Sequence[float]], path: Path, title: str = "") -> Path:
    """Box plot plus every run as a dot, one row per metric, in milliseconds."""
    plt = _pyplot()
    names = [name for name, values in metrics.items() if values]
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.5 * max(len(names), 1)))
    if names:
        data = [[v * 1000 for v in metrics[name]] for name in names]
        ax.boxplot(data, orientation="horizontal", widths=0.5, showfliers=False)
        for row, values in enumerate(data, start=1):
            ax.scatter(values, [row] * len(values), s=12, alpha=0.6, zorder=3)
        ax.set_yticks(range(1, len(names) + 1), names)
    else:
        ax.text(0.5, 0.5, "no timing metrics", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("milliseconds")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "distribution", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
