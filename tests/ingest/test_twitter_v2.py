from __future__ import annotations

import bz2
import gzip
import lzma
from datetime import UTC, datetime

import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from cibwatch.values import bad_date
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "twitter-v2" / "sample.jsonl"


def _case(tmp_path, *inputs, **kwargs):
    report = ingest(list(inputs), tmp_path / "case", **kwargs)
    return report, open_case(tmp_path / "case")


def test_raw_response_kinds_refs_and_entities(tmp_path):
    report, case = _case(tmp_path, SAMPLE)
    assert report.reconciles and report.total("quarantined") == 0
    posts = case.read("posts")
    # 4 data tweets + 3 included referenced tweets (one response) + 1 tweet (another response).
    assert posts.height == 8
    by_id = {row["post_id"]: row for row in posts.to_dicts()}
    repost = by_id["1440716856763977732"]
    assert (repost["kind"], repost["ref_post_id"], repost["ref_account_id"]) == (
        "repost",
        "1440713161355583489",
        "711945679",  # the retweeted tweet's author, found in includes.tweets
    )
    assert repost["text"].startswith("RT @carolJhedges: . #BorisJohnson")  # its own text, as v1.1
    assert by_id["1440713161355583489"]["text"].endswith("#BorisTheLiar https://t.co/IeqDhr3WET")
    reply = by_id["1440716745577140229"]
    assert (reply["kind"], reply["ref_account_id"]) == ("reply", "1717521084")
    assert reply["media_hashes"] == ["16_1440716736051830786"]
    assert reply["mentions"] == ["AndrewKnight226"]
    assert reply["hashtags"][:2] == ["FuckBrexit", "BrexitSucks"]
    quote = by_id["1440715975020584960"]
    assert (quote["kind"], quote["ref_post_id"], quote["ref_account_id"]) == (
        "quote",
        "1440660748275834882",
        "963465855538524162",
    )
    assert quote["urls"] == ["https://twitter.com/paulafr68963440/status/1440660748275834882"]
    assert quote["source_app"] == "Twitter for iPhone"
    assert by_id["1577318900085186562"]["created_at"] == datetime(2022, 10, 4, 15, 25, 5, tzinfo=UTC)


def test_user_snapshots_have_null_where_v2_has_no_field(tmp_path):
    _, case = _case(tmp_path, SAMPLE)
    accounts = case.read("accounts").filter(pl.col("probed_at").is_not_null())
    assert accounts.height == 8
    jon = accounts.filter(pl.col("account_id") == "18591618").row(0, named=True)
    assert (
        jon["screen_name"],
        jon["followers"],
        jon["following"],
        jon["posts_count"],
        jon["listed_count"],
    ) == (
        "staringispolite",
        6851,
        1079,
        76329,
        340,
    )
    assert jon["url"] == "https://jon.how/ard"  # the expanded profile link, not t.co
    assert jon["created_at"] == datetime(2009, 1, 4, 1, 5, 2, tzinfo=UTC)
    # Missing is not zero: v2 has no likes count, default-profile or background flags.
    for column in ("likes_count", "default_profile", "default_profile_image", "profile_use_background_image"):
        assert accounts[column].null_count() == accounts.height, column
    assert jon["verified"] is False
    # probed_at is when twarc retrieved the response.
    assert jon["probed_at"] == datetime(2022, 10, 4, 15, 27, 59, tzinfo=UTC)
    assert jon["raw"].startswith('{"public_metrics"')


