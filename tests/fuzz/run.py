"""`make fuzz`: a seeded mutation fuzzer for the wire codec and the three config parsers (issue 11).

Not a pytest module (nothing here is named test_*), so `make test` never runs it. Run it with

    .venv/bin/python -m tests.fuzz.run [--cases 1000000] [--workers 2] [--seed N]

Every case is a valid seed (golden packets, freshly signed messages, the article's and the sample config
files) put through one to four mutations: byte flips, insertions of tokens that matter to the parsers
(`=`, `>>>`, `auth=`, `%%%`, netstring lengths, Unicode digits, thousands of digits, NUL, surrogates),
deletions, duplications, splices of another seed, truncation. The only exceptions allowed out of a parser
are the project's own: WireError from the codec; for the config parsers problems collected in Diagnostics
(or a ConfigError). Anything else is a bug: the run prints each distinct crash (type and place) with a
reproducer and exits 1.

To reach the code behind the signature check, half of the wire cases mutate the *content* and then sign
it properly (classic: the fields with a real key; netstring: the outer frame); the other half mutate the
signed packet itself, which the signature check must refuse cheaply.

Workers run independent seeded streams (seed + worker index), so a run is reproducible.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import multiprocessing
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hbd.config.authkeys import parse_authkeys
from hbd.config.errors import ConfigError, Diagnostics
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.model import AuthConfig, AuthKey
from hbd.wire.codec import decode_packet, encode
from hbd.wire.error import WireError
from hbd.wire.message import Message

DATA = Path(__file__).resolve().parents[1] / "data"
KEY = b"hbd-test-key"
AUTH = {
    method: AuthConfig(1, (AuthKey(1, method, b"" if method == "crc" else KEY),))
    for method in ("crc", "md5", "sha1", "sha256")
}
PROGRESS_EVERY = 100_000

# Tokens that mean something to one of the parsers; a mutation inserts one of them.
TEXT_TOKENS = [
    "=",
    "\n",
    "\r\n",
    " ",
    "\t",
    "#",
    "::",
    "/",
    "/24",
    "/33",
    "\\\n",
    ",",
    "-",
    "0",
    "1",
    "65535",
    "65536",
    "9" * 40,
    "9" * 5000,
    "0x1f",
    "1e9",
    "²",
    "\u0663",
    "\uff11",
    "½",
    "\x00",
    "\udcff",
    "ms",
    "us",
    "s",
    "node",
    "bcast",
    "ucast",
    "mcast",
    "serial",
    "baud",
    "udpport",
    "keepalive",
    "deadtime",
    "warntime",
    "initdead",
    "auto_failback",
    "ping",
    "ping_group",
    "stonith_host",
    "respawn",
    "auth",
    "sha1",
    "md5",
    "crc",
    "sha256",
    "IPaddr::",
    "IPaddr2::",
    "10.0.0.1",
    "256.1.1.1",
    "239.0.0.1",
    "eth0",
    "on",
    "off",
    "legacy",
    "bob",
    "bobek",
    "é",
    "\u200b",
    "x" * 300,
]
WIRE_TOKENS = [
    b"=",
    b"\n",
    b"\0",
    b">>>\n",
    b"<<<\n",
    b"\n<<<\n",
    b"auth=",
    b"auth=1 ",
    b"(1)",
    b"(0)",
    b"(2)",
    b"(9)",
    b"###\n",
    b"%%%\n",
    b"0:",
    b"9:",
    b"99999:",
    b"1000000:",
    b",",
    b":",
    b"t=status\n",
    b"src=bob\n",
    b"seq=ffffffffffffffff\n",
    b"hg=",
    b"heard=",
    b"\xff",
    b"\xc3\x28",
    b"a=\n" * 70,
    b"x" * 9000,
]


def mutate_bytes(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = rng.choice(WIRE_TOKENS)
        elif op == 2:
            buf[pos:pos] = bytes([rng.randrange(256)])
        elif op == 3:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 4:
            end = min(len(buf), pos + rng.randint(1, 64))
            buf[pos:pos] = buf[pos:end]
        elif op == 5:
            other = rng.choice(others)
            start = rng.randint(0, len(other))
            buf[pos:pos] = other[start : start + rng.randint(1, 80)]
        else:
            del buf[pos:]
    return bytes(buf)


def mutate_text(text: str, rng: random.Random, others: list[str]) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(chars))
        if op == 0 and chars:
            at = min(pos, len(chars) - 1)
            chars[at] = chr(
                rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000), rng.randrange(32)])
            )
        elif op == 1:
            chars[pos:pos] = rng.choice(TEXT_TOKENS)
        elif op == 2:
            chars[pos:pos] = rng.choice(TEXT_TOKENS) + " " + rng.choice(TEXT_TOKENS)
        elif op == 3:
            del chars[pos : pos + rng.randint(1, 12)]
        elif op == 4:
            end = min(len(chars), pos + rng.randint(1, 40))
            chars[pos:pos] = chars[pos:end]
        elif op == 5:
            lines = rng.choice(others).splitlines(keepends=True)
            if lines:
                chars[pos:pos] = rng.choice(lines)
        else:
            del chars[pos:]
    return "".join(chars)


# --- seeds -------------------------------------------------------------------------------------------


def _sign_classic(body: bytes, method: str) -> bytes:
    key = AUTH[method].keys[0]
    from hbd.wire.auth import sign  # the codec's own signer: what a real sender would put there

    return b">>>\n" + body + b"auth=" + sign(body, key).encode() + b"\n<<<\n\0"


def _sign_netstring_frame(frame: bytes) -> bytes:
    digest = hmac.new(KEY, frame, hashlib.sha1).hexdigest().encode()
    trailer = b"1 " + digest
    return frame + b"%d:%s," % (len(trailer), trailer)


def wire_seeds() -> list[bytes]:
    seeds = [
        (DATA / "wire" / name).read_bytes() for name in ("status-sha256.classic", "status-306-sha1.netstring")
    ]
    messages = [
        Message.build("status", st="active", src="bob", seq=0x2F, hg=0x6B06FBC0, ts=0x6B06FBE1, dt=300),
        Message.of(
            [
                ("t", "status"),
                ("st", "active"),
                ("dt", "12c"),
                ("hold", "IPaddr::10.0.0.50/24 mail"),
                ("fail", ""),
                ("sby", ""),
                ("cfg", "0123456789ab"),
                ("heard", "1796000000"),
                ("ping", "2"),
                ("src", "bob"),
                ("seq", "1"),
                ("hg", "6b06fbc0"),
                ("ts", "6b06fbe1"),
            ]
        ),
        Message.of(
            [
                ("t", "hb_takeover"),
                ("rsc_hold", "all"),
                ("heard", "17"),
                ("src", "bobek"),
                ("seq", "9"),
                ("hg", "1"),
            ]
        ),
    ]
    for message in messages:
        for method in AUTH:
            seeds.append(encode(message, AUTH[method]))
    return seeds


def config_seeds() -> dict[str, list[str]]:
    seeds: dict[str, list[str]] = {"ha.cf": [], "haresources": [], "authkeys": []}
    for path in sorted((DATA / "config").rglob("*")):
        if path.is_file() and path.name in seeds:
            seeds[path.name].append(path.read_bytes().decode("utf-8", errors="surrogateescape"))
    seeds["ha.cf"].append(
        "node alpha beta\nkeepalive 50ms\ndeadtime 300ms\nwarntime 150ms\ninitdead 1\nauto_failback on\n"
        "bcast eth1\nucast eth1 10.0.0.2\nmcast eth2 239.0.0.1 694 1 0\nserial /dev/ttyS0\nbaud 19200\n"
        "ping 10.0.0.254\nudpport 694\nrealtime off\n"
    )
    seeds["haresources"].append("alpha IPaddr::10.0.0.50/24/eth1 mail::x\nbeta\n")
    seeds["authkeys"].append("auth 2\n1 md5 old secret\n2 sha256 new secret\n3 crc\n")
    return seeds


# --- targets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[random.Random], object]  # one case; raises only what is allowed, else a bug


def wire_targets() -> list[Target]:
    seeds = wire_seeds()
    classic_bodies = [s[4 : s.index(b"auth=")] for s in seeds if s.startswith(b">>>\n") and b"auth=" in s]
    frames = [s[: s.rindex(b"%%%\n") + 4] for s in seeds if s.startswith(b"###\n")]

    def decode_any(data: bytes, auth: AuthConfig) -> None:
        try:
            packet = decode_packet(data, auth)
        except WireError:
            return
        msg = packet.message
        assert msg.msg_type is not None and msg.src is not None, "decoded a message without t or src"
        _ = (msg.seq, msg.generation, msg.ts, msg.deadtime_ms)  # typed accessors must not raise either

    def raw(rng: random.Random) -> None:
        method = rng.choice(list(AUTH))
        decode_any(mutate_bytes(rng.choice(seeds), rng, seeds), AUTH[method])

    def signed_classic(rng: random.Random) -> None:
        method = rng.choice(list(AUTH))
        body = mutate_bytes(rng.choice(classic_bodies), rng, classic_bodies)
        if not body.endswith(b"\n"):
            body += b"\n"  # else the auth line would not start a line: a wasted case
        decode_any(_sign_classic(body, method), AUTH[method])

    def signed_netstring(rng: random.Random) -> None:
        frame = mutate_bytes(rng.choice(frames), rng, frames)
        if not frame.endswith(b"%%%\n"):
            frame += b"%%%\n"
        decode_any(_sign_netstring_frame(frame), AUTH["sha1"])

    return [
        Target("wire:raw", raw),
        Target("wire:signed-classic", signed_classic),
        Target("wire:signed-netstring", signed_netstring),
    ]


def config_targets() -> list[Target]:
    seeds = config_seeds()

    def parser(kind: str, parse: Callable[[str, Diagnostics], object]) -> Target:
        texts = seeds[kind]

        def run(rng: random.Random) -> None:
            text = mutate_text(rng.choice(texts), rng, texts)
            diag = Diagnostics(kind)
            try:
                parse(text, diag)
            except ConfigError:
                pass
            for problem in diag.errors + diag.warnings:
                str(problem)  # every finding must render as FILE:LINE: message

        return Target(f"config:{kind}", run)

    return [
        parser("ha.cf", lambda text, diag: parse_hacf(text, diag, local_node="bob")),
        parser("haresources", lambda text, diag: parse_haresources(text, diag, nodes=("bob", "bobek"))),
        parser("authkeys", parse_authkeys),
    ]


# --- the loop --------------------------------------------------------------------------------------------


def _crash_key(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = frames[-1] if frames else None
    place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    return f"{type(exc).__name__} at {place}"


def worker(index: int, cases: int, seed: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    rng = random.Random(seed + index)
    targets = wire_targets() + config_targets()
    counts = {t.name: 0 for t in targets}
    crashes: dict[str, str] = {}
    for done in range(1, cases + 1):
        target = targets[done % len(targets)]
        case_rng = random.Random(rng.getrandbits(64))
        state = case_rng.getstate()
        try:
            target.run(case_rng)
        except Exception as exc:  # anything that is not the project's own error type
            key = f"{target.name}: {_crash_key(exc)}"
            if key not in crashes:
                case_rng.setstate(state)
                crashes[key] = f"{exc!r}\n{traceback.format_exc(limit=6)}"
        counts[target.name] += 1
        if done % PROGRESS_EVERY == 0:
            queue.put(("progress", index, (PROGRESS_EVERY, len(crashes))))
    queue.put(("done", index, (counts, crashes)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000, help="total cases over all workers")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261130)
    args = ap.parse_args(argv)
    per_worker = -(-args.cases // args.workers)
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [
        multiprocessing.Process(target=worker, args=(i, per_worker, args.seed, queue))
        for i in range(args.workers)
    ]
    start = time.monotonic()
    for proc in procs:
        proc.start()
    total, finished = 0, 0
    counts: dict[str, int] = {}
    crashes: dict[str, str] = {}
    crash_kinds = [0] * len(procs)
    while finished < len(procs):
        kind, index, payload = queue.get()
        if kind == "progress":
            total += payload[0]
            crash_kinds[index] = payload[1]
            rate = total / (time.monotonic() - start)
            print(f"fuzz: {total:,} cases, {rate:,.0f}/s, {sum(crash_kinds)} crash kinds so far", flush=True)
        else:
            finished += 1
            worker_counts, worker_crashes = payload
            for name, count in worker_counts.items():
                counts[name] = counts.get(name, 0) + count
            for key, text in worker_crashes.items():
                crashes.setdefault(key, text)
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - start
    total = sum(counts.values())
    for name, count in sorted(counts.items()):
        print(f"  {name:24} {count:>10,} cases")
    print(f"fuzz: {total:,} cases in {elapsed:.0f} s on {args.workers} workers (seed {args.seed})")
    if crashes:
        for key, text in sorted(crashes.items()):
            print(f"\nCRASH {key}\n{text}", file=sys.stderr)
        print(f"fuzz: {len(crashes)} distinct crashes", file=sys.stderr)
        return 1
    print("fuzz: no exception other than WireError / ConfigError / Diagnostics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
