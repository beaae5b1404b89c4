from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.errors import BadRecordError
from cibwatch.ingest import ingest
from tests.conftest import FIXTURES

ALICE_POST = "at://did:plc:alice111/app.bsky.feed.post/3l3qo2vuowo2b"


def _case(tmp_path, path):
    report = ingest([path], tmp_path / "case")
    return report, open_case(tmp_path / "case")


def test_jetstream_posts_reposts_quotes_and_facets(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "bluesky" / "sample.jsonl")
    assert report.files[0].reader == "bluesky" and report.reconciles
    assert report.total("quarantined") == 0
    posts = {row["post_id"]: row for row in case.read("posts").to_dicts()}
    assert len(posts) == 6 and {p["platform"] for p in posts.values()} == {"bluesky"}
    original = posts[ALICE_POST]
    assert original["kind"] == "original" and original["lang"] == "en"
    assert (original["hashtags"], original["urls"], original["mentions"]) == (
        ["birds"],
        ["https://example.org/birds"],
        ["did:plc:bob222"],
    )
    assert original["media_hashes"] == ["bafkreiheronimage"]  # the image blob's CID
    assert original["created_at"] == datetime(2024, 9, 9, 19, 46, 10, tzinfo=UTC)
    reply = posts["at://did:plc:bob222/app.bsky.feed.post/3l3qo2wreply1"]
    assert (reply["kind"], reply["ref_post_id"], reply["ref_account_id"]) == (
        "reply",
        ALICE_POST,
        "did:plc:alice111",
    )
    repost = posts["at://did:plc:carol333/app.bsky.feed.repost/3l3qo2xrepost"]
    assert (repost["kind"], repost["ref_post_id"], repost["ref_account_id"], repost["text"]) == (
        "repost",
        ALICE_POST,
        "did:plc:alice111",
        None,
    )
    quote = posts["at://did:plc:carol333/app.bsky.feed.post/3l3qo2yquote1"]
    # recordWithMedia: a quote that re-uses the same picture (same CID).
    assert (quote["kind"], quote["ref_post_id"], quote["media_hashes"]) == (
        "quote",
        ALICE_POST,
        ["bafkreiheronimage"],
    )
    external = posts["at://did:plc:dave444/app.bsky.feed.post/3l3qo2zquote2"]
    assert external["urls"] == ["https://news.example.com/a"]
    # createdAt "not a date": Jetstream's time_us stands in.
    assert external["created_at"] == datetime(2024, 9, 9, 19, 46, 50, tzinfo=UTC)
    feed = posts["at://did:plc:dave444/app.bsky.feed.post/3l3qo2zfeed01"]
    # An embedded feed generator is shared like a link, not quoted like a post.
    assert (feed["kind"], feed["ref_post_id"]) == ("original", None)
    assert feed["urls"] == ["at://did:plc:dave444/app.bsky.feed.generator/birds"]


def test_identity_and_profile_become_snapshots(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "bluesky" / "sample.jsonl")
    alice = case.read("accounts").filter(pl.col("account_id") == "did:plc:alice111").sort("probed_at")
    assert alice["screen_name"].to_list() == ["alice.bsky.social", None]
    assert alice["name"].to_list() == [None, "Alice"]
    assert alice["description"].to_list() == [None, "Birds and #maps"]
    assert alice["default_profile_image"].to_list() == [None, True]  # no avatar blob
    assert alice["followers"].null_count() == 2  # Jetstream carries no counts


