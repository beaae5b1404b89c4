"""Statistical properties of the organic world, with tolerances."""

from __future__ import annotations

import numpy as np
import polars as pl

from cibwatch.sim import events as ev
from cibwatch.sim.organic import HOUR_MS, OrganicEngine
from cibwatch.sim.world import build_organic
from tests.sim.conftest import posts_with_truth

START_MS = 1_709_510_400_000  # 2024-03-04T00:00Z


def _organic_posts(world: dict) -> pl.DataFrame:
    return posts_with_truth(world).filter(pl.col("role") == "organic")


def test_activity_is_heavy_tailed(v1_world):
    per_account = _organic_posts(v1_world).group_by("account_id").len()["len"].to_numpy()
    per_account = np.sort(per_account)[::-1]
    top_1pct = per_account[: max(1, len(per_account) // 100)].sum() / per_account.sum()
    # Log-normal with a Pareto tail: the busiest 1% write well over 1% of the posts, far from all.
    assert 0.06 < top_1pct < 0.6, top_1pct
    assert per_account.mean() > 1.5 * np.median(per_account)
    assert per_account.max() > 20 * np.median(per_account)


def test_circadian_rhythm_in_local_time():
    world = build_organic(np.random.default_rng(3), 3000, START_MS, 4)
    engine = OrganicEngine(world)
    batch, _ = engine.window(np.random.default_rng(4), START_MS, 96, 0)
    originals = batch.filter(pl.col("kind") == ev.ORIGINAL)
    tz_ms = world["tz_s"][originals["author"].to_numpy()] * 1000
    local_hour = ((originals["t"].to_numpy() + tz_ms) // HOUR_MS) % 24
    counts = np.bincount(local_hour, minlength=24).astype(float)
    night = counts[2:6].mean()
    evening = counts[18:22].mean()
    assert evening > 4 * night, (evening, night)
    # Not a step function: late-night activity exists.
    assert counts.min() > 0


def test_reposts_follow_popularity_with_heavy_tailed_cascades(v1_world):
    posts = _organic_posts(v1_world)
    reposts = posts.filter(pl.col("kind") == "repost")
    sizes = reposts.group_by("ref_post_id").len()["len"].to_numpy()
    assert len(sizes) > 300
    assert np.median(sizes) <= 3
    assert sizes.max() >= 30 * np.median(sizes)
    # Complementary CDF falls roughly as a power law between sizes 2 and 40.
    xs = np.array([2, 5, 10, 20, 40])
    ccdf = np.array([(sizes >= x).mean() for x in xs])
    assert (ccdf > 0).all()
    slope = np.polyfit(np.log(xs), np.log(ccdf), 1)[0]
    assert -3.0 < slope < -0.4, slope
    # Bigger audiences get bigger cascades.
    authors = v1_world["accounts"].select("account_id", "followers")
    cascades = (
        reposts.group_by("ref_post_id", "ref_account_id")
        .len()
        .join(authors, left_on="ref_account_id", right_on="account_id")
    )
    rho = np.corrcoef(np.log1p(cascades["followers"]), np.log1p(cascades["len"]))[0, 1]
    assert rho > 0.2, rho


def test_replies_form_conversations(v1_world):
    posts = v1_world["posts"]
    replies = posts.filter(pl.col("kind") == "reply")
    by_id = posts.select(pl.col("post_id").alias("ref_post_id"), pl.col("kind").alias("parent_kind"))
    parents = replies.join(by_id, on="ref_post_id", how="left")
    assert parents["parent_kind"].null_count() == 0
    # Some replies answer replies (the original author answering back).
    assert (parents["parent_kind"] == "reply").sum() > 0.1 * replies.height


def test_profiles_vary_like_real_ones(v1_world):
    accounts = v1_world["accounts"].join(v1_world["truth"], on="account_id")
    organic = accounts.filter(pl.col("role") == "organic")
    followers = organic["followers"].to_numpy()
    assert np.percentile(followers, 99) > 30 * np.median(followers)
    created_years = organic["created_at"].dt.year()
    assert created_years.min() <= 2012 and created_years.max() >= 2023
    assert 0.05 < organic["default_profile"].mean() < 0.6
    assert organic["description"].is_null().mean() > 0.05  # some people leave the bio empty
