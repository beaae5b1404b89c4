"""CSV readers: io-archive, ira-538, qut, coortweet, crowdtangle, twitter15-16, cresci-timelines."""

from __future__ import annotations

import gzip
import lzma
from collections import deque
from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cibwatch import open_case
from cibwatch.errors import BadRecordError, InputFormatError
from cibwatch.ingest import ingest
from cibwatch.ingest.formats import coortweet
from cibwatch.ingest.formats.csv_common import REPOST_TEXT_PREFIX, repost_of_text
from cibwatch.ingest.formats.io_archive import list_literal
from cibwatch.ingest.registry import readers
from cibwatch.ingest.source import Source
from cibwatch.values import normalize_text, parse_date_ms, stable_id
from tests.conftest import FIXTURES

CSV_READERS = [
    "io-archive",
    "ira-538",
    "ira-538-authors",
    "qut",
    "coortweet",
    "crowdtangle",
    "twitter15-16",
    "cresci-timelines",
]


def _case(tmp_path, *inputs, **kwargs):
    report = ingest(list(inputs), tmp_path / "case", **kwargs)
    return report, open_case(tmp_path / "case")


def _post(posts: pl.DataFrame, post_id: str) -> dict:
    rows = posts.filter(pl.col("post_id") == post_id)
    assert rows.height == 1, f"{post_id}: {rows.height} rows"
    return rows.row(0, named=True)


def _ms(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- every reader: its sample ingests clean, and sniffing picks only its own files ----------------


@pytest.mark.parametrize("name", CSV_READERS)
def test_sample_ingests_clean_and_reconciles(tmp_path, name):
    report, _ = _case(tmp_path, FIXTURES / name, format=name)
    assert report.reconciles
    assert report.total("quarantined") == 0
    assert report.total("records_stored") > 0


@pytest.mark.parametrize("name", [n for n in CSV_READERS if n != "cresci-timelines"])
def test_sniff_accepts_own_samples_only(name):
    reader = readers()[name]
    for path in sorted(FIXTURES.rglob("*")):
        if not path.is_file():
            continue
        head = Source(path=path, dataset="x").head()
        assert reader.sniff(head, path) == (path.parent.name == name), path


def test_cresci_timelines_is_chosen_by_format_only():
    # The labeled-set reader `cresci` owns auto-detection of this header; no ambiguity.
    path = FIXTURES / "cresci-timelines" / "genuine_timelines_sample.csv"
    head = Source(path=path, dataset="x").head()
    assert [n for n, r in readers().items() if r.sniff(head, path)] == ["cresci"]


# -- io-archive ------------------------------------------------------------------------------------


def test_io_archive_tweets_and_users(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "io-archive")
    assert [f.reader for f in report.files] == ["io-archive", "io-archive"]
    posts = case.read("posts").sort("post_id")
    assert posts["kind"].to_list() == ["original", "repost", "reply", "quote"]
    patriot = "a3f1c2e4b5d6a7f8c9e0b1a2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2"
    first = _post(posts, "700000000000000001")
    assert first["account_id"] == patriot
    assert first["created_at"] == _ms(2016, 1, 1, 12, 34)
    assert (first["hashtags"], first["urls"]) == (["news", "USA"], ["http://example.com/story"])
    assert first["source_app"] == "Twitter Web Client" and first["lang"] == "en"
    repost = _post(posts, "700000000000000002")
    assert (repost["ref_post_id"], repost["ref_account_id"]) == ("600000000000000009", "99887766")
    assert repost["mentions"] == ["99887766"]
    reply = _post(posts, "700000000000000003")
    assert (reply["ref_post_id"], reply["ref_account_id"]) == ("700000000000000001", patriot)
    assert _post(posts, "700000000000000004")["hashtags"] == ["MAGA"]
    accounts = case.read("accounts").sort("account_id")
    # The profile repeats on each tweet row and in the users file: one snapshot per account.
    assert accounts["account_id"].to_list() == [
        patriot,
        "b7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6",
        "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
    ]
    maria = accounts.row(1, named=True)
    assert (maria["screen_name"], maria["followers"], maria["following"]) == ("maria_s_1985", 45, 210)
    assert maria["created_at"] == _ms(2015, 11, 2) and maria["location"] == "Chicago, IL"
    assert maria["probed_at"] is None and maria["description"] is None
    assert accounts.row(2, named=True)["lang"] == "ru"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("['a', 'b']", ["a", "b"]), ("[a, b]", ["a", "b"]), ("", []), ("[]", []), ("['x,y']", ["x,y"])],
)
def test_list_literal(text, expected):
    assert list_literal(text) == expected


# -- ira-538 ---------------------------------------------------------------------------------------


