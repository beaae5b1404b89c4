from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from cibwatch.bots.features import (
    PROFILE_FEATURES,
    ScreenNameModel,
    behaviour_features,
    counts_without_rates,
    profile_features,
)

DAY = 86_400_000
PROBE = 1_560_000_000_000


def _one(**fields):
    base = {"account_id": "1", "probed_at": PROBE}
    return profile_features(pl.DataFrame([{**base, **fields}])).row(0, named=True)


def test_profile_features_by_hand():
    row = _one(
        screen_name="anna_1987",
        name="Anna 2",
        description="hello",
        created_at=PROBE - 100 * DAY,
        followers=50,
        following=200,
        posts_count=3120,
        likes_count=10,
        listed_count=0,
        default_profile=True,
    )
    assert row["age_days"] == 100
    assert row["posts_per_day"] == pytest.approx(31.2)
    assert row["followers_per_day"] == pytest.approx(0.5)
    assert row["follower_ratio"] == pytest.approx(0.25)
    assert (row["screen_name_length"], row["screen_name_digits"]) == (9, 4)
    assert (row["name_length"], row["name_digits"]) == (6, 1)
    assert row["description_length"] == 5
    assert row["default_profile"] == 1.0
    assert row["follower_ratio"] == 50 / 200


def test_missing_is_nan_not_zero():
    # An X API v2 profile: no likes, no profile flags, no probe time.
    row = profile_features(
        pl.DataFrame({"account_id": ["2"], "followers": [10], "following": [0], "posts_count": [5]})
    ).row(0, named=True)
    for name in ("likes_count", "likes_per_day", "default_profile", "age_days", "posts_per_day"):
        assert math.isnan(row[name]), name
    assert row["follower_ratio"] == 10.0  # following 0 is a real zero: divide by max(following, 1)
    assert row["description_length"] == 0.0  # a profile without a bio has an empty one


def test_impossible_values_are_missing_and_flagged():
    row = _one(followers=-5, following=3, created_at=PROBE + 400 * DAY)
    assert math.isnan(row["followers"]) and math.isnan(row["age_days"])
    assert row["following"] == 3
    assert "followers is negative (-5)" in row["input_flags"]
    assert "created_at is after the profile was seen" in row["input_flags"]
    assert _one(followers=1)["input_flags"] is None


@pytest.mark.parametrize(
    ("fields", "declared"),
    [
        ({"screen_name": "quote_bot"}, 1.0),
        ({"screen_name": "QuoteBot"}, 1.0),
        ({"screen_name": "WWE_Network_Bot"}, 1.0),
        ({"screen_name": "bots_of_rome"}, 1.0),
        ({"screen_name": "anna", "name": "Weather Bot"}, 1.0),
        ({"screen_name": "anna", "description": "I am a bot. I post the tide every hour."}, 1.0),
        # Names that merely contain the letters: a surname, a country, a word.
        ({"screen_name": "JaneTalbot"}, 0.0),
        ({"screen_name": "Abbott", "name": "Botswana News"}, 0.0),
        ({"screen_name": "anna", "description": "I build robots and collect bottles"}, 0.0),
        # A source without names or bios (caverlee-2011) cannot say: missing, not 0.
        ({"followers": 3}, math.nan),
    ],
)
def test_self_declared_bot(fields, declared):
    value = _one(**fields)["self_declared_bot"]
    assert math.isnan(value) if math.isnan(declared) else value == declared


def test_counts_are_read_only_where_their_rate_is_unknown():
    frame = profile_features(
        pl.DataFrame(
            {
                "account_id": ["probed", "unprobed"],
                "created_at": [PROBE - 100 * DAY, PROBE - 100 * DAY],
                "probed_at": [PROBE, None],
                "followers": [50, 50],
                "posts_count": [3120, 3120],
                "likes_count": [None, 7],
            }
        )
    )
    x = counts_without_rates(frame.select(PROFILE_FEATURES).to_numpy())
    probed, unprobed = (dict(zip(PROFILE_FEATURES, row, strict=True)) for row in x)
    assert math.isnan(probed["followers"]) and probed["followers_per_day"] == pytest.approx(0.5)
    assert math.isnan(probed["posts_count"]) and probed["posts_per_day"] == pytest.approx(31.2)
    assert (unprobed["followers"], unprobed["posts_count"], unprobed["likes_count"]) == (50, 3120, 7)
    assert math.isnan(unprobed["followers_per_day"])
    # Not a count: left alone.
    assert probed["follower_ratio"] == unprobed["follower_ratio"]
    assert frame["followers"].to_list() == [50, 50]  # the feature frame itself is not changed


def test_screen_name_model_prefers_human_like_handles():
    model = ScreenNameModel().fit(["anna_smith", "marco_rossi", "julia_meyer", "peter_anders"] * 5)
    readable, random, missing = model.log_likelihood(["anna_rossi", "xq7z9k2v0w", None])
    assert readable > random
    assert math.isnan(missing)
    again = ScreenNameModel.from_json(model.to_json()).log_likelihood(["anna_rossi"])
    assert again[0] == readable


def test_screen_name_model_must_be_fitted():
    from cibwatch.errors import ModelError

    with pytest.raises(ModelError, match="not fitted"):
        ScreenNameModel().log_likelihood(["x"])


def test_behaviour_features_by_hand():
    t0 = PROBE
    posts = pl.DataFrame(
        {
            "account_id": ["a"] * 4 + ["b"],
            "created_at": [t0, t0 + 1000, t0 + 2000, t0 + 3000, t0],
            "kind": ["original", "repost", "reply", "original", "original"],
            "text": ["Same text http://x.io", "same   TEXT", "other words here", "Same text 2", "solo"],
            "lang": ["en", "en", "it", None, None],
            "source_app": ["Web", "Web", "Android", "Web", None],
            "urls": [["http://x.io"], [], [], [], []],
            "hashtags": [[], ["t"], [], [], []],
            "mentions": [[], [], ["u"], [], []],
        }
    )
    feats = {r["account_id"]: r for r in behaviour_features(posts).iter_rows(named=True)}
    a = feats["a"]
    assert a["n_posts_seen"] == 4
    assert a["gap_cv"] == 0.0 and a["burstiness"] == -1.0  # perfectly regular: one post a second
    assert a["share_within_1s"] == 1.0
    assert (a["repost_rate"], a["reply_rate"], a["url_rate"], a["hashtag_rate"]) == (0.25, 0.25, 0.25, 0.25)
    # "Same text <link>" and "same TEXT" normalize alike; "Same text 2" only nearly.
    assert a["duplicate_share"] == 0.25
    assert a["near_duplicate_share"] == 0.5
    assert a["source_apps"] == 2.0
    assert a["top_language_share"] == pytest.approx(2 / 3)
    b = feats["b"]
    assert math.isnan(b["gap_cv"]) and math.isnan(b["source_apps"]) and math.isnan(b["top_language_share"])
    assert np.isfinite(b["lexical_diversity"])


def test_behaviour_features_do_not_depend_on_row_order():
    from tests.bots.conftest import synthetic_accounts, synthetic_posts

    posts = synthetic_posts(synthetic_accounts(30, seed=4), seed=4)
    a = behaviour_features(posts)
    b = behaviour_features(posts.sample(fraction=1.0, shuffle=True, seed=1))
    assert a["account_id"].to_list() == sorted(a["account_id"].to_list())
    assert a.equals(b)
