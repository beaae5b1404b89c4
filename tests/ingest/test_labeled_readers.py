from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from tests.conftest import FIXTURES


def _case(tmp_path, *inputs, **kwargs):
    report = ingest(list(inputs), tmp_path / "case", **kwargs)
    return report, open_case(tmp_path / "case")


def test_bot_repository_pair_and_varol_dat(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "bot-repository")
    assert report.reconciles and report.total("quarantined") == 0
    labels = case.read("account_labels").sort("dataset", "account_id")
    # Both files of a set land under the set's name, not the file's.
    assert set(case.read("accounts")["dataset"]) == {"sample-set"}
    varol = labels.filter(pl.col("dataset") == "sample-varol")
    assert varol["label"].to_list() == ["human", "bot", "bot"]  # 0/1, tab or space separated
    bot = case.read("accounts").filter(pl.col("account_id") == "1001").row(0, named=True)
    assert bot["probed_at"] == datetime(2019, 6, 5, 21, 43, 20, tzinfo=UTC)
    assert (bot["followers"], bot["posts_count"]) == (23, 3792)


def test_bot_repository_bad_line_is_quarantined(tmp_path):
    path = tmp_path / "broken.tsv"
    path.write_text("12\tbot\n99999999999999999999999 oops extra\n13\thuman\n")
    report, case = _case(tmp_path, path, format="bot-repository")
    assert report.files[0].quarantined == 1 and report.reconciles
    assert case.read("quarantine")["line"].to_list() == [2]


def test_cresci_label_from_set_name(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "cresci")
    assert report.reconciles and report.total("quarantined") == 0
    labels = dict(case.read("account_labels").select("dataset", "label").unique().iter_rows())
    assert labels == {
        "social_spambots_sample": "bot",
        "genuine_tweets_sample": "human",
        "fake_followers_timelines_sample": "bot",
    }
    anna = case.read("accounts").filter(pl.col("account_id") == "2001").row(0, named=True)
    assert anna["default_profile"] is True and anna["default_profile_image"] is None  # NULL stays missing
    assert anna["verified"] is False  # an empty field is the dump's false
    assert anna["probed_at"] == datetime(2014, 4, 19, 14, 46, 19, tzinfo=UTC)
    posts = case.read("posts").sort("post_id")
    assert posts["kind"].to_list() == ["repost", "original", "repost", "original"]
    assert posts.filter(pl.col("post_id") == "3001")["ref_post_id"].to_list() == ["2999"]


def test_cresci_dataset_option_names_the_set(tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes((FIXTURES / "cresci" / "social_spambots_sample.csv").read_bytes())
    _, case = _case(tmp_path, path, dataset="genuine_accounts")
    assert set(case.read("account_labels")["label"]) == {"human"}


def test_twibot_20_and_22(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "twibot")
    assert report.reconciles and report.total("quarantined") == 0
    accounts = case.read("accounts").sort("account_id")
    person = accounts.filter(pl.col("account_id") == "17461978").row(0, named=True)
    assert (person["screen_name"], person["followers"], person["verified"]) == ("sample_person", 1534, False)
    v2 = accounts.filter(pl.col("account_id") == "1500").row(0, named=True)
    assert v2["likes_count"] is None and v2["posts_count"] == 300  # v2 has no likes: missing, not 0
    labels = dict(case.read("account_labels").select("account_id", "label").iter_rows())
    assert labels == {"17461978": "human", "99": "bot", "1500": "bot"}
    assert case.read("posts")["kind"].sort().to_list() == ["original", "repost"]


def test_caverlee_and_kaggle(tmp_path):
    report, case = _case(tmp_path, FIXTURES / "caverlee-2011", FIXTURES / "kaggle-bot-2017")
    assert report.reconciles and report.total("quarantined") == 0
    labels = dict(case.read("account_labels").select("account_id", "label").iter_rows())
    assert labels["6301"] == "bot" and labels["614"] == "human"
    assert labels["3982731976"] == "bot" and labels["1111"] == "human"
    jane = case.read("accounts").filter(pl.col("account_id") == "1111").row(0, named=True)
    assert jane["created_at"] == datetime(2008, 5, 5, 20, 18, tzinfo=UTC)  # 'MM-DD-YYYY HH:MM'
    assert jane["probed_at"] is None  # no status, no crawl time
    quote_bot = case.read("accounts").filter(pl.col("account_id") == "3982731976").row(0, named=True)
    # The status's newest time, not its user's creation date written before it.
    assert quote_bot["probed_at"] == datetime(2017, 3, 13, 16, 5, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("folder", "accounts", "labels"),
    [("botwiki-2019", 698, 704), ("varol-2017", 0, 2573), ("gilani-2017", 2494, 2652)],
)
def test_bot_repository_real_sets(tmp_path, shared, folder, accounts, labels):
    report, _ = _case(tmp_path, shared("bots", folder))
    assert report.reconciles and report.total("quarantined") == 0
    assert sum(f.emitted["accounts"] for f in report.files) == accounts
    assert sum(f.emitted["account_labels"] for f in report.files) == labels


def test_cresci_real_users(tmp_path, shared):
    report, case = _case(tmp_path, shared("bots", "cresci-2017", "warproxxx_Twitter-Bot-or-Not"))
    assert report.total("quarantined") == 0
    counts = dict(case.read("account_labels").group_by("label").len().iter_rows())
    assert counts == {"human": 3474, "bot": 991 + 3457 + 464}