def test_ira_538_original_layout(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "ira-538" / "IRAhandle_tweets_sample.csv")
    posts = case.read("posts")
    original = _post(posts, "914580356430536707")  # tweet_id is the post id when present
    assert original["account_id"] == "10_gop" and original["kind"] == "original"
    assert original["created_at"] == _ms(2017, 10, 1, 19, 58)
    assert original["mentions"] == ["nedryun"] and original["urls"] == ["https://t.co/gh6g0D1oiC"]
    assert original["lang"] == "en"
    repost = _post(posts, "914621840856305664")
    assert repost["kind"] == "repost" and repost["ref_account_id"] == "ten_gop"
    assert repost["ref_post_id"] == stable_id(
        "ten_gop", "hillary is not fit to be president #maga", prefix=REPOST_TEXT_PREFIX
    )
    assert repost["hashtags"] == ["maga"]
    labels = case.read("account_labels").sort("account_id")
    assert labels.select("account_id", "label", "label_detail").rows() == [
        ("10_gop", "bot", "RightTroll"),
        ("1d_nicole_", "bot", "Fearmonger"),
    ]
    gop = case.read("accounts").filter(pl.col("account_id") == "10_gop").row(0, named=True)
    # The latest harvest of the account is its snapshot.
    assert (gop["following"], gop["followers"], gop["posts_count"]) == (1054, 9637, 254)
    assert gop["probed_at"] == _ms(2017, 10, 1, 22, 43) and gop["screen_name"] == "10_GOP"


def test_ira_538_by_author_layout(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "ira-538" / "by_author_sample.csv")
    posts = case.read("posts").sort("created_at", "post_id")
    assert posts.height == 5
    assert posts["post_id"].str.starts_with("ira538:").all()
    assert posts["kind"].to_list()[2:] == ["repost", "quote", "original"]
    # Same author and minute, different text: two posts, not a duplicate.
    assert posts.filter(pl.col("account_id") == "ten_gop").height == 2
    repost = posts.row(2, named=True)
    # A bare reposted text names no handle: the id hashes the text alone.
    assert repost["ref_post_id"] == stable_id(
        "", "hillary is not fit to be president #maga", prefix=REPOST_TEXT_PREFIX
    )
    assert repost["ref_account_id"] is None and repost["account_id"] == "pamela_moore13"
    assert repost["created_at"] == _ms(2017, 10, 1, 20, 10)
    quote = posts.row(3, named=True)
    # The quoted post is not in the row (only the quoter's comment and a t.co link).
    assert (quote["kind"], quote["ref_post_id"], quote["mentions"]) == ("quote", None, ["ten_gop"])
    assert case.read("account_labels").height == 0  # this layout has no account_category
    ten = case.read("accounts").filter(pl.col("account_id") == "ten_gop").row(0, named=True)
    assert ten["followers"] == 120001 and ten["probed_at"] == _ms(2017, 10, 1, 20, 5)


def test_ira_538_spreadsheet_mangled_tweet_id_is_quarantined(tmp_path):
    header = (FIXTURES / "ira-538" / "IRAhandle_tweets_sample.csv").read_text().splitlines()[0]
    path = tmp_path / "IRAhandle_tweets_1.csv"
    start = "1,A,hi,Unknown,English,10/1/2017 19:5{},10/1/2017 19:59,1,2,3,,Right,0,RightTroll,0,1,"
    path.write_text(
        f"{header}\n{start.format(8)}9.14580356430536E+17,,,,\n{start.format(9)}914580356430536707,,,,\n"
    )
    report, case = _case(tmp_path, path)
    assert report.files[0].quarantined == 1 and report.reconciles
    assert "bad tweet_id '9.14580356430536E+17'" in case.read("quarantine")["reason"][0]
    assert case.read("posts")["post_id"].to_list() == ["914580356430536707"]


def test_ira_538_ids_are_deterministic(tmp_path):
    path = FIXTURES / "ira-538" / "by_author_sample.csv"
    _, case = _case(tmp_path, path)
    first = sorted(case.read("posts")["post_id"].to_list())
    case.close()
    report = ingest([path], tmp_path / "case")
    assert report.total("records_stored") == 0 and report.reconciles
    _, again = _case(tmp_path / "other", path)
    assert sorted(again.read("posts")["post_id"].to_list()) == first


def test_ira_538_authors_label_the_same_account_ids(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "ira-538", FIXTURES / "ira-538-authors")
    labels = case.read("account_labels").filter(pl.col("dataset") == "authors_sample").sort("account_id")
    assert labels["account_id"].to_list() == ["10_gop", "1d_nicole_", "pamela_moore13"]
    assert labels["label_detail"].to_list() == ["RightTroll", "Fearmonger", "RightTroll"]
    authors = set(case.read("posts")["account_id"])
    assert {"10_gop", "1d_nicole_", "pamela_moore13"} <= authors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-09-07 19:52:00", _ms(2017, 9, 7, 19, 52)),
        ("9/7/2017 19:52", _ms(2017, 9, 7, 19, 52)),
        ("12/31/2015 0:05", _ms(2015, 12, 31, 0, 5)),
    ],
)
def test_ira_dates(text, expected):
    assert parse_date_ms(text) == int(expected.timestamp() * 1000)


