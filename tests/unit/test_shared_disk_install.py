"""The shared disk's resources work in a container too: everything hblab-writer runs is in the config dir
(bind-mounted in every node), not in the host's source tree, which a container does not see."""

from __future__ import annotations

from pathlib import Path

from lab.history.shared_disk import install_disk_resources


def test_the_writer_runs_from_the_config_dir(tmp_path: Path) -> None:
    cfg = tmp_path / "ha.d"
    (cfg / "resource.d").mkdir(parents=True)
    install_disk_resources(cfg / "resource.d", cfg, "bob", tmp_path / "state", tmp_path / "disk", "/py")
    conf = dict(line.split("=", 1) for line in (cfg / "hblab-disk.conf").read_text().splitlines())
    writer = Path(conf["WRITER"])
    assert writer.is_relative_to(cfg) and writer.is_file()
    assert "def main" in writer.read_text()