def test_flattened_lines(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "twitter-v2" / "sample_flat.jsonl")
    assert report.reconciles and report.total("quarantined") == 0
    posts = case.read("posts").sort("post_id")
    assert posts["post_id"].to_list() == [
        "1380175475545362437",  # the retweeted tweet, inlined in referenced_tweets
        "1380242596900044806",
        "1380242597881409537",
        "1380242611781386245",
    ]
    repost = posts.row(3, named=True)
    assert (repost["kind"], repost["ref_post_id"], repost["ref_account_id"]) == (
        "repost",
        "1380175475545362437",
        "2718660392",
    )
    alexandra = case.read("accounts").filter(pl.col("screen_name") == "Alexandravm12").row(0, named=True)
    assert alexandra["account_id"] == "1352661060663336960"
    assert alexandra["probed_at"] is not None and alexandra["likes_count"] is None
    # A flattened users line (twarc2 users/followers) is a snapshot taken when twarc retrieved it.
    jon = case.read("accounts").filter(pl.col("account_id") == "18591618").row(0, named=True)
    assert (jon["screen_name"], jon["followers"]) == ("staringispolite", 6851)
    assert jon["probed_at"] == datetime(2022, 10, 5, 10, 0, tzinfo=UTC)
    assert "__twarc" not in jon["raw"]


def test_malformed_records_are_quarantined_with_reasons(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "twitter-v2" / "malformed.jsonl")
    assert report.reconciles
    f = report.files[0]
    assert (f.emitted["posts"], f.quarantined) == (2, 5)
    rows = case.read("quarantine").sort("line", "reason").select("line", "reason").rows()
    assert rows == [
        (1, "ValueError: tweet without created_at (request tweet.fields=created_at)"),
        (1, "X API error: Forbidden: User has been suspended: [leeseunggi]."),
        (2, "response with nothing to read (result_count 0)"),
        (3, rows[3][1]),
        (4, "ValueError: " + bad_date("yesterday")),
    ]
    assert rows[3][1].startswith("invalid JSON")
    withheld = case.read("posts").filter(pl.col("post_id") == "1404374446257934336").row(0, named=True)
    # The "withheld in India" placeholder is not the post's content.
    assert withheld["text"] is None and withheld["urls"] == []


def test_an_included_tweet_given_only_as_a_reference_is_skipped_not_an_error(tmp_path):
    import json

    # A stream line whose repost names its original in includes.tweets by id and author only
    # (no created_at): the repost is stored with both, the reference kept aside as skipped.
    line = {
        "data": {"id": "2", "author_id": "20", "created_at": "2024-01-01T00:00:00.000Z", "text": "RT",
                 "referenced_tweets": [{"type": "retweeted", "id": "1"}]},
        "includes": {"tweets": [{"id": "1", "author_id": "10"}]},
    }  # fmt: skip
    path = tmp_path / "stream.jsonl"
    path.write_text(json.dumps(line) + "\n")
    report, case = _case(tmp_path, path, format="twitter-v2", strict=True)  # strict: skipped is no error
    assert report.reconciles and report.files[0].quarantined == 1
    repost = case.read("posts").row(0, named=True)
    assert (repost["kind"], repost["ref_post_id"], repost["ref_account_id"]) == ("repost", "1", "10")
    (reason,) = case.read("quarantine")["reason"].to_list()
    assert reason.startswith("skipped: included tweet without created_at")


def test_pretty_printed_response_reads_like_its_line(tmp_path):
    import json

    pretty = tmp_path / "in" / "response.json"
    pretty.parent.mkdir()
    line = SAMPLE.read_text().splitlines()[0]
    pretty.write_text(json.dumps(json.loads(line), indent=2))
    one_line = tmp_path / "in2" / "response.jsonl"
    one_line.parent.mkdir()
    one_line.write_text(line + "\n")
    report, pretty_case = _case(tmp_path / "a", pretty, dataset="d")
    assert report.files[0].reader == "twitter-v2" and report.total("quarantined") == 0
    _, line_case = _case(tmp_path / "b", one_line, dataset="d")
    drop = ["source_file", "ingested_at"]
    a = pretty_case.read("posts").drop(drop).sort("post_id")
    assert a.height == 7 and a.equals(line_case.read("posts").drop(drop).sort("post_id"))


