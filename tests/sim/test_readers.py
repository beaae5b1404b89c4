"""The simulator's output parses with cibwatch's own readers, with nothing quarantined."""

from __future__ import annotations

import json

import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest, readers
from cibwatch.sim import simulate
from cibwatch.sim.vocab import SOURCES


def test_v1_output_parses_with_nothing_quarantined(v1_world):
    report = v1_world["ingest"]
    assert {f.reader for f in report.files} == {"twitter-v1"}
    assert report.total("quarantined") == 0 and report.reconciles
    manifest = json.loads((v1_world["out"] / "manifest.json").read_text())
    assert v1_world["posts"].height == manifest["posts"]
    kinds = v1_world["posts"]["kind"].value_counts()
    assert dict(zip(kinds["kind"], kinds["count"], strict=True)) == manifest["posts_by_kind"]
    assert v1_world["accounts"].height == manifest["accounts_posting"]
    assert set(v1_world["posts"]["source_app"]) <= {name for name, _ in SOURCES}


def test_v1_entities_match_the_text(v1_world):
    posts = v1_world["posts"].filter(pl_len("hashtags") > 0).head(200)
    for text, tags in zip(posts["text"], posts["hashtags"], strict=True):
        for tag in tags:
            assert f"#{tag}" in text


def pl_len(column: str):
    import polars as pl

    return pl.col(column).list.len()


def test_v2_output_parses_with_nothing_quarantined(tmp_path):
    if "twitter-v2" not in readers():
        pytest.skip("the twitter-v2 reader is not registered yet (being written); v2 output untested")
    report = simulate("demo", out=tmp_path / "out", seed=3, accounts=800, days=2)
    ingest_report = ingest([tmp_path / "out" / "posts"], tmp_path / "case")
    assert {f.reader for f in ingest_report.files} == {"twitter-v2"}
    assert ingest_report.total("quarantined") == 0 and ingest_report.reconciles
    case = open_case(tmp_path / "case")
    posts = case.read("posts")
    assert posts.height == report.posts
    assert case.sql("SELECT count(*) FROM accounts_current").fetchall()[0][0] == report.accounts
    reposts = posts.filter(posts["kind"] == "repost")
    assert reposts["ref_post_id"].null_count() == 0 and reposts["ref_account_id"].null_count() == 0
    assert set(posts["source_app"]) <= {name for name, _ in SOURCES}  # v2 names the app in plain text
    case.close()


def test_v2_pages_are_self_contained_and_entities_point_into_the_text(tmp_path):
    import orjson

    simulate("demo", out=tmp_path / "out", seed=9, accounts=600, days=1)
    pages = [
        orjson.loads(line) for f in sorted((tmp_path / "out" / "posts").iterdir()) for line in f.open("rb")
    ]
    assert pages and all(set(p) == {"data", "includes", "meta", "__twarc"} for p in pages)
    checked = 0
    for page in pages:
        users = {u["id"]: u for u in page["includes"]["users"]}
        included = {t["id"] for t in page["includes"].get("tweets", [])}
        assert page["meta"]["result_count"] == len(page["data"])
        for tweet in page["data"]:
            assert tweet["author_id"] in users
            for ref in tweet.get("referenced_tweets", []):
                assert ref["id"] in included
            entities = tweet.get("entities", {})
            text = tweet["text"]
            for tag in entities.get("hashtags", []):
                assert text[tag["start"] : tag["end"]] == "#" + tag["tag"]
            for mention in entities.get("mentions", []):
                assert text[mention["start"] : mention["end"]] == "@" + mention["username"]
                assert mention["id"] in users
            for url in entities.get("urls", []):
                assert text[url["start"] : url["end"]] == url["url"]
                checked += 1
    assert checked > 50


def test_v1_entity_indices_point_into_the_text(v1_world):
    import orjson

    files = sorted((v1_world["out"] / "posts").iterdir())
    tweets = [orjson.loads(line) for line in files[0].open("rb")]
    for tweet in tweets:
        text, entities = tweet["text"], tweet["entities"]
        for tag in entities["hashtags"]:
            assert text[tag["indices"][0] : tag["indices"][1]] == "#" + tag["text"]
        for mention in entities["user_mentions"]:
            assert text[mention["indices"][0] : mention["indices"][1]] == "@" + mention["screen_name"]
        for url in entities["urls"]:
            assert text[url["indices"][0] : url["indices"][1]] == url["url"]
        if "retweeted_status" in tweet:
            assert text.startswith("RT @" + tweet["retweeted_status"]["user"]["screen_name"] + ": ")
