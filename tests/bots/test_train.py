"""The training rules chosen for unseen collections: weights, out-of-collection calibration, thresholds."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from cibwatch.bots.data import LabeledSet
from cibwatch.bots.features import PROFILE_FEATURES, profile_features
from cibwatch.bots.model import Calibration, bot_labels
from cibwatch.bots.train import BotClassifier, group_weights, worst_case_threshold
from tests.bots.conftest import synthetic_accounts


def test_every_collection_weighs_the_same_whatever_its_number_of_files():
    # cresci-2017 comes as several files, caverlee-2011 as one much larger collection.
    datasets = ["social_spambots_1"] * 100 + ["social_spambots_2"] * 400 + ["content_polluters"] * 5000
    datasets += ["geniune_accounts"] * 300 + ["legitimate_users"] * 3000
    labels = ["bot"] * 5500 + ["human"] * 3300
    w = group_weights(pl.Series(datasets), pl.Series(labels))
    frame = pl.DataFrame({"d": datasets, "l": labels, "w": w})
    total = frame.group_by("d", "l").agg(pl.col("w").sum())
    per = {d: t for d, _, t in total.iter_rows()}
    # Each (collection, label) totals the same; inside cresci the files weigh sqrt(size).
    assert np.isclose(per["social_spambots_1"] + per["social_spambots_2"], per["content_polluters"])
    assert np.isclose(per["geniune_accounts"], per["legitimate_users"])
    assert np.isclose(per["social_spambots_2"] / per["social_spambots_1"], np.sqrt(400 / 100))
    # Both classes total the same.
    assert np.isclose(w[:5500].sum(), w[5500:].sum())


def test_the_threshold_holds_on_the_hardest_collection_not_on_the_pooled_humans():
    rng = np.random.default_rng(0)
    easy = rng.uniform(0.0, 0.5, 5000)  # a big collection of humans no model mistakes
    hard = rng.uniform(0.0, 1.0, 200)  # a small one of humans that look like bots
    score = np.concatenate([easy, hard])
    y = np.zeros(len(score))
    groups = np.array(["easy"] * 5000 + ["hard"] * 200, dtype=object)
    threshold = worst_case_threshold(score, y, groups, 0.02)
    assert (hard >= threshold).mean() <= 0.02 and threshold > 0.9
    # Pooled, the easy collection hides the hard one: 2% of the pooled humans is 104 accounts,
    # more than half of the hard collection's tail.
    pooled = worst_case_threshold(score, y, np.zeros(len(score), dtype=object), 0.02)
    assert (hard >= pooled).mean() > 0.2
    # A group with too few humans for a tail quantile does not set it.
    tiny = np.array(["easy"] * 5000 + ["tiny"] * 200, dtype=object)
    tiny[-160:] = "easy"
    assert worst_case_threshold(score, y, tiny, 0.02) < threshold


def test_calibration_keeps_every_distinction_the_margin_makes():
    rng = np.random.default_rng(1)
    margin = rng.normal(size=3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-2 * margin))).astype(float)
    cal = Calibration.fit(margin, y)
    p = cal(margin)
    assert cal.informative and len(np.unique(p)) == len(np.unique(margin))
    assert roc_auc_score(y, p) == roc_auc_score(y, margin)
    assert abs(cal.slope - 2) < 0.3 and abs(p.mean() - y.mean()) < 0.02


def test_margins_that_do_not_rank_give_the_base_rate_not_an_inverted_score():
    rng = np.random.default_rng(2)
    margin = rng.normal(size=2000)
    y = (margin < 0).astype(float)  # bots have the lower margins: the head has it backwards
    cal = Calibration.fit(margin, y)
    assert not cal.informative
    assert np.allclose(cal(margin), y.mean(), atol=1e-3)


def test_three_labels_at_the_two_thresholds():
    score = np.array([0.1, 0.69, 0.7, 0.89, 0.9, np.nan])
    assert bot_labels(score, 0.9, 0.7).tolist() == ["human", "human", "uncertain", "uncertain", "bot", None]


def test_calibration_and_thresholds_come_from_collections_the_model_did_not_see():
    accounts = synthetic_accounts(400, seed=11)
    model = (
        BotClassifier(n_estimators=30, n_jobs=1, random_state=0)
        .fit(LabeledSet(accounts=accounts, posts=pl.DataFrame()))
        .model_
    )
    metrics = model.card["metrics"]
    assert metrics["held_out_by"] == "collections"
    # The synthetic sets are six collections (three of bots, three of humans), each scored out.
    assert len(metrics["profile_held_out"]) == 6
    assert model.uncertain_threshold <= model.threshold
    assert "every collection" in model.card["threshold_rule"]
    # One collection holding both labels cannot be left out: mixed folds, and the card says so.
    one = accounts.with_columns(pl.lit("one-collection").alias("dataset"))
    single = (
        BotClassifier(n_estimators=30, n_jobs=1, random_state=0)
        .fit(LabeledSet(accounts=one, posts=pl.DataFrame()))
        .model_
    )
    assert single.card["metrics"]["held_out_by"] == "folds"
    assert "stratified folds" in single.card["calibration"]


def test_ratio_features_are_missing_where_a_total_is():
    frame = pl.DataFrame(
        {
            "account_id": ["v1", "v2"],
            "followers": [200, 200],
            "following": [100, 100],
            "posts_count": [50, 50],
            "likes_count": [1000, None],  # X API v2 has no likes total
            "listed_count": [4, 4],
        }
    )
    f = profile_features(frame)
    row = dict(zip(PROFILE_FEATURES, f.select(PROFILE_FEATURES).row(0), strict=True))
    assert row["likes_per_post"] == 20 and row["likes_per_follower"] == 5
    assert row["listed_per_follower"] == 0.02 and row["posts_per_follower"] == 0.25
    assert row["following_per_post"] == 2 and row["listed_per_post"] == 0.08
    v2 = dict(zip(PROFILE_FEATURES, f.select(PROFILE_FEATURES).row(1), strict=True))
    assert np.isnan(v2["likes_per_post"]) and np.isnan(v2["likes_per_follower"])
    assert v2["posts_per_follower"] == 0.25
