"""The typed page fast path of the twitter-v2 reader stores what the general path stores.

JSON Lines pages go through ``twitter_v2_pages.PageReader`` (msgspec, one join a page, one
snapshot a distinct user object) unless it refuses a page; ``PAGES_FAST_PATH = False`` reads every
line the general way. The same input through both must give equal tables, row for row, and equal
counts, on simulator output, on the fixtures, on real twarc payloads and on hostile pages.
"""

from __future__ import annotations

import copy
import gzip
from pathlib import Path

import orjson
import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from cibwatch.ingest.formats import twitter_v2, twitter_v2_pages
from cibwatch.sim.run import simulate
from tests.conftest import FIXTURES

_KEYS = {
    "posts": ["platform", "post_id"],
    "accounts": ["platform", "account_id", "snapshot_id"],
    "quarantine": ["source_file", "line", "byte_offset", "reason"],
}
_COUNTS = (
    "units_read",
    "units_used",
    "units_quarantined",
    "units_other",
    "emitted",
    "stored",
    "duplicates_in_run",
    "duplicates_in_case",
    "conflicting",
    "unstorable",
    "quarantined",
    "quarantine_stored",
    "quarantine_duplicates",
)


def _tables(case_dir: Path) -> dict[str, pl.DataFrame]:
    case = open_case(case_dir)
    try:
        return {
            table: case.read(table).drop("ingested_at").sort(key, nulls_last=True)
            if case.has_table(table)
            else pl.DataFrame()
            for table, key in _KEYS.items()
        }
    finally:
        case.close()


def _ingest_both(tmp_path: Path, inputs: list[Path], monkeypatch: pytest.MonkeyPatch, **kwargs) -> tuple:
    """(fast report, general report, fast tables, general tables, pages the fast path read)."""
    read = []
    original = twitter_v2_pages.PageReader.read_page

    def counted(self, line, lineno, offset):
        done = original(self, line, lineno, offset)
        read.append(done)
        return done

    monkeypatch.setattr(twitter_v2_pages.PageReader, "read_page", counted)
    fast = ingest(inputs, tmp_path / "fast", **kwargs)
    monkeypatch.setattr(twitter_v2, "PAGES_FAST_PATH", False)
    general = ingest(inputs, tmp_path / "general", **kwargs)
    return fast, general, _tables(tmp_path / "fast"), _tables(tmp_path / "general"), read


def _assert_same(fast, general, a, b) -> None:
    assert fast.reconciles and general.reconciles
    for f, g in zip(fast.files, general.files, strict=True):
        for name in _COUNTS:
            assert getattr(f, name) == getattr(g, name), (f.path, name)
    for table in _KEYS:
        assert a[table].equals(b[table]), table


def test_simulated_pages_give_the_same_tables(tmp_path, monkeypatch):
    sim = simulate("default", out=tmp_path / "sim", seed=3, accounts=400, days=2, workers=1)
    inputs = sorted((tmp_path / "sim" / "posts").glob("*.jsonl"))
    fast, general, a, b, read = _ingest_both(tmp_path, inputs, monkeypatch, workers=1)
    _assert_same(fast, general, a, b)
    assert read and all(read)  # every page took the fast path
    assert a["posts"].height == sim.posts
    assert set(a["posts"]["kind"]) == {"original", "repost", "reply", "quote"}
    assert a["accounts"].height > 0
    # Profiles repeat across pages: most copies are dropped as unchanged, counted as duplicates.
    assert sum(f.duplicates_in_run["accounts"] for f in fast.files) > 0


@pytest.mark.parametrize("name", ["sample.jsonl", "malformed.jsonl", "sample_flat.jsonl"])
def test_fixtures_give_the_same_tables(tmp_path, monkeypatch, name):
    fast, general, a, b, _ = _ingest_both(tmp_path, [FIXTURES / "twitter-v2" / name], monkeypatch)
    _assert_same(fast, general, a, b)


@pytest.mark.parametrize("name", ["entities_test.jsonl", "flat.jsonl", "kpop.jsonl", "withheld.jsonl"])
def test_real_twarc_payloads_give_the_same_tables(tmp_path, shared, monkeypatch, name):
    path = shared("formats", "twitter-v2-twarc", name)
    fast, general, a, b, _ = _ingest_both(tmp_path, [path], monkeypatch)
    _assert_same(fast, general, a, b)


def _tweet(i: int, uid: int, **extra: object) -> dict:
    return {
        "id": str(1000 + i),
        "author_id": str(uid),
        "created_at": f"2024-03-04T10:{i % 60:02d}:{(i * 7) % 60:02d}.000Z",
        "text": f"post {i} \u00e9\U0001f600 #tag @user{uid}",
        "lang": "en",
        "source": "Twitter for Android",
        "public_metrics": {"retweet_count": i},
        "entities": {"hashtags": [{"tag": "tag"}], "mentions": [{"username": f"user{uid}"}]},
        **extra,
    }


def _user(uid: int, followers: int = 5) -> dict:
    return {
        "id": str(uid),
        "username": f"user{uid}",
        "name": f"User {uid}",
        "created_at": "2020-01-01T00:00:00.000Z",
        "description": "NULL" if uid % 2 else "bio \u00e9",
        "public_metrics": {"followers_count": followers, "following_count": 1, "tweet_count": 9},
        "entities": {"url": {"urls": [{"expanded_url": f"https://home{uid}.org"}]}},
    }


def _page(tweets: list[dict], users: list[dict], **extra: object) -> dict:
    twarc = {"retrieved_at": "2024-03-05T00:00:00+00:00"}
    return {
        "data": tweets,
        "includes": {"users": users},
        "meta": {"result_count": len(tweets)},
        "__twarc": twarc,
        **extra,
    }