def test_likes_deletes_and_bad_events_are_kept_in_quarantine(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "bluesky" / "malformed.jsonl")
    assert report.reconciles
    f = report.files[0]
    assert (f.emitted["posts"], f.quarantined) == (1, 6)
    rows = case.read("quarantine").sort("line").select("line", "reason").rows()
    assert [line for line, _ in rows] == [1, 2, 3, 4, 5, 7]
    reasons = [reason for _, reason in rows]
    assert reasons[0] == "skipped: app.bsky.feed.like: a like is not a post"
    assert reasons[1] == "skipped: deletion of app.bsky.feed.post (deletions are not stored)"
    assert reasons[2] == "skipped: account status event (active=False, status=takendown)"
    assert reasons[3].startswith("invalid JSON")
    assert reasons[4] == "ValueError: repost without a subject at:// URI"
    assert reasons[5] == "ValueError: expected a string, got list"
    like = case.read("quarantine").filter(pl.col("line") == 1)["raw"][0]
    assert '"collection":"app.bsky.feed.like"' in like  # kept whole, nothing lost


def test_appview_feed_with_quote_view_and_repost_reason(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "bluesky" / "sample_feed.json")
    assert report.files[0].reader == "bluesky" and report.reconciles
    assert report.total("quarantined") == 0
    posts = {row["post_id"]: row for row in case.read("posts").to_dicts()}
    quote = posts["at://did:plc:alice111/app.bsky.feed.post/3kquote0001"]
    assert (quote["kind"], quote["ref_post_id"], quote["hashtags"]) == (
        "quote",
        "at://did:plc:bob222/app.bsky.feed.post/3kbob00001",
        ["herons"],
    )
    # The quoted post, embedded in the view, is stored as well.
    quoted = posts["at://did:plc:bob222/app.bsky.feed.post/3kbob00001"]
    assert (quoted["text"], quoted["created_at"]) == (
        "Herons at dawn",
        datetime(2024, 9, 9, 6, 0, tzinfo=UTC),
    )
    repost = posts["at://did:plc:alice111/app.bsky.feed.repost/3krepost001"]
    assert (repost["kind"], repost["account_id"], repost["ref_post_id"], repost["ref_account_id"]) == (
        "repost",
        "did:plc:alice111",
        "at://did:plc:bob222/app.bsky.feed.post/3kbob00002",
        "did:plc:bob222",
    )
    assert repost["created_at"] == datetime(2024, 9, 9, 10, 0, tzinfo=UTC)
    accounts = case.read("accounts").filter(pl.col("probed_at").is_not_null())
    alice = accounts.filter(pl.col("account_id") == "did:plc:alice111").row(0, named=True)
    assert (alice["screen_name"], alice["name"], alice["default_profile_image"]) == (
        "alice.bsky.social",
        "Alice",
        False,
    )
    assert alice["created_at"] == datetime(2023, 5, 1, 12, 0, tzinfo=UTC)
    bob = accounts.filter(pl.col("account_id") == "did:plc:bob222").row(0, named=True)
    assert (bob["name"], bob["default_profile_image"], bob["followers"]) == (None, True, None)


def test_appview_items_that_cannot_be_read_whole(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "bluesky" / "malformed_views.jsonl")
    assert report.reconciles
    assert (report.files[0].emitted["posts"], report.files[0].quarantined) == (3, 2)
    rows = case.read("quarantine").sort("line").select("line", "reason").rows()
    assert rows == [
        (2, "skipped: repost reason without the repost's uri (older AppView); its post was stored"),
        (3, "ValueError: not a post view (needs an at:// uri, author and record)"),
    ]


def test_strict_stops_on_bad_events_not_on_skipped_ones(tmp_path):
    # Lines 1-3 are a like, a deletion and a status event: kept aside, not bad input.
    with pytest.raises(BadRecordError, match=r"malformed.jsonl, line 4: invalid JSON"):
        ingest([FIXTURES / "bluesky" / "malformed.jsonl"], tmp_path / "case", strict=True)
    lines = (FIXTURES / "bluesky" / "malformed.jsonl").read_text().splitlines(keepends=True)
    only_skipped = tmp_path / "likes.jsonl"
    only_skipped.write_text("".join(lines[:3]))
    report = ingest([only_skipped], tmp_path / "case2", strict=True)
    assert report.reconciles and report.total("quarantined") == 3