@pytest.mark.parametrize("text", ["", "yesterday", "2017-13-01 10:00:00", "9/7/17 19:52", "2017-09-07 25:00"])
def test_ira_bad_dates(text):
    with pytest.raises(ValueError, match="bad date"):
        parse_date_ms(text)


@given(st.datetimes(min_value=datetime(2009, 1, 1), max_value=datetime(2030, 12, 31)))
def test_ira_date_layouts_agree(moment):
    moment = moment.replace(second=0, microsecond=0)
    iso = moment.strftime("%Y-%m-%d %H:%M:%S")
    us = f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"
    assert parse_date_ms(iso) == parse_date_ms(us) == int(moment.replace(tzinfo=UTC).timestamp() * 1000)


# -- the repost helper shared by ira-538 and cresci-timelines --------------------------------------


@given(st.text(alphabet="abc XYZ#é\t", min_size=1, max_size=40), st.sampled_from(["Bob", "bob", "BOB"]))
def test_repost_id_ignores_case_and_spacing(body, handle):
    spaced = "  ".join(body.split(" "))
    ref, who = repost_of_text(f"RT @{handle}: {body}")
    assert who == "bob"
    assert (
        ref
        == repost_of_text(f"RT @bob: {spaced.upper()}")[0]
        == stable_id("bob", normalize_text(body), prefix=REPOST_TEXT_PREFIX)
    )
    assert ref != repost_of_text(f"RT @alice: {body}")[0]


# -- qut -------------------------------------------------------------------------------------------


def test_qut(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "qut")
    posts = case.read("posts").sort("post_id")
    assert posts["kind"].to_list() == ["original", "repost", "reply", "original"]
    assert posts["ref_post_id"].to_list() == [None, "1001", "1001", None]
    repost = posts.row(1, named=True)
    assert repost["created_at"] == datetime(2020, 9, 13, 12, 27, 10, 500000, tzinfo=UTC)
    # An empty urls field is no link (the toolkit's split(" ") makes it the link "").
    assert posts["urls"].to_list() == [
        ["http://example.com/a"],
        ["http://example.com/a"],
        [],
        ["http://a.example", "http://b.example"],
    ]
    assert posts.row(0, named=True)["hashtags"] == ["vote"]
    names = dict(case.read("accounts").select("account_id", "screen_name").iter_rows())
    assert names == {"11": "alice", "12": "bob", "13": "carol"}


def test_qut_reads_files_as_the_toolkit_does(tmp_path):
    import sqlite3

    preprocess = pytest.importorskip("coordination_network_toolkit.preprocess")
    sample = FIXTURES / "qut" / "messages_sample.csv"
    db = tmp_path / "qut.db"
    preprocess.preprocess_csv_files(str(db), [str(sample)])
    with sqlite3.connect(db) as con:
        theirs = con.execute(
            "SELECT message_id, user_id, repost_id, reply_id, timestamp FROM edge"
        ).fetchall()
        their_links = con.execute("SELECT message_id, url FROM message_url").fetchall()
    _, case = _case(tmp_path, sample)
    posts = case.read("posts")
    ours = {
        (p["post_id"], p["account_id"], p["created_at"].timestamp())
        + ((p["ref_post_id"], None) if p["kind"] == "repost" else (None, p["ref_post_id"]))
        for p in posts.iter_rows(named=True)
    }
    assert ours == {(m, u, float(t), rp, rr) for m, u, rp, rr, t in theirs}
    # Links of originals agree, except that the toolkit keeps an empty field as the link "".
    our_links = {
        (p["post_id"], u) for p in posts.iter_rows(named=True) if p["kind"] != "repost" for u in p["urls"]
    }
    assert set(their_links) - our_links == {("1003", "")}
    assert our_links <= set(their_links)


# -- coortweet -------------------------------------------------------------------------------------


def test_coortweet_object_form(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "coortweet" / "russian_coord_sample.csv")
    posts = case.read("posts").sort("post_id")
    assert posts.height == 4 and set(posts["kind"]) == {"repost"} and set(posts["platform"]) == {"twitter"}
    two = "77f7a2d01238779cf4f9c84e57dce19a"
    # A content referencing two objects: the first is its ref, the second a further repost.
    assert _post(posts, two)["ref_post_id"] == "bb1fe038be0d8fde2ec6b8d5173b0f2b"
    extra = _post(posts, f"{two}/2afeb8a2e0ae4a0bda0604e6997be3a9")
    assert extra["ref_post_id"] == "2afeb8a2e0ae4a0bda0604e6997be3a9"
    assert extra["account_id"] == "be9751f4b263a00cf0d2e9bc84f6c196"
    assert _post(posts, "114e22f1b2b648528277b76f0b0224e7")["created_at"] == _ms(2021, 6, 16, 22, 4, 51)


