"""The generated parts of docs/scenarios.md: the tables of daemon keys, faults and checks, rendered from
the declarations (lab/spec/daemon.py, fault_params.py, check_params.py), so the reference cannot drift.

    python -m lab.spec.doc          rewrite the marked sections of docs/scenarios.md
    python -m lab.spec.doc --check  exit 1 if they differ from the declarations (what the unit test asks)
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Collection
from pathlib import Path

from lab.spec.check_params import CHECK_PARAMS
from lab.spec.daemon import DAEMON_KEYS
from lab.spec.fault_params import FAULTS, FaultParams
from lab.spec.params import describe_field, fields_of, help_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
_SECTION = re.compile(r"(<!-- BEGIN generated: (\w+) -->\n)(.*?)(<!-- END generated: \2 -->)", re.S)
_COMMON_FAULT_FIELDS = {f.name for f in dataclasses.fields(FaultParams)}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _summary(cls: type) -> str:
    return _cell((cls.__doc__ or "").strip())


def _params(cls: type, skip: Collection[str] = ()) -> str:
    rows = []
    for name, (f, kind) in fields_of(cls).items():
        if name in skip:
            continue
        text = describe_field(f, kind)
        hint = help_of(f)
        rows.append(f"{text}: {_cell(hint)}" if hint else text)
    one_of = getattr(cls, "ONE_OF", ())
    if one_of:
        rows.append(f"at least one of {', '.join(f'`{k}`' for k in one_of)}")
    return "<br>".join(rows) or "—"


def daemon_table() -> str:
    lines = ["| key | value | ha.cf directive | meaning |", "|---|---|---|---|"]
    for key in DAEMON_KEYS.values():
        directive = f"`{key.directive}`" if key.directive else "(lab option)"
        lines.append(f"| `{key.name}` | {key.kind} | {directive} | {_cell(key.help)} |")
    return "\n".join(lines)


def fault_table() -> str:
    lines = ["| fault | parameters | `heal:` | what it does |", "|---|---|---|---|"]
    for name, decl in FAULTS.items():
        if decl.heals is not None:
            how = f"an `inject:` that heals like `heal: {{fault: {decl.heals}}}`"
            lines.append(f"| `{name}` | as `{decl.heals}` | — | {how} |")
            continue
        heal = "yes" if decl.healable else "no"
        params = _params(decl.params, _COMMON_FAULT_FIELDS)
        lines.append(f"| `{name}` | {params} | {heal} | {_summary(decl.params)} |")
    return "\n".join(lines)


def check_table() -> str:
    lines = ["| check | parameters | what it checks |", "|---|---|---|"]
    for name, cls in CHECK_PARAMS.items():
        lines.append(f"| `{name}` | {_params(cls)} | {_summary(cls)} |")
    return "\n".join(lines)


SECTIONS = {"daemon": daemon_table, "faults": fault_table, "checks": check_table}


def render(text: str) -> str:
    """`text` with every marked section replaced by its table (unknown section names are an error)."""

    def replace(match: re.Match[str]) -> str:
        name = match[2]
        if name not in SECTIONS:
            raise ValueError(f"unknown generated section {name!r} (known: {', '.join(SECTIONS)})")
        return f"{match[1]}{SECTIONS[name]()}\n{match[4]}"

    out = _SECTION.sub(replace, text)
    missing = set(SECTIONS) - {m[2] for m in _SECTION.finditer(text)}
    if missing:
        raise ValueError(f"{DOC.name}: no generated section for {', '.join(sorted(missing))}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the doc is out of date")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    fresh = render(text)
    if args.check:
        if fresh != text:
            print(f"{DOC}: the generated tables are out of date: run python -m lab.spec.doc", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        DOC.write_text(fresh, encoding="utf-8")
        print(f"{DOC}: tables regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
