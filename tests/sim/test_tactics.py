"""Every tactic and trap is planted, with truth, and leaves the trace it is meant to leave."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cibwatch.sim import TACTICS
from cibwatch.sim.scenarios import get_scenario
from tests.sim.conftest import posts_with_truth

OPERATIONS = [n for n, t in TACTICS.items() if t.kind == "operation"]
TRAPS = [n for n, t in TACTICS.items() if t.kind == "trap"]


def test_the_demo_mixes_every_tactic_and_trap():
    planted = {name for name, _ in get_scenario("demo").tactics}
    assert planted == set(TACTICS)
    assert len(OPERATIONS) >= 8 and len(TRAPS) >= 5


@pytest.mark.parametrize("name", OPERATIONS)
def test_operation_accounts_are_in_the_truth_and_post(v1_world, name):
    truth = v1_world["truth"].filter(pl.col("tactic") == name)
    assert truth.height >= 3
    assert truth["role"].is_in(["organic", "organic-trap"]).sum() == 0
    assert truth["campaign_id"].n_unique() == 1 and truth["campaign_id"][0].startswith("op")
    posted = set(v1_world["posts"]["account_id"])
    assert set(truth["account_id"]) <= posted


@pytest.mark.parametrize("name", TRAPS)
def test_trap_accounts_are_marked_organic(v1_world, name):
    truth = v1_world["truth"].filter(pl.col("tactic") == name)
    assert truth.height >= 3
    assert set(truth["role"]) == {"organic-trap"}


def test_truth_campaigns_lists_everything(v1_world):
    campaigns = pl.read_csv(v1_world["out"] / "truth_campaigns.csv")
    assert set(campaigns["tactic"]) == set(TACTICS)
    assert (campaigns["n_accounts"] >= 3).all()
    assert set(campaigns["kind"]) == {"operation", "trap"}


def _of(world: dict, tactic: str) -> pl.DataFrame:
    return posts_with_truth(world).filter(pl.col("tactic") == tactic)


def _delays_to_ref(world: dict, posts: pl.DataFrame) -> np.ndarray:
    refs = world["posts"].select(pl.col("post_id").alias("ref_post_id"), pl.col("created_at").alias("ref_at"))
    joined = posts.join(refs, on="ref_post_id")
    return (joined["created_at"] - joined["ref_at"]).dt.total_seconds().to_numpy()


def test_repost_ring_reposts_within_minutes(v1_world):
    reposts = _of(v1_world, "repost_ring").filter(
        (pl.col("kind") == "repost")
        & pl.col("ref_account_id").is_in(_of(v1_world, "repost_ring")["account_id"].implode())
    )
    assert reposts.height > 100
    assert np.median(_delays_to_ref(v1_world, reposts)) < 300


def test_fan_reposts_are_fast_too(v1_world):
    fans = _of(v1_world, "fan_community").filter(pl.col("kind") == "repost")
    assert fans.height > 100
    assert np.median(_delays_to_ref(v1_world, fans)) < 600  # as fast as a ring: a genuine trap


def test_copy_paste_shares_text_up_to_small_variations(v1_world):
    posts = _of(v1_world, "copy_paste").filter(pl.col("hashtags").list.len() > 0)
    core = posts.with_columns(
        core=pl.col("text")
        .str.to_lowercase()
        .str.extract(r"(the [a-z ]+ (?:is|lied|wants|covered|will|sold)[a-z' ]+)")
    )
    shared = core.drop_nulls("core").group_by("core").agg(pl.col("account_id").n_unique().alias("n"))
    assert shared["n"].max() >= 5
    assert core["text"].n_unique() > 0.5 * core.height  # variations, not only exact copies


def test_sleepers_were_created_in_one_batch(v1_world):
    accounts = (
        v1_world["accounts"].join(v1_world["truth"], on="account_id").filter(pl.col("tactic") == "sleeper")
    )
    span = (accounts["created_at"].max() - accounts["created_at"].min()).total_seconds()
    assert span <= 36 * 3600
    first_post = _of(v1_world, "sleeper")["created_at"].min()
    start = v1_world["posts"]["created_at"].min()
    assert (first_post - start).total_seconds() > 86400  # dormant at first


def test_link_farm_and_state_media_push_few_domains(v1_world):
    farm = _of(v1_world, "link_farm").explode("urls").drop_nulls("urls")
    domains = farm["urls"].str.extract(r"https://([^/]+)/").value_counts().sort("count", descending=True)
    assert domains["count"].head(3).sum() > 0.8 * farm.height
    media = (
        _of(v1_world, "state_media").filter(pl.col("kind") == "original").explode("urls").drop_nulls("urls")
    )
    assert media["urls"].str.contains("globalfrontpress.com").mean() > 0.5
    profiles = (
        v1_world["accounts"]
        .join(v1_world["truth"], on="account_id")
        .filter(pl.col("tactic") == "state_media")
    )
    assert profiles["description"].str.contains("local news").all()


def test_cyborgs_mix_human_posting_and_bursts(v1_world):
    posts = _of(v1_world, "cyborg").sort("account_id", "created_at")
    gaps = posts.with_columns(gap=pl.col("created_at").diff().dt.total_seconds().over("account_id"))
    burst = gaps.filter(pl.col("gap").is_between(50, 70))
    assert burst.height > 20
    assert burst["source_app"].is_in(["Hootsuite Inc.", "TweetDeck"]).mean() > 0.8
    assert (
        posts.filter(~pl.col("source_app").is_in(["Hootsuite Inc.", "TweetDeck"])).height > burst.height / 3
    )


def test_hashtag_hijack_uses_the_activists_hashtag(v1_world):
    hijack = set(_of(v1_world, "hashtag_hijack").explode("hashtags")["hashtags"].drop_nulls())
    activists = set(_of(v1_world, "activist_campaign").explode("hashtags")["hashtags"].drop_nulls())
    assert "FundOurSchools" in hijack & activists


def test_wire_story_outlets_post_identical_text(v1_world):
    headline = pl.col("text").str.replace(r" https://t\.co/\w+$", "")
    wire = _of(v1_world, "wire_story").group_by(headline).agg(pl.col("account_id").n_unique().alias("n"))
    assert wire["n"].max() >= 4


def test_real_users_repost_an_operation_once_or_twice(v1_world):
    amplified = _of(v1_world, "op_amplified")
    op_accounts = v1_world["truth"].filter(~pl.col("role").str.starts_with("organic"))["account_id"]
    of_ops = amplified.filter(pl.col("ref_account_id").is_in(op_accounts.implode()))
    # Once or twice on purpose; now and then more through ordinary cascades of the bots' filler posts.
    per_account = of_ops.group_by("account_id").len()["len"]
    assert per_account.min() >= 1 and per_account.median() <= 2
    assert of_ops["account_id"].n_unique() == amplified["account_id"].n_unique()


def test_handles_and_ids_are_unique_across_organic_and_planted_accounts(v1_world):
    truth = v1_world["truth"]
    assert truth["account_id"].n_unique() == truth.height
    assert truth["screen_name"].str.to_lowercase().n_unique() == truth.height
