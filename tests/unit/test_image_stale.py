"""Which older node images a build removes: only those nobody can be about to use."""

from datetime import datetime

from lab.backends.docker.image import STALE_AFTER_S, stale_tags

NOW = datetime.fromisoformat("2026-11-30T05:00:00+00:00").timestamp()


def _line(tag: str, age_s: float) -> str:
    born = datetime.fromtimestamp(NOW - age_s).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")
    return f"{tag}\t{born}"


def test_an_old_image_of_the_variant_is_removed_but_never_the_kept_one():
    listing = "\n".join([_line("hbl-hbd:new", STALE_AFTER_S * 3), _line("hbl-hbd:old", STALE_AFTER_S + 60)])
    assert stale_tags(listing, "hbl-hbd:new", NOW) == ["hbl-hbd:old"]


def test_an_image_built_a_moment_ago_by_another_session_is_kept():
    listing = _line("hbl-hbd:other", 120)
    assert stale_tags(listing, "hbl-hbd:new", NOW) == []


def test_a_creation_time_that_does_not_parse_keeps_the_image():
    assert stale_tags("hbl-hbd:odd\tsometime last week", "hbl-hbd:new", NOW) == []
