"""Keep only the daemon in the installed tree: the wheel pybuild installs is the whole project (hbd and
its lab), so remove the lab package, its `hblab` command, its pytest plugin entry point (a plugin whose
module is missing breaks every pytest run on the machine) and the requirements only the lab has, from the
files and from the dist-info (METADATA, entry_points.txt, RECORD), so dh_python3 derives the daemon's own
dependencies. Usage: python3 debian/strip_lab.py debian/hbd"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

LAB_ONLY_REQUIREMENTS = ("pyroute2", "pyyaml")  # hbd/ imports neither (it has its own netlink code)


def strip(root: Path) -> None:
    site = next(root.glob("usr/lib/python3*/dist-packages"))
    shutil.rmtree(site / "lab")
    (root / "usr/bin/hblab").unlink()
    dist = next(site.glob("hbd-*.dist-info"))
    meta = dist / "METADATA"
    kept = [
        line
        for line in meta.read_text().splitlines()
        if not (
            line.startswith("Requires-Dist:")
            and (line.split()[1].lower() in LAB_ONLY_REQUIREMENTS or "extra ==" in line)
        )
        and not line.startswith("Provides-Extra:")
    ]
    meta.write_text("\n".join(kept) + "\n")
    entry = dist / "entry_points.txt"
    sections = entry.read_text().split("\n[")
    keep = [s for s in sections if not s.lstrip("[").startswith("pytest11]")]
    text = "\n[".join(keep)
    entry.write_text("\n".join(line for line in text.splitlines() if not line.startswith("hblab")) + "\n")
    record = dist / "RECORD"
    if record.exists():
        lines = record.read_text().splitlines()
        kept = [x for x in lines if not x.startswith(("lab/", "../../../bin/hblab"))]
        record.write_text("\n".join(kept) + "\n")


if __name__ == "__main__":
    strip(Path(sys.argv[1]))
