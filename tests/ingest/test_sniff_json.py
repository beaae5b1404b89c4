"""The JSON readers' sniffers accept their own files and refuse every other format held."""

from __future__ import annotations

import pytest

from cibwatch.ingest import Source, readers
from cibwatch.ingest.registry import sniff_format
from tests.conftest import FIXTURES, SHARED_DATA

JSON_READERS = ("twitter-v2", "bluesky", "mastodon")


def _accepting(path) -> list[str]:
    source = Source(path=path, dataset="x")
    head = source.head()
    return [name for name in JSON_READERS if readers()[name].sniff(head, path)]


def test_each_fixture_is_claimed_by_its_reader_only():
    for name in JSON_READERS:
        for path in sorted((FIXTURES / name).iterdir()):
            assert _accepting(path) == [name], path
            assert sniff_format(Source(path=path, dataset="x")).name == name, path


def test_other_readers_fixtures_are_refused():
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.parent.name not in JSON_READERS]
    assert len(others) >= 5
    for path in others:
        assert _accepting(path) == [], path


def test_real_files_of_other_formats_are_refused(shared):
    shared("formats")
    held = [
        p
        for p in sorted(SHARED_DATA.rglob("*"))
        if p.is_file()
        and p.suffix in {".csv", ".tsv", ".json", ".gz", ".xz"}
        and "twitter-v2-twarc" not in p.parts
    ]
    assert len(held) > 20
    for path in held:
        assert _accepting(path) == [], path


@pytest.mark.parametrize(
    "name",
    [
        "2sets.jsonl",
        "brexit.jsonl",
        "cotweet.jsonl",
        "entities_test.jsonl",
        "flat.jsonl",
        "kpop.jsonl",
        "withheld.jsonl",
    ],
)
def test_real_twarc_files_are_sniffed_as_v2(shared, name):
    path = shared("formats", "twitter-v2-twarc", name)
    assert sniff_format(Source(path=path, dataset="x")).name == "twitter-v2"