def test_bare_tweets_array(tmp_path):
    import json

    bare = tmp_path / "in" / "tweets.json"
    bare.parent.mkdir()
    bare.write_text(json.dumps(json.loads(SAMPLE.read_text().splitlines()[0])["data"], indent=1))
    report, case = _case(tmp_path, bare)
    assert report.files[0].reader == "twitter-v2" and report.total("quarantined") == 0
    posts = case.read("posts").sort("post_id")
    assert posts["kind"].to_list() == ["quote", "reply", "repost", "original"]
    # Without includes the retweeted author is unknown; the reply's comes from in_reply_to_user_id.
    assert posts["ref_account_id"].to_list() == [None, "1717521084", None, None]


def test_pages_longer_than_the_sniffed_head_are_read_as_json_lines(tmp_path):
    import json

    from cibwatch.ingest.jsonstream import is_json_lines
    from cibwatch.ingest.source import SNIFF_BYTES, Source

    response = json.loads(SAMPLE.read_text().splitlines()[0])
    # Pad one page past the sniffed head, as a 500-tweet search page is.
    response["data"][0]["text"] += " " * SNIFF_BYTES
    path = tmp_path / "pages.jsonl"
    path.write_text(json.dumps(response) + "\n" + SAMPLE.read_text().splitlines()[1] + "\n")
    assert is_json_lines(Source(path=path, dataset="d"))  # the fast orjson path, not the stream decoder
    report, case = _case(tmp_path, path)
    assert report.total("quarantined") == 0 and case.read("posts").height == 8


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, "zst"])
def test_compressed_input_gives_identical_tables(tmp_path, compress):
    if compress == "zst":
        zstandard = pytest.importorskip("zstandard")
        compress = zstandard.ZstdCompressor().compress
    packed = tmp_path / "in" / "sample.jsonl.x"
    packed.parent.mkdir()
    packed.write_bytes(compress(SAMPLE.read_bytes()))
    _, plain = _case(tmp_path / "plain", SAMPLE, dataset="d")
    _, other = _case(tmp_path / "packed", packed, dataset="d")
    drop = ["source_file", "ingested_at"]
    for table in ("posts", "accounts"):
        a = plain.read(table).drop(drop).sort(pl.all())
        b = other.read(table).drop(drop).sort(pl.all())
        assert a.height > 0 and a.equals(b), table


# Concrete counts per real twarc file: posts read (data + includes.tweets, or inlined in flat lines),
# posts stored after de-duplication, account snapshots read, quarantined API errors.
REAL = {
    "2sets.jsonl": (278, 276, 289, 1),
    "brexit.jsonl": (155, 155, 177, 0),
    "cotweet.jsonl": (1, 1, 1, 0),
    "entities_test.jsonl": (650, 650, 612, 11),
    "flat.jsonl": (194, 164, 398, 0),
    "kpop.jsonl": (123, 121, 112, 1),
    "withheld.jsonl": (284, 284, 591, 5),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_twarc_payloads(tmp_path, shared, name):
    path = shared("formats", "twitter-v2-twarc", name)
    report, case = _case(tmp_path, path)
    assert report.files[0].reader == "twitter-v2"  # sniffed
    assert report.reconciles
    f = report.files[0]
    posts_read, posts_stored, accounts_read, quarantined = REAL[name]
    assert (f.emitted["posts"], f.stored["posts"], f.emitted["accounts"], f.quarantined) == (
        posts_read,
        posts_stored,
        accounts_read,
        quarantined,
    )
    posts = case.read("posts")
    assert posts["post_id"].is_unique().all()
    assert posts.filter(pl.col("kind") != "original")["ref_post_id"].null_count() == 0
    if quarantined:
        assert case.read("quarantine")["reason"].str.starts_with("X API error: ").all()


def test_real_withheld_placeholders_are_not_content(tmp_path, shared):
    _, case = _case(tmp_path, shared("formats", "twitter-v2-twarc", "withheld.jsonl"))
    posts = case.read("posts")
    assert posts.filter(pl.col("text").str.contains("has been withheld")).height == 0
    assert posts["text"].null_count() == 12
    kinds = dict(posts["kind"].value_counts().rows())
    assert kinds == {"original": 118, "repost": 83, "reply": 71, "quote": 12}
