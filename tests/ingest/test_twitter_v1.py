from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from tests.conftest import FIXTURES


def _case(tmp_path, *inputs, **kwargs):
    report = ingest(list(inputs), tmp_path / "case", **kwargs)
    return report, open_case(tmp_path / "case")


def test_fixture_posts_kinds_and_fields(tmp_path):
    _report, case = _case(tmp_path, FIXTURES / "twitter-v1" / "stream_sample.jsonl")
    posts = case.read("posts").sort("post_id")
    assert posts["post_id"].to_list() == ["1001", "1002", "1003", "1004"]
    assert posts["kind"].to_list() == ["original", "repost", "reply", "quote"]
    original = posts.row(0, named=True)
    assert original["created_at"] == datetime(2019, 9, 28, 18, 5, 23, tzinfo=UTC)
    assert original["source_app"] == "Twitter for Android"
    assert original["hashtags"] == ["World"]
    assert original["urls"] == ["https://www.example.org/story?utm_source=x"]
    repost = posts.row(1, named=True)
    assert (repost["ref_post_id"], repost["ref_account_id"]) == ("1001", "11")
    quote = posts.row(3, named=True)
    assert quote["text"].startswith("Look at this, a much longer text")  # extended_tweet full text
    assert quote["hashtags"] == ["Extended"]
    assert posts.row(2, named=True)["ref_post_id"] == "1001"


def test_fixture_quarantine_and_reconciliation(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "twitter-v1" / "stream_sample.jsonl")
    assert report.reconciles
    f = report.files[0]
    assert f.quarantined == 3
    # 7 lines: 4 gave records, 3 quarantined; each record stored or dropped as a duplicate.
    assert (f.units_read, f.units_used, f.units_quarantined) == (7, 4, 3)
    assert f.records_emitted == f.records_stored + f.duplicates and f.quarantine_stored == 3
    quarantine = case.read("quarantine").sort("line")
    assert quarantine["line"].to_list() == [3, 6, 7]
    reasons = quarantine["reason"].to_list()
    assert reasons[0].startswith("invalid JSON")
    assert "stream control message" in reasons[1]
    assert "bad date 'yesterday'" in reasons[2]
    assert quarantine["raw"][0].startswith('{"created_at"')


def test_account_snapshots_keep_history(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "twitter-v1" / "stream_sample.jsonl")
    bob = case.read("accounts").filter(pl.col("account_id") == "12").sort("probed_at")
    # bob's follower count changed between his two tweets: two snapshots, the later one current.
    assert bob["followers"].to_list() == [10, 11]
    current = case.sql("SELECT followers FROM accounts_current WHERE account_id = '12'").fetchall()
    assert current == [(11,)]
    assert bob["raw"][0].startswith('{"id": 12, "id_str": "12"')  # the original bytes


def test_reingest_adds_nothing(tmp_path):
    path = FIXTURES / "twitter-v1" / "stream_sample.jsonl"
    _, case = _case(tmp_path, path)
    before = case.summary()
    case.close()
    report = ingest([path], tmp_path / "case")
    assert report.total("records_stored") == 0
    assert report.reconciles
    assert open_case(tmp_path / "case").summary() == before


def test_strict_stops_at_first_bad_record(tmp_path):
    from cibwatch.errors import BadRecordError

    with pytest.raises(BadRecordError, match=r"stream_sample.jsonl, line 3: invalid JSON"):
        ingest([FIXTURES / "twitter-v1" / "stream_sample.jsonl"], tmp_path / "case", strict=True)


def _numbered_tweets(path: Path, bad_lines: set[int], n: int = 40) -> None:
    good = '{"created_at": "Sat Sep 28 18:05:23 +0000 2019", "id_str": "%d", "text": "ok", "user": {"id": 9}}'
    path.write_text("".join(("{oops\n" if i in bad_lines else good % i + "\n") for i in range(1, n + 1)))


def test_strict_in_parallel_names_the_line_of_the_whole_file(tmp_path, monkeypatch):
    from cibwatch.errors import BadRecordError
    from cibwatch.ingest import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 100)
    path = tmp_path / "tweets.jsonl"
    _numbered_tweets(path, bad_lines={33, 37})  # both in the second of two ranges
    with pytest.raises(BadRecordError, match=r"tweets.jsonl, line 33: invalid JSON"):
        ingest([path], tmp_path / "case", strict=True, workers=2)
    _numbered_tweets(path, bad_lines={5, 33})  # one in each: the first is the one reported
    with pytest.raises(BadRecordError, match=r"tweets.jsonl, line 5: invalid JSON"):
        ingest([path], tmp_path / "case2", strict=True, workers=2)