def test_coortweet_trace_form_merges_rows_of_a_post(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "coortweet" / "german_elections_sample.csv")
    assert report.files[0].emitted["posts"] == 4
    posts = case.read("posts")
    merged = _post(posts, "37775")  # three rows, one of them not adjacent
    assert (merged["hashtags"], merged["media_hashes"]) == (["7465", "7466"], ["26215"])
    assert merged["platform"] == "twitter" and merged["kind"] == "original"
    fb = _post(posts, "129235")
    assert fb["platform"] == "facebook" and fb["urls"] == ["url:23678", "domain:3498"]
    assert _post(posts, "28345")["urls"] == []


def test_coortweet_rows_beyond_the_window_are_quarantined(tmp_path, monkeypatch):
    monkeypatch.setattr(coortweet, "WINDOW_ROWS", 2)
    path = tmp_path / "traces.csv"
    path.write_text(
        "account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp\n"
        "tw_1,10,,5,,,1629589836\n"
        "tw_2,11,,,,,1629589837\n"
        "tw_3,12,,,,,1629589838\n"
        "tw_1,10,,6,,,1629589836\n"
    )
    report, case = _case(tmp_path, path)
    assert report.files[0].quarantined == 1 and report.reconciles
    reason = case.read("quarantine")["reason"][0]
    assert "post_id 10 was already written" in reason and "sort the file by post_id" in reason
    assert _post(case.read("posts"), "10")["hashtags"] == ["5"]


class _ListSink:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.quarantined: list[tuple[str, int | None]] = []

    def post(self, record: dict) -> None:
        self.posts.append(record)

    def account(self, record: dict) -> None:
        raise AssertionError("coortweet emits no accounts")

    def label(self, record: dict) -> None:
        raise AssertionError("coortweet emits no labels")

    def quarantine(self, reason: str, raw, line=None, byte_offset=None) -> None:
        self.quarantined.append((reason, line))

    def unit(self, outcome: str) -> None:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 9), st.sampled_from(["url_id", "hashtag_id", "phash_id"]), st.integers(0, 5)
        ),
        min_size=1,
        max_size=40,
    ),
    window=st.integers(1, 50),
)
def test_coortweet_window_merges_or_quarantines_every_row(tmp_path, monkeypatch, rows, window):
    monkeypatch.setattr(coortweet, "WINDOW_ROWS", window)
    lines = ["account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp"]
    for post, column, value in rows:
        traces = {"url_id": "", "hashtag_id": "", "phash_id": "", column: str(value)}
        lines.append(
            f"tw_{post},{post},{traces['url_id']},{traces['hashtag_id']},,{traces['phash_id']},1629589836"
        )
    path = tmp_path / "traces.csv"
    path.write_text("\n".join(lines) + "\n")
    sink = _ListSink()
    coortweet.CoortweetReader().read(Source(path=path, dataset="x"), sink)
    ids = [p["post_id"] for p in sink.posts]
    assert len(ids) == len(set(ids))  # never two posts with one id
    kept = {
        (p["post_id"], item) for p in sink.posts for item in p["urls"] + p["hashtags"] + p["media_hashes"]
    }
    quarantined_lines = {line for _, line in sink.quarantined}
    for i, (post, column, value) in enumerate(rows, start=2):
        item = f"url:{value}" if column == "url_id" else str(value)
        # Each trace is in its post, or its row is in quarantine (a later row of a post already written).
        assert (str(post), item) in kept or i in quarantined_lines
    if window >= len(rows):
        assert not sink.quarantined and len(ids) == len({post for post, _, _ in rows})


# -- crowdtangle -----------------------------------------------------------------------------------


def test_crowdtangle_coornet_shares(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "crowdtangle" / "ct_shares_sample.csv")
    assert report.files[0].emitted["posts"] == 3  # the two rows of post 75088659206 are one post
    posts = case.read("posts")
    merged = _post(posts, "75088659206")
    assert merged["urls"] == ["https://www.gp.org/platform.", "https://www.causes.com/campaigns/108805"]
    assert merged["created_at"] == _ms(2017, 9, 16, 11, 58, 29) and merged["platform"] == "facebook"
    assert _post(posts, "99000000001")["platform"] == "instagram"
    accounts = case.read("accounts").sort("account_id")
    insta = accounts.filter(pl.col("account_id") == "765224").row(0, named=True)
    assert (insta["screen_name"], insta["followers"], insta["verified"]) == ("somebody", 538732, True)
    group = accounts.filter(pl.col("account_id") == "10189262").row(0, named=True)
    assert group["screen_name"] is None and group["name"] == "Periódico ¡ahora!"  # NA is missing


