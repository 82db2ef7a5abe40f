"""Man pages for hbd(8) and hbctl(8), made from the programs' own argparse parsers.

Generated at package build time (debian/rules), so a page can never disagree with `--help`: every
subcommand with its help and every option of each. Usage: `python3 contrib/manpage.py hbd|hbctl OUT.8`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PAGES = {
    "hbd": (
        "hbd.cli",
        "two-node failover daemon in the heartbeat tradition",
        "hbd reads heartbeat's ha.cf, haresources and authkeys (in /etc/ha.d, or --config-dir), exchanges "
        "authenticated heartbeats with its peer over every configured medium, decides which node owns each "
        "resource group, fences a dead peer when configured, and starts and stops resources. "
        "`hbd run` starts a small supervisor that restarts the daemon's worker if it dies; SIGTERM stops "
        "both cleanly (the groups are handed to the peer first); SIGHUP reloads the configuration without "
        "a restart (see hbctl(8) reload). Problems in the files are reported as FILE:LINE.",
    ),
    "hbctl": (
        "hbd.control_cli",
        "talk to the local hbd",
        "hbctl talks to the running hbd(8) over its control socket (/run/hbd/control.sock, or the "
        "daemon's --state-dir): heartbeat's cl_status, hb_standby and hb_takeover, plus reload, which "
        "re-reads the configuration files like SIGHUP and answers what changed (exit 1 and every problem "
        "as FILE:LINE when the new files are refused; the running configuration is then kept).",
    ),
}
FILES = (
    ("/etc/ha.d/ha.cf, /etc/ha.d/haresources, /etc/ha.d/authkeys", "the configuration (authkeys mode 0600)"),
    ("/run/hbd/control.sock", "the control socket hbctl uses"),
    ("/var/lib/hbd/events.jsonl", "every decision with its cause, one JSON object per line"),
    ("/usr/share/doc/hbd/examples/ha.d", "example configuration files"),
)


def roff(text: str) -> str:
    """Escape text for a roff line: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def _options(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:  # argparse has no public walk over its actions
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        names = ", ".join(action.option_strings)
        if action.nargs != 0:
            names += f" {action.metavar or action.dest.upper()}"
        out += [".TP", f"\\fB{roff(names)}\\fR", roff(action.help or "")]
    return out


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def render(prog: str, parser: argparse.ArgumentParser, summary: str, description: str) -> str:
    lines = [
        f'.TH {prog.upper()} 8 "" "hbd" "System Administration"',
        ".SH NAME",
        f"{prog} \\- {roff(summary)}",
        ".SH SYNOPSIS",
        f"\\fB{prog}\\fR {roff(parser.format_usage().split(' ', 2)[-1].strip())}",
        ".SH DESCRIPTION",
        roff(description),
    ]
    options = _options(parser)
    if options:
        lines += [".SH OPTIONS", *options]
    lines.append(".SH COMMANDS")
    for _name, help_text, sub in _subcommands(parser):
        usage = sub.format_usage().removeprefix("usage: ").strip()
        lines += [".TP", f"\\fB{roff(usage)}\\fR", roff(help_text), *[".RS", *_options(sub), ".RE"]]
    lines.append(".SH FILES")
    for path, what in FILES:
        lines += [".TP", f"\\fI{roff(path)}\\fR", roff(what)]
    lines += [".SH SEE ALSO", "hbd(8), hbctl(8), /usr/share/doc/hbd/README.md"]
    return "\n".join(lines) + "\n"


def page(prog: str) -> str:
    module_name, summary, description = PAGES[prog]
    module = __import__(module_name, fromlist=["_parser"])
    return render(prog, module._parser(), summary, description)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in PAGES:
        print(f"usage: manpage.py {'|'.join(PAGES)} OUT.8", file=sys.stderr)
        return 2
    Path(argv[1]).write_text(page(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
