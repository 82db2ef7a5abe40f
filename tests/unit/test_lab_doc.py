"""docs/scenarios.md shows the declarations of daemon keys, faults and checks as they are."""

from __future__ import annotations

import dataclasses

import pytest

from lab.spec import doc
from lab.spec.fault_params import FAULTS, FaultDecl, FaultParams


def test_the_generated_tables_match_the_declarations():
    text = doc.DOC.read_text(encoding="utf-8")
    assert doc.render(text) == text, "docs/scenarios.md is out of date: run python -m lab.spec.doc"
    assert doc.main(["--check"]) == 0


def test_every_fault_and_check_has_a_row():
    from lab.spec.check_params import CHECK_PARAMS
    from lab.spec.daemon import DAEMON_KEYS

    text = doc.DOC.read_text(encoding="utf-8")
    for name in (*FAULTS, *CHECK_PARAMS, *DAEMON_KEYS):
        assert f"| `{name}` |" in text


def test_a_new_declaration_makes_the_doc_stale(monkeypatch):
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Quake(FaultParams):
        """The ground shakes."""

        magnitude: int = 5

    text = doc.DOC.read_text(encoding="utf-8")
    monkeypatch.setitem(FAULTS, "quake", FaultDecl("quake", Quake))
    fresh = doc.render(text)
    assert fresh != text and "| `quake` | `magnitude`: integer = 5 | no | The ground shakes. |" in fresh


def test_a_doc_without_a_section_is_an_error():
    with pytest.raises(ValueError, match="no generated section for checks, daemon, faults"):
        doc.render("# nothing generated here\n")
