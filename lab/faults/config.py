"""Faults on the daemon's configuration: `reload` rewrites a node's files and sends SIGHUP (issue 14).

Every node's files are rewritten first (ha.cf lines replaced, authkeys rotated; the text is edited, not
re-rendered from the model, so a scenario can also write what hbd must refuse), then each
daemon gets SIGHUP (its supervisor when it has one, which forwards it, as systemd's `ExecReload` does) and
the fault waits for each daemon's answer in its events.jsonl: `config.reloaded`, or `config.reload_failed`
when the scenario expects a refusal. Anything else (no answer, the other answer) fails the run.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import Diagnostics
from hbd.config.model import AuthConfig, AuthKey
from hbd.config.render import render_authkeys
from hbd.event_names import CONFIG_RELOAD_FAILED as RELOAD_FAILED
from hbd.event_names import CONFIG_RELOADED as RELOADED
from lab.faults.base import Fault, FaultContext, FaultError, Given, daemon_pid, nodes_of, wait_until
from lab.faults.daemon import worker_of
from lab.spec import fault_params as fp

ANSWER_TIMEOUT_S = 10.0


def set_hacf_lines(text: str, lines: Sequence[str]) -> str:
    """ha.cf with each `directive value` line replacing every line of its directive (appended if absent).
    Text, not the model: a scenario may write a value hbd must refuse (`expect: refused`)."""
    out = text.splitlines()
    for line in lines:
        directive = line.split(maxsplit=1)[0].lower()
        out = [old for old in out if old.split()[:1] != [directive]]
        out.append(line)
    return "\n".join(out) + "\n"


def rotate_authkeys(text: str, keys: Sequence[int] | None, auth: int | None) -> str:
    """authkeys holding `keys` (default: the same) and signing with `auth` (default: the same). A kept index
    keeps its key; a new one gets a sha256 key derived from the file's lowest key, so every node of the run
    derives the same key without the scenario writing one. Raises ValueError for a file hbd would refuse."""
    diag = Diagnostics("authkeys")
    current = parse_authkeys(text, diag)
    if diag.errors:
        raise ValueError("; ".join(str(p) for p in diag.errors))
    have = {k.index: k for k in current.keys}
    base = min(current.keys, key=lambda k: k.index).key
    new_keys = []
    for index in keys if keys is not None else sorted(have):
        derived = hashlib.sha256(b"hblab reload key %d:" % index + base).hexdigest().encode()
        new_keys.append(have.get(index) or AuthKey(index, "sha256", derived))
    # an `auth` without its key is written as asked: hbd must refuse it (a reload test)
    active = auth if auth is not None else current.active
    return render_authkeys(AuthConfig(active=active, keys=tuple(new_keys)))


def _answer(events: Path, offset: int) -> dict[str, Any] | None:
    """The first reload answer written past `offset` of a daemon's events.jsonl."""
    try:
        with events.open("rb") as f:
            f.seek(offset)
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written
        if record.get("event") in (RELOADED, RELOAD_FAILED):
            return dict(record)
    return None


class Reload(Fault[fp.Reload]):
    params = fp.Reload

    def inject(self, ctx: FaultContext, p: fp.Reload, given: Given) -> dict[str, Any]:
        nodes = nodes_of(ctx, self.name, p.node, p.nodes)
        pids = {node: daemon_pid(ctx, self.name, node) for node in nodes}
        for node in nodes:
            self._rewrite(ctx, node, p)
        offsets = {}
        mono = time.monotonic()
        for node in nodes:
            events = ctx.backend.node_dirs(node).state_dir / "events.jsonl"
            offsets[node] = events.stat().st_size if events.exists() else 0
            worker, supervisor = worker_of(pids[node])
            ctx.backend.signal(supervisor if supervisor is not None else worker, signal.SIGHUP)
        answers: dict[str, dict[str, Any]] = {}
        for node in nodes:
            events = ctx.backend.node_dirs(node).state_dir / "events.jsonl"

            def answered(node: str = node, events: Path = events) -> bool:
                answer = _answer(events, offsets[node])
                if answer is not None:
                    answers[node] = answer
                return answer is not None

            wait_until(answered, f"{node}'s daemon answers the reload", timeout_s=ANSWER_TIMEOUT_S)
        want = RELOADED if p.expect == "reloaded" else RELOAD_FAILED
        for node, answer in answers.items():
            if answer["event"] != want:
                why = answer.get("problems") or answer.get("cause")
                raise FaultError(f"{self.name}: {node} answered {answer['event']} ({why}), expected {want}")
        return ctx.emit(
            "fault.inject",
            self.name,
            given,
            mono=mono,
            verified_mono=max(float(a["mono"]) for a in answers.values()),
            changed={n: a.get("changed", a.get("problems")) for n, a in answers.items()},
        )

    def _rewrite(self, ctx: FaultContext, node: str, p: fp.Reload) -> None:
        cfg = ctx.backend.node_dirs(node).config_dir
        try:
            if p.set is not None:
                hacf = cfg / "ha.cf"
                hacf.write_text(set_hacf_lines(hacf.read_text(), p.set))
            if p.keys is not None or p.auth is not None:
                keys = cfg / "authkeys"
                text = rotate_authkeys(keys.read_text(), p.keys, p.auth)
                keys.write_text(text)
                keys.chmod(0o600)
        except (OSError, ValueError) as exc:
            raise FaultError(f"{self.name}: cannot rewrite {node}'s files in {cfg}: {exc}") from exc


FAULTS: tuple[Fault[Any], ...] = (Reload(),)