def test_crowdtangle_pycoornet_layout(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "crowdtangle" / "pycoornet_sample.csv")
    post = _post(case.read("posts"), "47159289834")
    assert post["account_id"] == "6283271" and post["created_at"] is None  # no date column
    assert post["text"] == "UNGA Votes Against Cuba Blockade"
    assert case.read("accounts").row(0, named=True)["followers"] == 0


# -- twitter15-16 ----------------------------------------------------------------------------------


def test_twitter15_16_cascades(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "twitter15-16")
    assert (report.files[0].emitted["posts"], report.files[0].stored["posts"]) == (6, 5)
    posts = case.read("posts")
    root = _post(posts, "265953285247209472")
    assert (root["kind"], root["account_id"]) == ("original", "39364684")
    assert root["created_at"] == datetime(2012, 11, 6, 23, 6, 19, 33000, tzinfo=UTC)
    own = _post(posts, "265953402234748928")
    assert (own["kind"], own["ref_post_id"], own["ref_account_id"]) == (
        "repost",
        "265953285247209472",
        "39364684",
    )
    # Same user at the same time under two tree parents: one repost, and its author is the root's.
    derived = posts.filter(pl.col("account_id") == "18513522").row(0, named=True)
    assert derived["post_id"].startswith("t1516:") and derived["ref_account_id"] == "39364684"
    # The twitter16 cascade lists a repost before its ROOT row: the root author is still found.
    early = posts.filter(pl.col("account_id") == "3021049871").row(0, named=True)
    assert (early["ref_post_id"], early["ref_account_id"]) == ("663744139666804736", "2196201139")
    assert case.read("account_labels").height == 0  # veracity is not a bot label


# -- cresci-timelines ------------------------------------------------------------------------------


def test_cresci_timelines_reposts_share_ids(tmp_path):
    _, case = _case(tmp_path, FIXTURES / "cresci-timelines", format="cresci-timelines")
    posts = case.read("posts")
    a, b = _post(posts, "299517900690178049"), _post(posts, "280813082824032256")
    # Two accounts retweeting one text (handle case and spacing differ): one reposted post.
    assert a["kind"] == b["kind"] == "repost"
    assert (
        a["ref_post_id"]
        == b["ref_post_id"]
        == repost_of_text(
            "RT @hanavoi: che poi, sono le stesse che l'8 marzo vanno a vedere gli spogliarelli."
        )[0]
    )
    assert a["ref_account_id"] == "@hanavoi"
    original = _post(posts, "288748420057931777")
    assert original["kind"] == "original" and original["hashtags"] == ["diet"]
    assert original["created_at"] == _ms(2013, 1, 8, 20, 46, 2)
    assert _post(posts, "299516454758412289")["mentions"] == ["manuelamodica", "youtube"]


# -- bad records and bad files ---------------------------------------------------------------------

IO_HEADER = (
    "tweetid,userid,user_display_name,user_screen_name,user_reported_location,user_profile_description,"
    "user_profile_url,follower_count,following_count,account_creation_date,account_language,tweet_language,"
    "tweet_text,tweet_time,tweet_client_name,in_reply_to_userid,in_reply_to_tweetid,quoted_tweet_tweetid,"
    "is_retweet,retweet_userid,retweet_tweetid,latitude,longitude,quote_count,reply_count,like_count,"
    "retweet_count,hashtags,urls,user_mentions,poll_choices\n"
)
IO_ROW = (
    "1,u1,U,u,,,,{followers},2,2014-01-01,en,en,hi,{when},Web,,,,False,,,absent,absent,0,0,0,0,[],[],[],\n"
)

