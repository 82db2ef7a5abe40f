"""The mail client: runs inside the client node and uses the mail service on the VIP every few ms.

`python -m lab.node.mail_probe --protocol smtp|pop3|imap --target IP[:PORT] --every-ms 100 --out FILE
 --until-file STOP [--acked-from SMTP_FILE]`

One attempt per grid point (start + k * every), each in its own thread so that an attempt stuck on a dead
node does not hide the moment the service is back (as lab/node/probe.py's overlapping attempts). Every
attempt writes the TCP probe's record shape, so takeover_latency and outage work per protocol:
  {"mono": when the outcome was known, "sent_mono", "source": "probe", "event": "probe",
   "protocol": "smtp", "ok", "answer": node named by the greeting or null, "rtt_ms", "error"?}
plus what the protocol did:
  smtp       a mail with a unique id (`mail_id`, in its Subject); `acked`: the reply to DATA was 250
  pop3/imap  log in, count the messages, fetch the newest one's Subject: `count`, `seen_id`
When the run stops, pop3 and imap take a full inventory of the mailbox (every Subject, how many times):
one `mail.inventory` record {"protocol", "answer", "ids": {mail_id: count}}. With --acked-from (the smtp
client's file) it retries until every acknowledged id is in the mailbox or INVENTORY_WAIT_S passed: a
mail acknowledged just before the stop may still be on its way from the queue. lab/checks/mail.py judges.
"""

from __future__ import annotations

import argparse
import contextlib
import imaplib
import json
import os
import poplib
import re
import smtplib
import sys
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

