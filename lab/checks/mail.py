"""acked_mail: every mail the SMTP server acknowledged is in the mailbox, read by IMAP and by POP3, once.

Evidence (lab/node/mail_probe.py): smtp `probe` records with `acked: true` and their `mail_id`; the last
`mail.inventory` record of each reading protocol, taken after the run's steps (every Subject in the
mailbox and how many times it is there).
"""

from __future__ import annotations

from lab.checks.result import CheckResult
from lab.history.records import History, Record
from lab.spec.check_params import AckedMail

READERS = ("imap", "pop3")


def _inventory(history: History, protocol: str) -> Record | None:
    found = [r for r in history.select("mail.inventory", source="probe") if r.get("protocol") == protocol]
    return found[-1] if found else None


def acked_mail(history: History, params: AckedMail) -> CheckResult:
    """No acknowledged mail missing from, or twice in, the mailbox as IMAP and POP3 list it."""
    smtp = [p for p in history.probes() if p.get("protocol") == "smtp"]
    acked = sorted({str(p.get("mail_id")) for p in smtp if p.get("acked")})
    values: dict[str, float | int | None] = {"sent": len(smtp), "acked": len(acked)}
    problems: list[str] = []
    if len(acked) < params.min_acked:
        problems.append(f"only {len(acked)} mail(s) acknowledged (min_acked {params.min_acked})")
    found: list[str] = []
    for protocol in READERS:
        inv = _inventory(history, protocol)
        if inv is None or not inv.get("ok"):
            why = "no inventory" if inv is None else f"inventory failed: {inv.get('error')}"
            problems.append(f"{protocol}: {why} (was a {protocol} probe running?)")
            values[f"{protocol}_lost"] = None
            continue
        ids = inv.get("ids") or {}
        lost = [m for m in acked if m not in ids]
        twice = sorted(m for m, n in ids.items() if isinstance(n, int) and n > 1)
        values[f"{protocol}_found"] = sum(1 for m in acked if m in ids)
        values[f"{protocol}_lost"] = len(lost)
        values[f"{protocol}_twice"] = len(twice)
        found.append(f"{protocol} found {len(acked) - len(lost)} (from {inv.get('answer')})")
        if lost:
            problems.append(f"{protocol}: {len(lost)} acknowledged mail(s) missing ({', '.join(lost[:3])})")
        if twice:
            problems.append(f"{protocol}: {len(twice)} mail(s) in the mailbox twice ({', '.join(twice[:3])})")
    summary = f"{len(acked)} of {len(smtp)} mails acknowledged; " + ", ".join(found)
    detail = summary + (f"; {'; '.join(problems)}" if problems else "")
    return CheckResult("acked_mail", not problems, len(acked), "mails", detail, values)
