"""The article's three files, as printed there, pass `hbd check` on both nodes (issue 11, item 9)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hbd.cli import main

ARTICLE = Path(__file__).parent.parent / "data" / "config" / "article"
HARESOURCES = "bob mailer pop3 imapd IPaddr::192.168.0.250/24\nbobek\n"  # exactly the article's file


@pytest.mark.parametrize("node", ["bob", "bobek"])
def test_hbd_check_accepts_the_article_files(node: str, tmp_path: Path, capsys) -> None:
    for name in ("ha.cf", "authkeys"):
        shutil.copy(ARTICLE / name, tmp_path / name)
    (tmp_path / "haresources").write_text(HARESOURCES)
    for name in ("ha.cf", "haresources"):
        os.chmod(tmp_path / name, 0o644)
    os.chmod(tmp_path / "authkeys", 0o600)
    assert main(["check", "--config-dir", str(tmp_path), "--node", node]) == 0
    out, err = capsys.readouterr()
    assert "mailer pop3 imapd IPaddr::192.168.0.250/24" in out
    assert "refused" not in err and "haresources" not in err  # no complaint about the bobek line