@pytest.mark.parametrize("name", ["api-stream-small.json.gz", "api-rest.json"])
def test_real_payloads(tmp_path, shared, name):
    path = shared("formats", "twitter-v1", name)
    report, case = _case(tmp_path, path)
    assert report.reconciles and report.total("quarantined") == 0
    posts = case.read("posts")
    if name == "api-rest.json":
        # The search response holds 100 statuses; their embedded retweets add the rest.
        assert report.files[0].emitted["posts"] == 173
        assert posts.height == 115
        first = posts.filter(pl.col("post_id") == "505874924095815681").row(0, named=True)
        # It starts with a mention but replies to no status: an original post.
        assert first["kind"] == "original" and first["lang"] == "ja"
        assert first["mentions"] == ["aym0566x"]
    else:
        assert report.files[0].emitted["posts"] == 1279
        assert posts.height == 1133
        assert posts.filter(pl.col("kind") == "repost").height > 0
    assert posts["post_id"].is_unique().all()


def test_parallel_ranges_give_the_same_case(tmp_path, monkeypatch):
    from cibwatch.ingest import parallel

    path = FIXTURES / "twitter-v1" / "stream_sample.jsonl"
    sequential, case_a = _case(tmp_path / "a", path, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 100)  # split even this small file
    main = sys.modules["__main__"].__dict__
    before = {k: main.get(k, "absent") for k in ("__spec__", "__file__")}
    parallel, case_b = _case(tmp_path / "b", path, workers=2)
    # The main module is hidden from the starting workers, then restored as it was.
    assert {k: main.get(k, "absent") for k in ("__spec__", "__file__")} == before
    assert parallel.files[0].emitted == sequential.files[0].emitted
    assert parallel.files[0].quarantined == sequential.files[0].quarantined == 3
    assert parallel.reconciles
    cols = ["post_id", "account_id", "kind", "created_at", "text"]
    assert (
        case_b.read("posts")
        .select(cols)
        .sort("post_id")
        .equals(case_a.read("posts").select(cols).sort("post_id"))
    )
    # Line numbers and byte offsets stay those of the whole file.
    quarantine = ["line", "byte_offset", "reason"]
    assert (
        case_b.read("quarantine")
        .select(quarantine)
        .sort("line")
        .equals(case_a.read("quarantine").select(quarantine).sort("line"))
    )


def test_line_ranges_cover_the_file_on_line_boundaries(tmp_path):
    from cibwatch.ingest.parallel import _line_ranges, _lines_before

    path = tmp_path / "lines.jsonl"
    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 7)}"}}\n'.encode() for i in range(1000)]
    path.write_bytes(b"".join(lines))
    ranges = _line_ranges(path, 3)
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    data = path.read_bytes()
    for (start, end), nxt in zip(ranges, [*ranges[1:], None], strict=True):
        assert start == 0 or data[start - 1 : start] == b"\n"
        assert _lines_before(path, start) == data[:start].count(b"\n")
        if nxt is not None:
            assert nxt[0] == end


def test_a_sink_that_forgets_profiles_stores_the_same_case(tmp_path, monkeypatch):
    from cibwatch.ingest import sink
    from tests.ingest.test_twitter_v1_fast_path import synthetic_tweets

    # A JSON array (the generic path): every tweet hands its user's profile to the sink.
    path = tmp_path / "tweets.json"
    path.write_bytes(orjson.dumps(synthetic_tweets(200, seed=4)))
    remembering, case_a = _case(tmp_path / "a", path, workers=1)
    assert remembering.files[0].duplicates_in_run["accounts"] > 0
    monkeypatch.setattr(sink, "PROFILES_KEPT", 2)  # forget every other account
    forgetful, case_b = _case(tmp_path / "b", path, workers=1)
    assert forgetful.files[0].stored == remembering.files[0].stored
    # Forgotten profiles are dropped by the commit rather than the sink: the same duplicates.
    assert forgetful.files[0].duplicates_in_run == remembering.files[0].duplicates_in_run
    assert forgetful.reconciles and remembering.reconciles
    cols = ["account_id", "snapshot_id", "probed_at", "followers"]
    assert (
        case_b.read("accounts")
        .select(cols)
        .sort(cols)
        .equals(case_a.read("accounts").select(cols).sort(cols))
    )


def test_files_read_by_a_pool_of_workers_give_the_same_case(tmp_path, monkeypatch):
    from cibwatch.ingest import parallel

    inputs = [
        FIXTURES / "twitter-v1" / "stream_sample.jsonl",
        FIXTURES / "twitter-v1" / "sample.jsonl",
        FIXTURES / "ira-538" / "IRAhandle_tweets_sample.csv",
    ]
    here, case_a = _case(tmp_path / "a", *inputs, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 100)  # a pool even for these small files
    pooled, case_b = _case(tmp_path / "b", *inputs, workers=2)
    assert [f.emitted for f in pooled.files] == [f.emitted for f in here.files]
    assert [f.stored for f in pooled.files] == [f.stored for f in here.files]
    assert [f.quarantined for f in pooled.files] == [f.quarantined for f in here.files]
    assert pooled.reconciles
    for table, key in (("posts", ["post_id"]), ("accounts", ["account_id", "snapshot_id"])):
        cols = [*key, "probed_at"] if table == "accounts" else [*key, "created_at", "text", "source_file"]
        assert case_b.read(table).select(cols).sort(cols).equals(case_a.read(table).select(cols).sort(cols))
