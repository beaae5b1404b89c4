from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from cibwatch import open_case
from cibwatch.ingest import ingest
from cibwatch.ingest.formats.mastodon import global_acct, html_text
from cibwatch.values import bad_date
from tests.conftest import FIXTURES

FIRST = "https://mastodon.social/users/alice/statuses/112000000000000001"


def _case(tmp_path, path):
    report = ingest([path], tmp_path / "case")
    return report, open_case(tmp_path / "case")


def test_statuses_boosts_quotes_and_replies(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "mastodon" / "sample.json")
    assert report.files[0].reader == "mastodon" and report.reconciles
    f = report.files[0]
    # 5 statuses, plus the boosted and the quoted status (the same one, stored once).
    assert (f.emitted["posts"], f.stored["posts"], f.quarantined) == (7, 5, 0)
    posts = {row["post_id"]: row for row in case.read("posts").to_dicts()}
    first = posts[FIRST]
    assert first["account_id"] == "alice@mastodon.social" and first["platform"] == "mastodon"
    assert first["text"] == "Herons are back #birds cc @bob https://example.org/herons?x=1&y=2"
    assert (first["hashtags"], first["mentions"]) == (["birds"], ["bob@fosstodon.org"])
    assert first["urls"] == ["https://example.org/herons?x=1&y=2"]  # content link and card, once
    assert first["media_hashes"] == ["UFGuXN-;00IU~qIUM{t7-;RjRjt7-;M{WBj["]
    assert first["source_app"] == "Web"
    assert first["created_at"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    boost = posts["https://fosstodon.org/users/bob/statuses/112000000000000777/activity"]
    assert (boost["kind"], boost["ref_post_id"], boost["ref_account_id"], boost["text"]) == (
        "repost",
        FIRST,
        "alice@mastodon.social",
        None,
    )
    quote = posts["https://fosstodon.org/users/bob/statuses/112000000000000888"]
    assert (quote["kind"], quote["ref_post_id"], quote["urls"]) == ("quote", FIRST, ["https://example.net/a"])
    self_reply = posts["https://mastodon.social/users/alice/statuses/112000000000000002"]
    # A local parent's URI is derived from its local id.
    assert (self_reply["kind"], self_reply["ref_post_id"], self_reply["ref_account_id"]) == (
        "reply",
        FIRST,
        "alice@mastodon.social",
    )
    remote_reply = posts["https://mastodon.social/users/alice/statuses/112000000000000005"]
    # A remote parent's local id has no global form: null, the author is still known.
    assert (remote_reply["kind"], remote_reply["ref_post_id"], remote_reply["ref_account_id"]) == (
        "reply",
        None,
        "bob@fosstodon.org",
    )


def test_account_snapshots(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "mastodon" / "sample.json")
    accounts = case.read("accounts")
    alice = (
        accounts.filter(pl.col("account_id") == "alice@mastodon.social").sort("probed_at").row(0, named=True)
    )
    assert (alice["screen_name"], alice["followers"], alice["following"], alice["posts_count"]) == (
        "alice",
        120,
        80,
        456,
    )
    assert alice["description"] == "Birder. Maps & #gis\n\nSecond line\nthird"
    assert alice["verified"] is None and alice["likes_count"] is None
    assert alice["default_profile_image"] is False
    bob = accounts.filter(pl.col("account_id") == "bob@fosstodon.org").row(0, named=True)
    assert bob["default_profile_image"] is True  # missing.png
    # The bot flag is the account's claim, kept in raw, never turned into a label.
    assert '"bot":true' in bob["raw"]
    assert case.read("account_labels").height == 0


def test_malformed_statuses_are_quarantined(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "mastodon" / "malformed.jsonl")
    assert report.reconciles
    assert (report.files[0].emitted["posts"], report.files[0].quarantined) == (1, 5)
    rows = case.read("quarantine").sort("line").select("line", "reason").rows()
    assert [line for line, _ in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1] == "ValueError: " + bad_date("last tuesday")
    assert rows[1][1] == "ValueError: not a Mastodon status (needs uri or id, and account)"
    assert rows[2][1].startswith("invalid JSON")
    assert rows[3][1] == "ValueError: bad count 'many'"
    assert rows[4][1] == "nothing to read (an empty list or response)"


def test_helpers():
    assert global_acct("bob", "https://mastodon.social/@bob") == "bob@mastodon.social"
    assert global_acct("@bob@fosstodon.org", None) == "bob@fosstodon.org"
    text, links = html_text(
        '<p>a<br>b <a href="https://x.org/t" class="mention hashtag" rel="tag">#t</a></p>'
    )
    assert (text, links) == ("a\nb #t", ())
    text, links = html_text(
        "<p>x &lt;b&gt; <a href='https://e.org/?a=1&amp;b=2' rel=\"nofollow\">e</a><br />y</p>"
    )
    assert (text, links) == ("x <b> e\ny", ("https://e.org/?a=1&b=2",))


def test_streaming_events_are_read_as_their_statuses(tmp_path):
    """The WebSocket streaming API's events, one a line: the payload is the status as a JSON string."""
    report, case = _case(tmp_path, FIXTURES / "mastodon" / "streaming.jsonl")
    f = report.files[0]
    assert f.reader == "mastodon" and report.reconciles
    assert (f.emitted["posts"], f.stored["posts"], f.quarantined) == (7, 5, 2)
    assert FIRST in set(case.read("posts")["post_id"])
    reasons = sorted(case.read("quarantine")["reason"])
    assert reasons[0].startswith("skipped: a streaming 'delete' event is not a status")
    assert reasons[1].startswith("streaming event: payload is not JSON")
