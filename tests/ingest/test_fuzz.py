"""Hostile input costs one record: bounds on depth, line length, field size and number size.

The fuzz test runs every registered reader on mutated real samples (benchmarks/fuzz.py makes the
inputs and judges them; ``python -m benchmarks run fuzz`` runs 1,020 of them). Here, a short
deterministic run for CI (FUZZ_EXAMPLES=n per reader; 10 by default), the exact reproductions of
issue 13, and tests that break each safety net on purpose and see it fire.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import check, make_input
from cibwatch import open_case
from cibwatch.ingest import ingest, readers, source
from cibwatch.ingest.formats.json_common import dump_json
from cibwatch.ingest.jsonstream import MAX_DEPTH, TOO_DEEP, iter_json, json_too_deep
from cibwatch.ingest.source import FIELD_TOO_LONG, MAX_FIELD_BYTES, MAX_LINE_BYTES, OVERLONG_LINE, Source
from cibwatch.values import count
from tests.conftest import FIXTURES

READERS = sorted(readers())
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 10))


# -- the fuzz test ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", READERS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_samples_never_crash_nor_lose_silently(tmp_path_factory, name, seed):
    item = make_input(name, seed)
    work = tmp_path_factory.mktemp("fuzz")
    path = work / f"input{item.sample.suffix}{item.suffix}"
    path.write_bytes(item.data)
    outcome = check(path, name, work / "case")
    # "refused" is a clean CibwatchError (a file that is not of the format at all).
    assert outcome.kind in ("ok", "refused"), f"{item.sample.name} {item.ops}{item.suffix}: {outcome.detail}"


def test_the_check_sees_a_silent_loss(tmp_path, monkeypatch):
    """Break the quarantine on purpose (count a bad record, store nothing): the check must fail."""
    from cibwatch.ingest import sink

    real = sink.StagingSink.quarantine

    def forgetful(self, reason, raw, line=None, byte_offset=None, *args, **kwargs):
        if "MAX_DEPTH" in reason:
            self.report.quarantined += 1  # counted, never stored
            return None
        return real(self, reason, raw, line, byte_offset, *args, **kwargs)

    path = _with_line(tmp_path, "twitter-v2", b'{"data": ' + b"[" * 200 + b"]" * 200 + b"}")
    assert check(path, "twitter-v2", tmp_path / "intact").kind == "ok"
    monkeypatch.setattr(sink.StagingSink, "quarantine", forgetful)
    outcome = check(path, "twitter-v2", tmp_path / "case")
    assert outcome.kind == "silent_loss"
    assert "quarantine table holds" in outcome.detail


def test_the_check_sees_a_traceback(tmp_path, monkeypatch):
    from cibwatch.ingest.formats import twitter_v1

    def broken(self, source, sink):
        raise KeyError("a reader bug")

    monkeypatch.setattr(twitter_v1.TwitterV1Reader, "read", broken)
    outcome = check(FIXTURES / "twitter-v1" / "sample.jsonl", "twitter-v1", tmp_path / "case")
    assert outcome.kind == "traceback" and "a reader bug" in outcome.detail


# -- issue 13's reproductions: each cost the whole file; now each costs its record -------------------


def _with_line(tmp_path, reader, bad, sample="sample.jsonl", at=1):
    lines = (FIXTURES / reader / sample).read_bytes().splitlines(keepends=True)
    path = tmp_path / f"{reader}-hostile.jsonl"
    path.write_bytes(b"".join([*lines[:at], bad + b"\n", *lines[at:]]))
    return path


def _baseline(tmp_path, reader, sample="sample.jsonl"):
    report = ingest([FIXTURES / reader / sample], tmp_path / "baseline", format=reader, workers=1)
    return report.files[0]


def _reasons(case_dir):
    case = open_case(case_dir)
    try:
        return case.read("quarantine")["reason"].to_list() if case.has_table("quarantine") else []
    finally:
        case.close()


_DEEP = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("reader", "bad", "reason"),
    [
        ("twitter-v1", _DEEP, "nested deeper"),  # was RecursionError (msgspec, the fast path)
        ("twitter-v2", _DEEP, "MAX_DEPTH"),
        ("bluesky", _DEEP, "MAX_DEPTH"),
        ("mastodon", _DEEP, "MAX_DEPTH"),
        ("twitter-v2", b'{"data": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", "MAX_DEPTH"),
        ("twitter-v2", b'{"data": {"id": ' + b"9" * 5_000 + b"}}", "invalid JSON"),
    ],
)
def test_a_hostile_line_costs_that_line(tmp_path, reader, bad, reason):
    sample = "sample.json" if reader == "mastodon" else "sample.jsonl"
    if reader == "mastodon":  # a JSON document: the hostile value goes in as one more element
        data = (FIXTURES / reader / sample).read_bytes().rstrip()
        assert data.endswith(b"]")
        path = tmp_path / "hostile.json"
        path.write_bytes(data[:-1] + b",\n" + bad + b"\n]")
    else:
        path = _with_line(tmp_path, reader, bad, sample)
    clean = _baseline(tmp_path, reader, sample)
    report = ingest([path], tmp_path / "case", format=reader, workers=1)
    assert report.reconciles
    assert report.files[0].stored == clean.stored  # every good record of the file kept
    assert report.files[0].quarantined == clean.quarantined + 1
    assert sum(reason in r for r in _reasons(tmp_path / "case")) == 1


def _v1_tweet_with(**user_fields):
    tweet = orjson.loads((FIXTURES / "twitter-v1" / "sample.jsonl").read_bytes().splitlines()[0])
    tweet["id_str"], tweet["id"] = "777", 777
    tweet["user"].update(user_fields)
    return json.dumps(tweet).encode()  # json writes 2**70 (orjson cannot)


@pytest.mark.parametrize(
    ("reader", "bad"),
    [
        ("twitter-v1", _v1_tweet_with(followers_count=2**70)),  # was OverflowError in the sink
        ("twitter-v1", _v1_tweet_with(statuses_count=-(2**63) - 1)),
        (
            "twitter-v2",
            b'{"data": {"id": "5", "author_id": "6", "text": "hi", '
            b'"created_at": "2021-01-01T00:00:00.000Z", '
            b'"public_metrics": {"retweet_count": 1180591620717411303424}}, '
            b'"includes": {"users": [{"id": "6", "username": "u", "public_metrics": '
            b'{"followers_count": 1180591620717411303424}}]}}',
        ),
    ],
)
def test_a_count_past_int64_is_quarantined_not_a_crash(tmp_path, reader, bad):
    path = _with_line(tmp_path, reader, bad)
    clean = _baseline(tmp_path, reader)
    report = ingest([path], tmp_path / "case", format=reader, workers=1)
    assert report.reconciles
    assert report.files[0].quarantined >= clean.quarantined + 1
    assert any("int64" in r for r in _reasons(tmp_path / "case"))
    for table, n in clean.stored.items():
        assert report.files[0].stored[table] >= n


@pytest.mark.parametrize("link", [{"url": "oops"}, {"url": {"urls": ["oops"]}}, {"url": {"urls": "oops"}}])
@pytest.mark.parametrize("document", [False, True])
def test_an_odd_profile_link_costs_its_line_on_both_v1_paths(tmp_path, link, document):
    # entities.url as a string crashed the JSON Lines path (AttributeError, the whole file lost).
    bad = _v1_tweet_with(entities=link)
    if document:  # a JSON array: the document path reads it
        lines = (FIXTURES / "twitter-v1" / "sample.jsonl").read_bytes().splitlines()
        path = tmp_path / "tweets.json"
        path.write_bytes(b"[" + b",\n".join([lines[0], bad, *lines[1:]]) + b"]")
    else:
        path = _with_line(tmp_path, "twitter-v1", bad)
    clean = _baseline(tmp_path, "twitter-v1")
    report = ingest([path], tmp_path / "case", format="twitter-v1", workers=1)
    assert report.reconciles and report.files[0].quarantined == clean.quarantined + 1
    assert report.files[0].stored["posts"] == clean.stored["posts"]
    assert ["entities.url is not shaped" in r for r in _reasons(tmp_path / "case")] == [True]


def test_a_count_past_int64_in_a_csv_is_quarantined(tmp_path):
    rows = (FIXTURES / "io-archive" / "sample_tweets_csv_hashed.csv").read_bytes().splitlines(keepends=True)
    assert b",1200,300," in rows[1]
    path = tmp_path / "io.csv"
    path.write_bytes(
        rows[0] + rows[1].replace(b",1200,300,", b",1180591620717411303424,300,") + b"".join(rows[2:])
    )
    report = ingest([path], tmp_path / "case", format="io-archive", workers=1)
    assert report.reconciles and report.files[0].quarantined == 1
    assert ["int64" in r for r in _reasons(tmp_path / "case")] == [True]


def test_values_refuse_numbers_past_int64():
    assert count(2**63 - 1) == 2**63 - 1 and count("-9223372036854775808") == -(2**63)
    for bad in (2**63, "1180591620717411303424", 1.2e21, "1e400", "9" * 5_000, float("inf")):
        with pytest.raises(ValueError):
            count(bad)


# -- depth -----------------------------------------------------------------------------------------


def test_depth_bound_is_exact_on_every_json_path(tmp_path):
    ok = b'{"a": ' + b"[" * (MAX_DEPTH - 1) + b'"]]]"' + b"]" * (MAX_DEPTH - 1) + b"}"
    deep = b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    assert not json_too_deep(ok) and json_too_deep(deep)
    lines = tmp_path / "lines.jsonl"
    lines.write_bytes(ok + b"\n" + deep + b"\n")
    document = tmp_path / "doc.json"
    document.write_bytes(b"[" + ok + b",\n" + deep + b"]")
    for path in (lines, document):
        items = list(iter_json(Source(path=path, dataset="d")))
        assert [i.error for i in items] == [None, TOO_DEEP], path.name


def test_the_stream_path_refuses_what_orjson_refuses(tmp_path):
    # The document path uses the standard json module: NaN, Infinity and 5,000 digits are refused.
    path = tmp_path / "doc.json"
    path.write_bytes(b'[{"n": NaN},\n{"n": Infinity},\n{"n": ' + b"9" * 5_000 + b'},\n{"n": 1}]')
    items = list(iter_json(Source(path=path, dataset="d")))
    assert [i.error is None for i in items] == [False, False, False, True]


# -- line and field length: bounded memory -------------------------------------------------------

_CHILD = (
    "import json, resource, shutil, sys\n"
    "from cibwatch.ingest import ingest, readers\n"
    "from cibwatch import open_case\n"
    "readers()\n"
    "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "r = ingest([sys.argv[1]], sys.argv[3], format=sys.argv[2], workers=1)\n"
    "case = open_case(sys.argv[3])\n"
    "reasons = case.read('quarantine')['reason'].to_list()\n"
    "print(json.dumps({'grew_mb': (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,"
    " 'stored': r.files[0].stored, 'reasons': reasons, 'reconciles': r.reconciles}))\n"
)


def _ingest_in_child(path, reader, case_dir):
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), reader, str(case_dir)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _long_line_gzip(path, head, size, tail):
    member = gzip.compress(b"a" * (1 << 20), 9)  # concatenated members: one long line, ~1 KB a MiB
    with open(path, "wb") as fh:
        fh.write(gzip.compress(head + b'{"text": "'))
        for _ in range(size >> 20):
            fh.write(member)
        fh.write(gzip.compress(b'"}\n' + tail))


@pytest.mark.parametrize("reader", ["twitter-v1", "twitter-v2", "io-archive"])
def test_a_long_line_is_skipped_in_bounded_memory(tmp_path, reader):
    """A 1 MB gzip holding one 256 MiB line (issue 13: 1 GiB peaked at 4.3 GB): never held whole."""
    sample = "sample_tweets_csv_hashed.csv" if reader == "io-archive" else "sample.jsonl"
    lines = (FIXTURES / reader / sample).read_bytes().splitlines(keepends=True)
    path = tmp_path / "long.gz"
    keep = 2 if reader == "io-archive" else 1  # the CSV header stays first
    _long_line_gzip(path, b"".join(lines[:keep]), 256 << 20, b"".join(lines[keep:]))
    assert path.stat().st_size < 1 << 20
    result = _ingest_in_child(path, reader, tmp_path / "case")
    clean = _baseline(tmp_path, reader, sample)
    assert result["reconciles"]
    assert result["stored"] == clean.stored
    assert sum(r == OVERLONG_LINE for r in result["reasons"]) == 1
    # Holding the line would cost at least its 256 MiB; the bound allows a few MAX_LINE_BYTES.
    assert result["grew_mb"] < 4 * MAX_LINE_BYTES / 2**20, result["grew_mb"]


def test_an_18_mb_field_costs_its_row_not_3_gb(tmp_path):
    rows = (FIXTURES / "io-archive" / "sample_tweets_csv_hashed.csv").read_bytes().splitlines(keepends=True)
    field = b"['" + b"x" * (18 << 20) + b"']"
    path = tmp_path / "io.csv"
    path.write_bytes(rows[0] + rows[1].replace(b'"[news, USA]"', b'"' + field + b'"') + b"".join(rows[2:]))
    result = _ingest_in_child(path, "io-archive", tmp_path / "case")
    assert result["reconciles"]
    assert result["reasons"] == [FIELD_TOO_LONG]
    assert result["stored"]["posts"] == len(rows) - 2  # every other row kept
    assert result["grew_mb"] < 4 * MAX_LINE_BYTES / 2**20, result["grew_mb"]


def test_a_field_past_the_bound_costs_one_row_even_over_many_lines(tmp_path):
    """An open quote that swallows lines until MAX_FIELD_BYTES: its first line is quarantined and
    the lines after it are read again as rows."""
    rows = (FIXTURES / "io-archive" / "sample_tweets_csv_hashed.csv").read_bytes().splitlines(keepends=True)
    filler = [
        rows[2].replace(b"700000000000000002", str(800000000000000000 + k).encode()) for k in range(1, 6)
    ]
    stray = rows[1].rstrip(b"\r\n") + b'"\n'  # its last field opens a quote that never closes
    long_tail = b"y" * (MAX_FIELD_BYTES // 2) + b"\n"
    path = tmp_path / "io.csv"
    path.write_bytes(rows[0] + stray + long_tail + long_tail + long_tail + b"".join(filler))
    report = ingest([path], tmp_path / "case", format="io-archive", workers=1)
    assert report.reconciles
    reasons = _reasons(tmp_path / "case")
    assert reasons.count(FIELD_TOO_LONG) == 1
    assert report.files[0].quarantined == len(reasons) == 4  # the row, then each long line as a row
    assert report.files[0].stored["posts"] == len(filler)


def test_the_line_bound_fires_when_lowered(tmp_path, monkeypatch):
    """Break it on purpose: with MAX_LINE_BYTES below a real tweet's length, every line is refused."""
    monkeypatch.setattr(source, "MAX_LINE_BYTES", 100)
    report = ingest(
        [FIXTURES / "twitter-v1" / "sample.jsonl"], tmp_path / "case", format="twitter-v1", workers=1
    )
    assert report.reconciles
    assert sum(report.files[0].stored.values()) == 0
    assert report.files[0].quarantined == len(_reasons(tmp_path / "case")) > 0


# -- dump_json never raises ---------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(), max_size=20),  # lone surrogates included
    st.sampled_from(["\ud800", "a\udfffb", "\udc80"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(value=_VALUES)
def test_dump_json_never_raises_and_writes_json(value):
    out = dump_json(value)
    assert isinstance(out, bytes)
    assert json.loads(out.decode("utf-8")) is not None or out == b"null"


def test_dump_json_of_a_lone_surrogate_and_of_deep_nesting():
    assert json.loads(dump_json({"t": "\ud800"})) == {"t": "\ud800"}  # was UnicodeEncodeError
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert b"cannot be written" in dump_json(deep)