BAD_FILES = {
    "io-archive": (
        IO_HEADER
        + IO_ROW.format(followers=1, when="2016-01-01 12:34")
        + IO_ROW.format(followers=1, when="last tuesday")
        + IO_ROW.format(followers="many", when="2016-01-01 12:34")
        + "1,u1,U\n",
        [(3, "bad date 'last tuesday'"), (4, "bad count 'many'"), (5, "fewer fields than the header")],
    ),
    "ira-538": (
        "author_id,content,region,language,publish_date,harvested_date,following,followers,updates,post_type,retweet\n"
        "a,hello,Unknown,English,2017-09-07 19:52:00,2017-09-07 19:52:00,1,2,3,,0\n"
        "a,hello,Unknown,English,09/07/2017 7pm,2017-09-07 19:52:00,1,2,3,,0\n"
        "a,hello,Unknown,English,2017-09-07 19:53:00,2017-09-07 19:53:00,one,2,3,,0\n"
        "a,hello,Unknown,English,2017-09-07 19:54:00,2017-09-07 19:54:00,1,2,3,,0,extra\n"
        "a,caf\xe9,Unknown,English,2017-09-07 19:55:00,2017-09-07 19:55:00,1,2,3,,0\n",
        [
            (3, "bad date '09/07/2017 7pm'"),
            (4, "bad count 'one'"),
            (5, "1 more fields than the header"),
            (6, "undecodable bytes"),
        ],
    ),
    "qut": (
        "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
        "1,11,a,,,hi,1600000000,\n"
        "2,11,a,,,hi,yesterday,\n"
        "3,11,a,,,hi,-5,\n"
        ",11,a,,,hi,1600000000,\n",
        [(3, "bad date 'yesterday'"), (4, "bad date '-5'"), (5, "empty message_id")],
    ),
    "coortweet": (
        "object_id,account_id,content_id,timestamp_share\no1,a1,c1,1623881091.0\no1,a2,c2,soon\no1,,c3,1623881091.0\n",
        [(3, "bad date 'soon'"), (4, "empty account_id")],
    ),
    "crowdtangle": (
        '"id","expanded","date","account.id","account.platform","account.subscriberCount"\n'
        "1,http://x.example,2017-01-13 21:41:10,10,Facebook,5\n"
        "2,http://x.example,13th of January,10,Facebook,5\n"
        "3,http://x.example,2017-01-13 21:41:10,10,Facebook,lots\n"
        "4,http://x.example,2017-01-13 21:41:10,NA,Facebook,5\n",
        [
            (3, "bad date '13th of January'"),
            (4, "bad count 'lots'"),
            (5, "empty id/platformId or account.id"),
        ],
    ),
    "twitter15-16": (
        "dataset,source_tweet_id,veracity_label,parent_uid,parent_tweet_id,parent_delay_min,child_uid,"
        "child_tweet_id,child_delay_min,child_time_ms_est\n"
        "twitter15,5,false,ROOT,ROOT,0.0,7,5,0.0,1352243179033\n"
        "twitter15,5,false,7,5,0.0,8,5,0.4,about noon\n"
        "twitter15,5,false,7,5,0.0,9,five,0.4,1352243179033\n",
        [(3, "bad child_time_ms_est 'about noon'"), (4, "expected numeric ids")],
    ),
    "cresci-timelines": (
        "user_id,tid,time,tweet\n"
        "1,2,Thu Feb 07 14:00:06 +0000 2013,hi\n"
        "1,3,Feb 7th 2013,hi\n"
        "x,4,Thu Feb 07 14:00:06 +0000 2013,hi\n",
        [(3, "bad date 'Feb 7th 2013'"), (4, "bad tid or user_id")],
    ),
    "ira-538-authors": (
        "author_id,author,external_author_id,account_type,account_category\nA,A,1,Right,RightTroll\n,,2,Left,\n",
        [(3, "empty author_id or account_category")],
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_records_are_quarantined_with_reasons(tmp_path, name):
    content, expected = BAD_FILES[name]
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode("utf-8", "surrogateescape").replace("caf\xe9".encode(), b"caf\xe9"))
    report, case = _case(tmp_path, path, format=name)
    f = report.files[0]
    assert report.reconciles and f.units_quarantined == f.quarantined == len(expected)
    quarantine = case.read("quarantine").sort("line")
    assert quarantine["line"].to_list() == [line for line, _ in expected]
    for reason, (_, fragment) in zip(quarantine["reason"].to_list(), expected, strict=True):
        assert fragment in reason
    assert quarantine["raw"].null_count() == 0
    if name == "ira-538":  # the raw text keeps the surplus field and the undecodable byte, escaped
        assert quarantine["raw"][2].endswith(",,0,extra") and "caf\\xe9" in quarantine["raw"][3]
    assert sum(f.emitted.values()) > 0  # the good row still made it


REQUIRED = {
    "io-archive": ("tweetid,userid,tweet_text\n1,2,hi\n", "tweet_time"),
    "ira-538": ("author,content,harvested_date\na,hi,2017-01-01 00:00:00\n", "publish_date"),
    "ira-538-authors": ("author_id,account_type\na,Right\n", "account_category"),
    "qut": ("message_id,user_id,username,message,timestamp,urls\n1,2,a,hi,1,\n", "repost_id, reply_id"),
    "coortweet": ("object_id,account_id,content_id\no,a,c\n", "timestamp_share"),
    "crowdtangle": ("id,account.id,date\n1,2,2017-01-01\n", "expanded"),
    "twitter15-16": ("dataset,source_tweet_id,parent_uid,child_uid\nt,1,ROOT,2\n", "child_tweet_id"),
    "cresci-timelines": ("user_id,tid,tweet\n1,2,hi\n", "time"),
}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_missing_required_column_is_one_clear_error(tmp_path, name):
    content, missing = REQUIRED[name]
    path = tmp_path / "short.csv"
    path.write_text(content)
    with pytest.raises(InputFormatError) as info:
        ingest([path], tmp_path / "case", format=name)
    message = str(info.value)
    assert "short.csv" in message and missing in message and f"--format {name}" in message


def test_strict_stops_at_the_first_bad_row(tmp_path):
    content, _ = BAD_FILES["qut"]
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(BadRecordError, match=r"bad.csv, line 3: ValueError: bad date 'yesterday'"):
        ingest([path], tmp_path / "case", format="qut", strict=True)


def test_readers_refuse_json_and_mediacloud_csv(shared, tmp_path):
    names = [n for n in CSV_READERS if n != "cresci-timelines"]
    json_file = FIXTURES / "twitter-v1" / "stream_sample.jsonl"
    mediacloud = shared("formats", "crowdtangle-coornet", "telesurenglish2017-1000.csv")
    for path in (json_file, mediacloud):
        head = Source(path=path, dataset="x").head()
        assert [n for n in names if readers()[n].sniff(head, path)] == [], path


# -- real data (bounded slices of the big files) ---------------------------------------------------


def _slice(path, out, lines: int, opener=lzma.open):
    with (
        opener(path, "rt", encoding="utf-8", newline="") as src,
        open(out, "w", encoding="utf-8", newline="") as dst,
    ):
        for i, line in enumerate(src):
            if i >= lines:
                break
            dst.write(line)
    return out


def test_real_ira_538_slice(shared, tmp_path):
    path = shared("io", "ira-538", "IRAhandle_tweets_by_author_concat.csv.xz")
    sliced = _slice(path, tmp_path / "IRAhandle_tweets_by_author_concat.csv", 5001)
    report, case = _case(tmp_path, sliced)
    f = report.files[0]
    assert (f.reader, f.quarantined, f.emitted["posts"]) == ("ira-538", 0, 5000)
    # 4,998 distinct (author, minute, type, text): two rows repeat exactly and are duplicates.
    assert f.stored["posts"] == 4998 and report.reconciles
    posts = case.read("posts")
    assert posts.group_by("kind").len().sort("kind").rows() == [
        ("original", 1582),
        ("quote", 160),
        ("repost", 3256),
    ]
    assert posts["account_id"].n_unique() == 8
    assert posts.filter(pl.col("kind") == "repost")["ref_post_id"].null_count() == 0
    assert posts.filter(pl.col("kind") == "quote")["ref_post_id"].null_count() == 160
    gop = case.read("accounts").filter(pl.col("account_id") == "10_gop").row(0, named=True)
    assert (gop["following"], gop["followers"], gop["posts_count"]) == (1074, 10462, 352)
    assert gop["probed_at"] == _ms(2017, 10, 15, 23, 34)
    case.close()
    # authors.csv labels these accounts under the same ids (its handles are mixed case).
    _, case = _case(tmp_path, shared("io", "ira-538", "authors.csv"))
    labeled = set(case.read("account_labels")["account_id"])
    assert set(case.read("posts")["account_id"]) <= labeled


def test_real_ira_538_authors(shared, tmp_path):
    report, case = _case(tmp_path, shared("io", "ira-538", "authors.csv"))
    assert report.files[0].reader == "ira-538-authors" and report.total("quarantined") == 0
    labels = case.read("account_labels")
    assert labels.height == 2856 and set(labels["label"]) == {"bot"}
    details = dict(labels.group_by("label_detail").len().iter_rows())
    assert (details["RightTroll"], details["LeftTroll"], details["NewsFeed"]) == (633, 234, 54)
    assert labels.filter(pl.col("account_id") == "1d_nicole_")["label_detail"].to_list() == ["Fearmonger"]


def test_real_coortweet(shared, tmp_path):
    russian_path = shared("io", "coortweet", "russian_coord_tweets.csv.gz")
    # The last 60,000 rows of german_elections: its Twitter part, where a post's rows lie far apart.
    with gzip.open(shared("io", "coortweet", "german_elections.csv.gz"), "rt", newline="") as src:
        header = next(src)
        tail = deque(src, maxlen=60_000)
    german_path = tmp_path / "german_elections_tail.csv"
    german_path.write_text(header + "".join(tail))
    report, case = _case(tmp_path, russian_path, german_path)
    russian, german = report.files
    # 35,125 rows: 35,085 contents, 39 of which reference a second object; one row repeats exactly.
    assert (russian.units_read, russian.duplicate_units, russian.quarantined) == (35125, 1, 0)
    assert (russian.emitted["posts"], russian.stored["posts"], russian.in_run_duplicates) == (35124, 35124, 1)
    # 60,000 rows of 43,363 Twitter posts; 12,501 posts have rows that are not adjacent. 16,351
    # rows repeat an earlier row exactly; 286 add a further trace to their post.
    assert (german.units_read, german.units_used, german.units_other) == (
        60000,
        43363,
        {"duplicate": 16351, "merged": 286},
    )
    assert (german.emitted["posts"], german.stored["posts"], german.quarantined) == (43363, 43363, 0)
    assert report.reconciles
    posts = case.read("posts")
    assert set(posts.filter(pl.col("dataset") == "german_elections_tail")["platform"]) == {"twitter"}
    # Post 104018 has 8 rows spread over ~22,000 rows, no one of them carrying all its traces.
    merged = _post(posts, "104018")
    assert merged["hashtags"] == ["47838"] and sorted(merged["media_hashes"]) == ["17654", "36568"]


def test_real_coortweet_german_elections_whole(shared, tmp_path):
    report, _ = _case(tmp_path, shared("io", "coortweet", "german_elections.csv.gz"))
    f = report.files[0]
    # 218,971 rows: 24,177 exact repeats of an earlier row, 468 further traces of a post, three
    # without a post id; the other 194,323 each open a post, stored once.
    assert report.reconciles and f.units_read == 218_971
    assert (f.units_used, f.units_quarantined, f.units_other) == (
        194_323,
        3,
        {"duplicate": 24_177, "merged": 468},
    )
    assert (f.emitted["posts"], f.stored["posts"], f.in_run_duplicates) == (194_323, 194_323, 24_177)


@pytest.mark.parametrize(
    ("name", "rows", "posts", "accounts"),
    [
        ("ct_shares.csv", 1684, 1058, 407),
        ("ct_shares_marked.csv", 772, 744, 664),
        ("sample_ct_out.csv", 25, 25, 24),
    ],
)
def test_real_crowdtangle(shared, tmp_path, name, rows, posts, accounts):
    report, case = _case(tmp_path, shared("formats", "crowdtangle-coornet", name))
    f = report.files[0]
    assert f.reader == "crowdtangle" and f.quarantined == 0 and report.reconciles
    assert (f.stored["posts"], f.stored["accounts"]) == (posts, accounts)
    stored = case.read("posts")
    assert stored["urls"].list.len().sum() >= posts and set(stored["platform"]) == {"facebook"}


def test_real_twitter15_16_slice(shared, tmp_path):
    path = shared("io", "twitter15-16", "cascade_edges_flat.csv.gz")
    sliced = _slice(path, tmp_path / "cascades.csv", 20001, opener=gzip.open)
    report, case = _case(tmp_path, sliced)
    f = report.files[0]
    assert (f.emitted["posts"], f.quarantined) == (20000, 0)
    # 56 roots + 2,069 distinct own-id children + 17,200 distinct (source, user, time) reposts.
    assert f.stored["posts"] == 56 + 2069 + 17200
    posts = case.read("posts")
    assert posts.filter(pl.col("kind") == "original").height == 56
    assert posts.filter(pl.col("kind") == "repost")["ref_account_id"].null_count() == 0


def test_real_cresci_2015_slice(shared, tmp_path):
    path = shared("io", "cresci-2015", "fake_followers_timelines.csv.xz")
    sliced = _slice(path, tmp_path / "fake_followers_timelines.csv", 2001)
    report, case = _case(tmp_path, sliced, format="cresci-timelines")
    assert report.files[0].emitted["posts"] == 2000 and report.total("quarantined") == 0
    posts = case.read("posts")
    first = _post(posts, "288748420057931777")
    assert first["account_id"] == "100219528" and first["urls"] == ["http://t.co/OvKnWZep"]
    reposts = posts.filter(pl.col("kind") == "repost")
    assert reposts.height == posts.filter(pl.col("text").str.starts_with("RT @")).height
    assert reposts["ref_account_id"].str.starts_with("@").all()


def test_io_archive_reads_x_api_account_creation_dates(tmp_path):
    # Some io-archive releases write account_creation_date as the X API does; these rows were
    # all quarantined before every reader shared one date parser.
    row = IO_ROW.format(followers=1, when="2016-01-01 12:34").replace(
        ",2014-01-01,", ",Tue Oct 07 19:55:59 +0000 2014,"
    )
    path = tmp_path / "tweets.csv"
    path.write_text(IO_HEADER + row)
    report = ingest([path], tmp_path / "case", format="io-archive")
    assert report.reconciles and report.total("quarantined") == 0
    created = open_case(tmp_path / "case").read("accounts").drop_nulls("created_at")["created_at"][0]
    assert int(created.timestamp() * 1000) == parse_date_ms("2014-10-07T19:55:59Z")