PORTS = {"smtp": 25, "pop3": 110, "imap": 143}
USER = "probe"
PASSWORD = "hblab"  # lab/node/service/hblab-mail.sh: any user, this password
RECIPIENT = "probe@lab.test"
SENDER = "client@lab.test"
MAX_IN_FLIGHT = 64  # attempts blocked on a dead node at once; beyond that a grid point is skipped
INVENTORY_WAIT_S = 3.5  # below the runner's PROBE_STOP_WAIT_S, which then kills its helpers
SUBJECT_RE = re.compile(rb"^Subject:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

Result = dict[str, Any]


def node_of_greeting(greeting: str) -> str | None:
    """The node named by a server greeting: postfix's "bob.lab.test ESMTP hblab", dovecot's
    "+OK bob pop3 ready." or "* OK [CAPABILITY ...] bob imap ready." (lab/node/service/hblab-mail.sh)."""
    text = re.sub(r"^(\+OK|\* OK)\s*(\[[^\]]*\]\s*)?", "", greeting.strip())
    words = text.split()
    return words[0].split(".")[0] if words else None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def smtp_attempt(host: str, port: int, timeout_s: float, mail_id: str) -> Result:
    out: Result = {"mail_id": mail_id, "acked": False}
    client = smtplib.SMTP(timeout=timeout_s)
    try:
        code, banner = client.connect(host, port)
        out["answer"] = node_of_greeting(_text(banner))
        if code != 220:
            raise smtplib.SMTPResponseException(code, banner)
        client.ehlo("client.lab.test")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = SENDER, RECIPIENT, mail_id
        msg.set_content(f"{mail_id}\n")
        for step, (code, reply) in (
            ("MAIL", client.mail(SENDER)),
            ("RCPT", client.rcpt(RECIPIENT)),
            ("DATA", client.data(msg.as_bytes())),
        ):
            if code != 250:
                raise smtplib.SMTPResponseException(code, f"{step}: {_text(reply)}".encode())
        out["acked"] = True  # the 250 reply to DATA: the server has taken responsibility for the mail
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
    finally:
        client.close()
    return out


def pop3_session(host: str, port: int, timeout_s: float, inventory: bool) -> Result:
    client = poplib.POP3(host, port, timeout=timeout_s)
    out: Result = {"answer": node_of_greeting(_text(client.getwelcome()))}
    try:
        client.user(USER)
        client.pass_(PASSWORD)
        count, _size = client.stat()
        out["count"] = count
        numbers = range(1, count + 1) if inventory else ([count] if count else [])
        subjects = []
        for n in numbers:
            _resp, lines, _octets = client.top(n, 0)
            match = SUBJECT_RE.search(b"\n".join(lines))
            subjects.append(_text(match.group(1)) if match else "")
        _store_subjects(out, subjects, inventory)
        client.quit()
    finally:
        with contextlib.suppress(OSError):
            client.close()
    return out


def imap_session(host: str, port: int, timeout_s: float, inventory: bool) -> Result:
    client = imaplib.IMAP4(host, port, timeout=timeout_s)
    out: Result = {"answer": node_of_greeting(_text(client.welcome))}
    try:
        client.login(USER, PASSWORD)
        typ, data = client.select("INBOX", readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SELECT: {data!r}")
        count = int(_text(data[0] or b"0"))
        out["count"] = count
        subjects: list[str] = []
        if count:
            which = "1:*" if inventory else str(count)
            typ, fetched = client.fetch(which, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            if typ != "OK":
                raise imaplib.IMAP4.error(f"FETCH: {fetched!r}")
            for part in fetched:
                if isinstance(part, tuple):
                    match = SUBJECT_RE.search(part[1])
                    subjects.append(_text(match.group(1)) if match else "")
        _store_subjects(out, subjects, inventory)
        client.logout()
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()
    return out


def _store_subjects(out: Result, subjects: list[str], inventory: bool) -> None:
    if inventory:
        counts: dict[str, int] = {}
        for s in subjects:
            counts[s] = counts.get(s, 0) + 1
        out["ids"] = counts
    elif subjects:
        out["seen_id"] = subjects[-1]


class Prober:
    """Paces attempts of one protocol and writes their records (thread-safe, flushed per record)."""

    def __init__(self, protocol: str, host: str, port: int, timeout_s: float, out: IO[str]) -> None:
        self.protocol, self.host, self.port, self.timeout_s, self.out = protocol, host, port, timeout_s, out
        self.lock = threading.Lock()
        self.seq = 0
        self.tag = f"{os.getpid()}-{int(time.time())}"  # unique across runs and restarts of the client

    def write(self, rec: Result) -> None:
        with self.lock:
            self.out.write(json.dumps(rec) + "\n")
            self.out.flush()

    def attempt(self, mono: float, mail_id: str | None) -> None:
        rec: Result = {"mono": 0.0, "sent_mono": mono, "source": "probe", "event": "probe"}
        rec.update(protocol=self.protocol, ok=False, answer=None)
        try:
            if self.protocol == "smtp":
                assert mail_id is not None
                rec.update(smtp_attempt(self.host, self.port, self.timeout_s, mail_id))
            elif self.protocol == "pop3":
                rec.update(pop3_session(self.host, self.port, self.timeout_s, inventory=False))
            else:
                rec.update(imap_session(self.host, self.port, self.timeout_s, inventory=False))
            rec["ok"] = True
        except (OSError, EOFError, smtplib.SMTPException, poplib.error_proto, imaplib.IMAP4.error) as exc:
            rec["error"] = _error(exc)
        done = time.monotonic()
        rec["mono"] = done
        rec["rtt_ms"] = round((done - mono) * 1000, 3)
        self.write(rec)

    def next_mail_id(self) -> str:
        self.seq += 1
        return f"hblab-{self.tag}-{self.seq}"


def _error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    text = str(exc) or type(exc).__name__
    return text[:200]


def run(prober: Prober, every_ms: float, stop: Callable[[], bool]) -> None:
    start = time.monotonic()
    every = every_ms / 1000
    k = 0
    threads: list[threading.Thread] = []
    while not stop():
        now = time.monotonic()
        if now >= start + k * every:
            threads = [t for t in threads if t.is_alive()]
            if len(threads) < MAX_IN_FLIGHT:
                mail_id = prober.next_mail_id() if prober.protocol == "smtp" else None
                t = threading.Thread(target=prober.attempt, args=(now, mail_id), daemon=True)
                t.start()
                threads.append(t)
            k = max(k + 1, int((now - start) / every) + 1)
        time.sleep(max(0.0, min(start + k * every - time.monotonic(), 0.05)))
    for t in threads:
        t.join(prober.timeout_s + 1)


def acked_ids(path: Path | None) -> set[str]:
    """Mail ids the smtp client recorded as acknowledged (complete lines only)."""
    if path is None or not path.exists():
        return set()
    found = set()
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            if isinstance(rec, dict) and rec.get("acked") and isinstance(rec.get("mail_id"), str):
                found.add(rec["mail_id"])
    return found


def inventory(prober: Prober, acked_from: Path | None) -> None:
    """The mailbox's full contents as one mail.inventory record (see the module docstring)."""
    session = pop3_session if prober.protocol == "pop3" else imap_session
    deadline = time.monotonic() + INVENTORY_WAIT_S
    rec: Result = {"source": "probe", "event": "mail.inventory", "protocol": prober.protocol}
    while True:
        try:
            rec.update(session(prober.host, prober.port, prober.timeout_s, inventory=True), ok=True)
            rec.pop("error", None)
            missing = acked_ids(acked_from) - set(rec["ids"])
        except (OSError, EOFError, poplib.error_proto, imaplib.IMAP4.error) as exc:
            rec.update(ok=False, error=_error(exc))
            missing = {"?"}
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    rec["mono"] = time.monotonic()
    prober.write(rec)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.node.mail_probe", description="use SMTP, POP3 or IMAP")
    p.add_argument("--protocol", required=True, choices=sorted(PORTS))
    p.add_argument("--target", required=True, help="IP or IP:PORT of the service (the VIP)")
    p.add_argument("--every-ms", type=float, default=100.0, help="interval between attempts (default 100)")
    p.add_argument("--timeout-ms", type=float, default=1000.0, help="timeout of each step (default 1000)")
    p.add_argument("--out", type=Path, required=True, help="JSON lines file to append to")
    p.add_argument("--acked-from", type=Path, help="the smtp client's file (pop3/imap inventory waits)")
    stop = p.add_mutually_exclusive_group(required=True)
    stop.add_argument("--until-file", type=Path, help="stop once this file exists")
    stop.add_argument("--duration-s", type=float, help="stop after this many seconds")
    args = p.parse_args(argv)
    host, sep, port_text = args.target.rpartition(":")
    if not sep:
        host, port_text = args.target, str(PORTS[args.protocol])
    if not port_text.isdigit() or not host:
        p.error(f"--target must be IP or IP:PORT, got {args.target!r}")
    if args.every_ms <= 0 or args.timeout_ms <= 0:
        p.error("--every-ms and --timeout-ms must be positive")
    started = time.monotonic()
    parent = os.getppid()  # the runner: if it dies without stopping us, stop too

    def stopping() -> bool:
        if args.duration_s is not None:
            return time.monotonic() - started >= args.duration_s
        return args.until_file.exists() or os.getppid() != parent

    with open(args.out, "a") as out:
        prober = Prober(args.protocol, host, int(port_text), args.timeout_ms / 1000, out)
        run(prober, args.every_ms, stopping)
        if args.protocol != "smtp":
            inventory(prober, args.acked_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
