"""`hbctl`: status, standby, takeover and reload through the daemon's control socket (heartbeat's
cl_status, hb_standby, hb_takeover; `reload` is SIGHUP that answers)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hbd.control import SCOPES, request
from hbd.daemon import StatePaths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hbctl", description="Talk to the local hbd.")
    parser.add_argument("--state-dir", help="the daemon's --state-dir (default /run/hbd)")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="nodes, links, groups and why")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    standby = sub.add_parser("standby", help="hand groups over to the peer (hb_standby)")
    standby.add_argument("scope", nargs="?", default="all", choices=SCOPES)
    takeover = sub.add_parser("takeover", help="take groups over from the peer (hb_takeover)")
    takeover.add_argument("scope", nargs="?", default="all", choices=SCOPES)
    takeover.add_argument(
        "--force",
        action="store_true",
        help="the peer is down: vouch for it instead of a fence (after a fence loop)",
    )
    sub.add_parser(
        "reload",
        help="re-read ha.cf, haresources and authkeys and apply them without a restart (like SIGHUP); "
        "invalid files are refused with FILE:LINE and the running configuration is kept (exit 1)",
    )
    cleanup = sub.add_parser(
        "cleanup",
        help="forget a group's monitor failures (ha.cf hbd_monitor) and clear its failed mark here, so it "
        "may run here again (Pacemaker's crm_resource --cleanup); a group whose stop failed: retry the stop",
    )
    cleanup.add_argument("group", help="the group's key: the first resource of its haresources line")
    events = sub.add_parser(
        "events",
        help="the decision log (events.jsonl): time, node, event, its fields and cause, one line each",
    )
    events.add_argument("-n", "--lines", type=int, default=20, help="show the last N records (default 20)")
    events.add_argument("-f", "--follow", action="store_true", help="keep reading as records come (Ctrl-C)")
    events.add_argument("--json", action="store_true", help="the raw records, one JSON object a line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "events":  # read from the file: works while the daemon is down, too
        return show_events(StatePaths.from_arg(args.state_dir).events, args.lines, args.follow, args.json)
    socket = StatePaths.from_arg(args.state_dir).socket
    payload: dict[str, Any] = {"cmd": args.command}
    if args.command in ("standby", "takeover"):
        payload["scope"] = args.scope
    if args.command == "takeover":
        payload["force"] = args.force
    if args.command == "cleanup":
        payload["group"] = args.group
    try:
        # a reload may open transports and wait for a running reload: longer than a status
        answer = request(Path(socket), payload, timeout_s=30.0 if args.command == "reload" else 5.0)
    except (OSError, ValueError) as exc:
        print(f"hbctl: cannot reach hbd at {socket}: {exc}", file=sys.stderr)
        return 2
    if not answer.get("ok"):
        print(f"hbctl: {answer.get('error', 'refused')}", file=sys.stderr)
        return 1
    if args.command == "status":
        status = answer["status"]
        print(json.dumps(status, indent=2) if args.json else render_status(status))
    if args.command == "reload":
        return render_reload(answer)
    return 0


def show_events(path: Path, count: int, follow: bool, raw: bool) -> int:
    from hbd.event_view import follow as follow_lines
    from hbd.event_view import last_lines, line_view

    show = (lambda line: line) if raw else line_view
    try:
        lines, offset = last_lines(path, count) if path.exists() or not follow else ([], 0)
    except OSError as exc:
        print(f"hbctl: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        for line in lines:
            print(show(line), flush=follow)
        if follow:
            for line in follow_lines(path, offset):
                print(show(line), flush=True)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `hbctl events | head`
        sys.stderr.close()
    return 0


def render_reload(answer: dict[str, Any]) -> int:
    """What the reload changed; 1 when something could not be applied (a medium that would not open)."""
    for warning in answer.get("warnings", []):
        print(f"hbctl: warning: {warning}", file=sys.stderr)
    changed = answer.get("changed") or {}
    if not changed:
        print("reloaded: nothing changed")
    for what, items in changed.items():
        print(f"reloaded: {what}: {', '.join(items)}")
    for problem in answer.get("problems", []):
        print(f"hbctl: not applied: {problem}", file=sys.stderr)
    return 1 if answer.get("problems") else 0


def render_status(s: dict[str, Any]) -> str:
    peer = s["peer"]
    lines = [
        f"node {s['node']}: {s['state']} ({s['cause']}), generation {s.get('generation')}",
        f"peer {peer['name']}: {peer['liveness']} (announced {peer['announced']}), "
        f"last heard {_age(peer['last_heard_s'])}, fence {peer['fence']}",
    ]
    for name, link in peer["links"].items():
        gaps = link["gaps"]
        lines.append(
            f"  link {name}: {'up' if link['up'] else 'DOWN'}, last heard {_age(link['last_heard_s'])}, "
            f"gaps max {gaps['max_ms']} ms, p99 <= {gaps['p99_ms']} ms over {gaps['count']}"
        )
    if peer.get("suggested_deadtime_s"):
        lines.append(f"  suggested deadtime from measured gaps: {peer['suggested_deadtime_s']} s")
    for key, g in s["groups"].items():
        holder = g["held_by"] or "nobody"
        lines.append(
            f"group {key} (home {g['home']}): here {g['role']}, held by {holder}"
            + (", standby" if g["standby"] else "")
            + (f" -- {g['cause']}" if g["cause"] else "")
        )
    for m in s.get("monitors") or []:
        last = m["last"] or "not run yet"
        if m["last"] not in (None, "ok"):
            last += f" (rc {m['rc']})"
        lines.append(
            f"  monitor {m['resource']} (group {m['group']}, every {m['interval_s']:g} s): {last}, "
            f"{_age(m['last_s'])}; failures {m['failures']} within {m['window_s']:g} s "
            f"(restarts allowed {m['restarts']}), {m['total_failures']} in all"
        )
    sup = s.get("supervisor")
    if sup:
        last = f" (last: {sup['last_exit']})" if sup.get("last_exit") else ""
        lines.append(f"supervisor pid {sup['pid']}: daemon restarted {sup['restarts']} time(s){last}")
    if s.get("rejected_packets"):
        lines.append(f"rejected packets: {s['rejected_packets']}")
    return "\n".join(lines)


def _age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.3f} s ago"


if __name__ == "__main__":
    sys.exit(main())
