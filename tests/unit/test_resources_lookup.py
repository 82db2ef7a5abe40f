from pathlib import Path

from hbd.resources.lookup import default_dirs, find_script


def _exe(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_first_directory_wins(tmp_path):
    first = _exe(tmp_path / "resource.d" / "httpd")
    _exe(tmp_path / "init.d" / "httpd")
    assert find_script("httpd", [tmp_path / "resource.d", tmp_path / "init.d"]) == first


def test_non_executable_and_directories_are_skipped(tmp_path):
    _exe(tmp_path / "a" / "svc", mode=0o644)
    (tmp_path / "b" / "svc").mkdir(parents=True)
    good = _exe(tmp_path / "c" / "svc")
    dirs = [tmp_path / "a", tmp_path / "b", tmp_path / "missing", tmp_path / "c"]
    assert find_script("svc", dirs) == good


def test_names_that_are_paths_are_refused(tmp_path):
    _exe(tmp_path / "sub" / "x")
    for name in ("sub/x", "../sub/x", "..", ".", ""):
        assert find_script(name, [tmp_path, tmp_path / "sub"]) is None


def test_not_found_is_none(tmp_path):
    assert find_script("nothing", [tmp_path]) is None


def test_default_dirs_follow_heartbeat():
    assert default_dirs("/etc/ha.d") == (Path("/etc/ha.d/resource.d"), Path("/etc/init.d"))
