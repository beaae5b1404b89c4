"""The typed JSON Lines fast path of the v1.1 reader stores what the generic dict path stores.

JSON Lines go through ``_FastPath`` (msgspec structs); a JSON array or a search response goes
through ``records_from_v1_tweet`` (dicts). Forcing one input through both must give the same
posts and accounts.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from pathlib import Path

import orjson
import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from cibwatch.ingest.formats import twitter_v1

_PROVENANCE = ["ingested_at", "source_file", "dataset", "reader"]


def _user(uid: int, rng: random.Random, **changes: object) -> dict:
    user = {
        "id": uid,
        "id_str": str(uid),
        "name": f"User {uid} \u00e9t\u00e9",
        "screen_name": f"user{uid}",
        "location": rng.choice(["Lyon", "", None]),
        "url": rng.choice([None, "https://t.co/u"]),
        "entities": {"url": {"urls": [{"url": "https://t.co/u", "expanded_url": f"https://home{uid}.org"}]}},
        "description": rng.choice(["Just a person", "", None, "emoji \U0001f600 and \\/ slash"]),
        "protected": False,
        "verified": rng.random() < 0.1,
        "followers_count": rng.randrange(5000),
        "friends_count": rng.randrange(700),
        "listed_count": rng.randrange(13),
        "favourites_count": rng.randrange(9000),
        "statuses_count": rng.randrange(40000),
        "created_at": "Thu Sep 23 19:42:35 +0000 2010",
        "lang": rng.choice([None, "en"]),
        "default_profile": rng.random() < 0.5,
        "default_profile_image": rng.random() < 0.1,
        "profile_use_background_image": True,
    }
    user.update(changes)
    return user


def _tweet(i: int, uid: int, rng: random.Random, users: dict[int, dict]) -> dict:
    if uid not in users or rng.random() < 0.2:  # a profile that changes now and then
        users[uid] = _user(uid, rng)
    words = "vote news #tag people @someone election".split()
    text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
    tweet = {
        "created_at": f"Sat Sep {10 + i % 18:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0000 2019",
        "id": 10**15 + i,
        "id_str": str(10**15 + i),
        "text": text,
        "source": rng.choice(['<a href="http://x" rel="nofollow">Twitter for Android</a>', "web", "", None]),
        "truncated": False,
        "is_quote_status": False,
        "lang": rng.choice(["en", "fr", "und"]),
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "entities": {
            "hashtags": [{"text": "tag", "indices": [0, 4]}] * rng.randint(0, 2),
            "urls": [{"url": "https://t.co/x", "expanded_url": rng.choice([None, "https://site.org/a"])}]
            * rng.randint(0, 1),
            "user_mentions": [{"screen_name": "someone", "id": 5}] * rng.randint(0, 1),
            "symbols": [],
        },
        "user": copy.deepcopy(users[uid]),
    }
    if rng.random() < 0.2:
        tweet["extended_entities"] = {"media": [{"id_str": str(9000 + i), "type": "photo"}]}
    if rng.random() < 0.2:
        tweet["truncated"] = True
        tweet["extended_tweet"] = {
            "full_text": text + " and a much longer tail",
            "entities": {"hashtags": [{"text": "Extended"}], "urls": [], "user_mentions": []},
        }
    if rng.random() < 0.15:
        tweet["in_reply_to_status_id"] = 10**15 + rng.randrange(max(i, 1))
        tweet["in_reply_to_status_id_str"] = str(tweet["in_reply_to_status_id"])
        tweet["in_reply_to_user_id"] = rng.randrange(50)
        tweet["in_reply_to_user_id_str"] = rng.choice([None, str(tweet["in_reply_to_user_id"])])
    return tweet


def synthetic_tweets(n: int, seed: int = 3) -> list[dict]:
    """``n`` v1.1 tweets: originals, replies, retweets and quotes with embedded tweets."""
    rng = random.Random(seed)
    users: dict[int, dict] = {}
    tweets: list[dict] = []
    for i in range(n):
        tweet = _tweet(i, rng.randrange(50), rng, users)
        roll = rng.random()
        if tweets and roll < 0.25:  # a retweet, sometimes of a quote
            tweet["retweeted_status"] = copy.deepcopy(rng.choice(tweets))
        elif tweets and roll < 0.4:
            quoted = copy.deepcopy(rng.choice(tweets))
            tweet["is_quote_status"] = True
            tweet["quoted_status_id_str"] = rng.choice([quoted["id_str"], None])
            tweet["quoted_status"] = quoted
        tweets.append(tweet)
    return tweets


# Lines the fast path quarantines, each for its own reason (checked against the generic path's
# line numbers only: the two paths word some reasons differently).
_DATE = b'{"created_at": "Sat Sep 28 18:05:23 +0000 2019", '
_BAD_LINES = [
    _DATE + b'"id_str": "1", "user": {"id_str": ',
    b'{"delete": {"status": {"id": 1, "id_str": "1"}}}',
    b'{"created_at": "yesterday", "id_str": "2", "user": {"id_str": "9"}}',
    _DATE + b'"id_str": "3"}',
    b'{"id_str": "4", "user": {"id_str": "9"}}',
    _DATE + b'"id_str": "5", "user": {"name": "no id"}}',
    _DATE + b'"id_str": "6", "user": null}',
    b'{"created_at": "Sat Sep 28 25:05:23 +0000 2019", "id_str": "7", "user": {"id_str": "9"}}',
    _DATE + b'"id_str": "8", "text": "\\ud800", "user": {"id_str": "9"}}',
    _DATE + b'"id_str": "10", "user": {"id_str": "9", "name": "\xff"}}',
    _DATE + b'"id_str": 11, "user": {"id_str": "9"}}',
    _DATE + b'"id_str": "13", "user": {"id_str": "9"}, '
    b'"retweeted_status": {"id_str": "14", "user": {"id_str": "9", "friends_count": "many"}}}',
    b"[1, 2]",
]


def write_jsonl(path: Path, tweets: list[dict], bad: list[bytes] = ()) -> Path:
    lines = [orjson.dumps(t) for t in tweets]
    for k, line in enumerate(bad):  # spread the bad lines through the file
        lines.insert(min(len(lines), 3 + k * 7), line)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _tables(case_dir: Path) -> dict[str, pl.DataFrame]:
    case = open_case(case_dir)
    out = {}
    for table, key in (("posts", ["post_id"]), ("accounts", ["account_id", "snapshot_id"])):
        frame = case.read(table).drop(_PROVENANCE)
        if table == "accounts":
            # The generic path serializes the parsed user object; the fast path keeps its bytes.
            frame = frame.with_columns(
                pl.col("raw").map_elements(
                    lambda r: json.dumps(json.loads(r), sort_keys=True), return_dtype=pl.String
                )
            )
        out[table] = frame.sort(key)
    case.close()
    return out


def _ingest_both(tmp_path: Path, path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    fast = ingest([path], tmp_path / "fast", workers=1)
    calls = []
    with monkeypatch.context() as patched:
        # Decoded items, not raw lines: every tweet takes the generic dict path.
        patched.setattr(twitter_v1, "raw_json_lines", lambda source: None)
        generic_records = twitter_v1.records_from_v1_tweet
        patched.setattr(
            twitter_v1, "records_from_v1_tweet", lambda t, out: calls.append(1) or generic_records(t, out)
        )
        generic = ingest([path], tmp_path / "generic", workers=1)
    assert len(calls) >= generic.files[0].emitted["posts"] - fast.files[0].emitted["posts"] // 2 > 0
    return fast, generic


def _assert_same_case(tmp_path: Path, fast, generic) -> None:
    assert fast.reconciles and generic.reconciles
    assert fast.files[0].emitted == generic.files[0].emitted
    assert fast.files[0].stored == generic.files[0].stored
    a, b = _tables(tmp_path / "fast"), _tables(tmp_path / "generic")
    for table in ("posts", "accounts"):
        assert a[table].height > 0
        assert a[table].equals(b[table]), table


def test_synthetic_tweets_fast_path_matches_generic_path(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "tweets.jsonl", synthetic_tweets(400))
    fast, generic = _ingest_both(tmp_path, path, monkeypatch)
    _assert_same_case(tmp_path, fast, generic)
    posts = _tables(tmp_path / "fast")["posts"]
    assert set(posts["kind"]) == {"original", "repost", "reply", "quote"}
    assert posts.filter(pl.col("text").str.ends_with("much longer tail")).height > 0  # extended_tweet
    assert posts.filter(pl.col("media_hashes").list.len() > 0).height > 0


def test_bad_lines_quarantine_on_the_same_lines(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "tweets.jsonl", synthetic_tweets(120, seed=5), _BAD_LINES)
    fast, _ = _ingest_both(tmp_path, path, monkeypatch)
    assert fast.files[0].quarantined == len(_BAD_LINES)
    lines = {}
    for name in ("fast", "generic"):
        case = open_case(tmp_path / name)
        lines[name] = case.read("quarantine")["line"].to_list()
        case.close()
    # The generic path quarantines each element of a JSON array line on its own (two rows, one
    # line); the fast path, the line: the same lines either way.
    assert sorted(set(lines["generic"])) == sorted(lines["fast"])
    assert len(lines["generic"]) == len(lines["fast"]) + 1


def test_a_negative_count_is_kept_as_given_by_both_paths(tmp_path, monkeypatch):
    # An impossible value, not a malformed record: the post is kept and the bot scorer flags it.
    tweets = synthetic_tweets(20, seed=3)
    tweets[4]["user"]["followers_count"] = -1
    path = write_jsonl(tmp_path / "tweets.jsonl", tweets)
    fast, generic = _ingest_both(tmp_path, path, monkeypatch)
    _assert_same_case(tmp_path, fast, generic)
    assert fast.files[0].quarantined == 0
    accounts = open_case(tmp_path / "fast").read("accounts")
    assert -1 in accounts["followers"].to_list()


@pytest.mark.parametrize("name", ["api-stream-small.json.gz", "api-rest.json"])
def test_real_payloads_fast_path_matches_generic_path(tmp_path, shared, monkeypatch, name):
    path = shared("formats", "twitter-v1", name)
    if name == "api-rest.json":  # a search response: its statuses as JSON Lines take the fast path
        statuses = json.loads(path.read_bytes())["statuses"]
        path = write_jsonl(tmp_path / "statuses.jsonl", statuses)
    else:  # JSON Lines already; uncompressed so it can also be split
        path = tmp_path / "stream.jsonl"
        path.write_bytes(gzip.decompress(shared("formats", "twitter-v1", name).read_bytes()))
    fast, generic = _ingest_both(tmp_path, path, monkeypatch)
    _assert_same_case(tmp_path, fast, generic)