def _hostile_lines() -> list[bytes]:
    """Plain pages, and pages the fast path must leave to the general path, each for its reason."""
    plain = _page(
        [
            _tweet(1, 7),
            _tweet(2, 8, referenced_tweets=[{"type": "retweeted", "id": "1003"}]),
            _tweet(4, 9, referenced_tweets=[{"type": "replied_to", "id": "99"}], in_reply_to_user_id="5"),
            _tweet(
                5,
                9,
                referenced_tweets=[{"type": "quoted", "id": "1001"}],
                attachments={"media_keys": ["3_1"]},
            ),
        ],
        [_user(7), _user(8), _user(9)],
    )
    plain["includes"]["tweets"] = [_tweet(3, 6), _tweet(1, 7)]  # one also in data: read once
    no_twarc = copy.deepcopy(plain)
    del no_twarc["__twarc"]  # probed_at: the newest created_at
    changed = copy.deepcopy(plain)
    changed["includes"]["users"][0] = _user(7, followers=6)
    with_errors = _page(
        [_tweet(6, 7)], [_user(7)], errors=[{"title": "Not Found Error", "detail": "gone"}, 5]
    )
    withheld = _page(
        [_tweet(7, 7, withheld={"country_codes": ["IN"]}, text="This Post has been withheld")], []
    )
    int_id = _page([{**_tweet(8, 7), "id": 1008}], [])
    bad_date = _page([_tweet(9, 7), {**_tweet(10, 7), "created_at": "yesterday"}], [_user(7)])
    no_author = _page([{**_tweet(11, 7), "author_id": ""}], [])
    bad_user = _page([_tweet(12, 7)], [{"username": "no_id"}, {**_user(8), "public_metrics": []}])
    users_endpoint = {"data": [_user(20)], "__twarc": plain["__twarc"]}
    unknown_key = {**plain, "extra": 1}
    empty = {"meta": {"result_count": 0}}
    deep = _page([_tweet(13, 7)], [])
    for _ in range(65):  # 130 levels: past MAX_DEPTH, in a field cibwatch does not read
        deep["data"][0]["nested"] = {"a": [deep["data"][0].get("nested")]}
    lines = [orjson.dumps(x) for x in (plain, no_twarc, changed, with_errors, withheld, int_id, bad_date)]
    lines += [orjson.dumps(x) for x in (no_author, bad_user, users_endpoint, unknown_key, empty, deep)]
    lines.append(orjson.dumps(_tweet(14, 7, author={"id": "7", "username": "user7"})))  # flattened
    bad_utf8 = orjson.dumps(_page([_tweet(15, 7, note="XX")], [_user(7)])).replace(b'"XX"', b'"\xff\xfe"')
    lines.append(bad_utf8)  # in a field cibwatch does not read: only orjson refuses it
    lines.append(b'{"data": [' + b"{" * 3)  # cut short
    lines.append(orjson.dumps(plain))  # the first page again: everything a duplicate
    return lines


def test_hostile_pages_give_the_same_tables(tmp_path, monkeypatch):
    path = tmp_path / "pages.jsonl"
    path.write_bytes(b"\n".join(_hostile_lines()) + b"\n")
    fast, general, a, b, read = _ingest_both(tmp_path, [path], monkeypatch)
    _assert_same(fast, general, a, b)
    # Plain pages (1 to 4, errors entries included, and the repeat) read fast; the rest the general way.
    assert [k + 1 for k, done in enumerate(read) if done] == [1, 2, 3, 4, 17]
    assert fast.files[0].quarantined >= 8


def test_the_guards_keep_the_paths_equal(tmp_path, monkeypatch):
    """Break the UTF-8 and depth guard on purpose: the fast path then reads pages the general path
    quarantines, and the tables differ."""
    path = tmp_path / "pages.jsonl"
    path.write_bytes(b"\n".join(_hostile_lines()) + b"\n")
    monkeypatch.setattr(twitter_v2_pages, "_plain", lambda raw, levels_above: True)
    fast, general, *_ = _ingest_both(tmp_path, [path], monkeypatch)
    assert fast.files[0].quarantined < general.files[0].quarantined


def test_a_damaged_compressed_file_gives_the_same_tables(tmp_path, monkeypatch):
    simulate("default", out=tmp_path / "sim", seed=5, accounts=2000, days=1, workers=1)
    first = sorted((tmp_path / "sim" / "posts").glob("*.jsonl"))[0]
    packed = gzip.compress(first.read_bytes())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 9 // 10])  # the stream breaks off inside a late page
    fast, general, a, b, read = _ingest_both(tmp_path, [path], monkeypatch, format="twitter-v2")
    _assert_same(fast, general, a, b)
    assert read and all(read)
    assert a["quarantine"]["reason"].str.contains("compressed").any()


def test_split_ranges_give_the_same_tables(tmp_path, monkeypatch):
    """A large page file is read in ranges by worker processes: the same tables as in one piece."""
    monkeypatch.setattr("cibwatch.ingest.parallel.PARALLEL_MIN_BYTES", 1 << 16)
    simulate("default", out=tmp_path / "sim", seed=4, accounts=300, days=1, workers=1)
    path = tmp_path / "all.jsonl"
    path.write_bytes(b"".join(p.read_bytes() for p in sorted((tmp_path / "sim" / "posts").glob("*.jsonl"))))
    assert path.stat().st_size > 4 << 16
    split = ingest([path], tmp_path / "split", workers=2)
    whole = ingest([path], tmp_path / "whole", workers=1)
    assert split.reconciles and whole.reconciles
    assert split.files[0].stored == whole.files[0].stored
    a, b = _tables(tmp_path / "split"), _tables(tmp_path / "whole")
    for table in ("posts", "accounts"):
        assert a[table].equals(b[table]), table
