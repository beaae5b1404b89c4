"""Posts whose text the source did not keep say nothing about links, hashtags or mentions."""

from __future__ import annotations

import math

import polars as pl

from cibwatch.bots.features import behaviour_features


def test_rates_are_missing_not_zero_without_text():
    posts = pl.DataFrame(
        {
            "account_id": ["edges-only"] * 3 + ["tweets"] * 2,
            "created_at": [1000, 5000, 9000, 1000, 2000],
            "kind": ["repost"] * 3 + ["original"] * 2,
            "text": [None, None, None, "hi #x", "yo"],
            "hashtags": [[], [], [], ["x"], []],
        },
        schema_overrides={"text": pl.String},
    )
    rows = {r["account_id"]: r for r in behaviour_features(posts).to_dicts()}
    for name in ("hashtag_rate", "url_rate", "mention_rate"):
        assert math.isnan(rows["edges-only"][name]), name
    assert rows["edges-only"]["repost_rate"] == 1.0  # the kind is known even without text
    assert rows["tweets"]["hashtag_rate"] == 0.5
    assert rows["tweets"]["url_rate"] == 0.0


def test_timelines_without_text_get_no_behaviour_opinion():
    from cibwatch.bots import score

    n = 30
    posts = pl.DataFrame(
        {
            "account_id": ["edges"] * n + ["tweets"] * n,
            "created_at": [i * 3_600_000 for i in range(n)] * 2,
            "kind": ["repost"] * (2 * n),
            "text": [None] * n + [f"post number {i} about the weather" for i in range(n)],
        },
        schema_overrides={"text": pl.String},
    )
    accounts = [{"account_id": "edges"}, {"account_id": "tweets"}]
    out = {r["account_id"]: r for r in score(accounts, posts=posts).to_dicts()}
    # No profile and no text: nothing to score on, and the output says so.
    assert out["edges"]["bot_score"] is None and out["edges"]["head"] is None
    assert "too few posts" in out["edges"]["input_flags"]
    assert out["tweets"]["head"] == "profile+behaviour" and out["tweets"]["bot_score"] is not None
