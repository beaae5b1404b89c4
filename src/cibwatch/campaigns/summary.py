"""Flat per-account and per-campaign tables for CSV export (accounts.csv, campaigns.csv of `scan`)."""

from __future__ import annotations

import polars as pl

from cibwatch.schema import TIER_RANK
from cibwatch.store.case import Case

ACCOUNT_COLUMNS = (
    "account_id", "screen_name", "bot_score", "bot_label", "coordination_score", "coordination_status",
    "cluster_id", "campaign_id", "recommendation", "reasons",
)  # fmt: skip


def accounts_summary(case: Case) -> pl.DataFrame:
    """One row per account with a bot score, a coordination row or a recommendation.

    Columns are ``ACCOUNT_COLUMNS``; ``recommendation`` is the tier (``none`` when the account has no
    recommendation row). Highest tier first, then by bot and coordination score.

    >>> accounts_summary(open_case("out/case")).write_csv("out/accounts.csv")   # doctest: +SKIP
    """
    bots = (
        case.scan("bot_scores")
        .sort("bot_score", descending=True, nulls_last=True)
        .unique(subset="account_id", keep="first")
        .select("account_id", pl.col("screen_name").alias("sn_bot"), "bot_score", "bot_label")
    )
    coord_columns = case.scan("coord_accounts").collect_schema().names()
    # The stage's account decision: coordinated, crowd or weak (none for tables made without it).
    status = pl.col("status") if "status" in coord_columns else pl.lit(None, pl.String)
    coord = (
        case.scan("coord_accounts")
        .unique(subset="account_id", keep="first")
        .select(
            "account_id",
            pl.col("screen_name").alias("sn_coord"),
            "coordination_score",
            status.alias("coordination_status"),
            "cluster_id",
        )
    )
    recs = case.scan("recommendations").select(
        "account_id", pl.col("screen_name").alias("sn_rec"), "campaign_id", "tier", "reasons", "priority"
    )
    ids = pl.concat([f.select("account_id") for f in (bots, coord, recs)]).unique()
    out = (
        ids.join(bots, on="account_id", how="left")
        .join(coord, on="account_id", how="left")
        .join(recs, on="account_id", how="left")
        .with_columns(
            screen_name=pl.coalesce("sn_rec", "sn_coord", "sn_bot"),
            recommendation=pl.col("tier").fill_null("none"),
            reasons=pl.col("reasons").fill_null("none: no signal"),
        )
        .with_columns(
            _rank=pl.col("recommendation").replace_strict(TIER_RANK, default=0, return_dtype=pl.Int64)
        )
        .sort(
            ["_rank", "priority", "bot_score", "coordination_score", "account_id"],
            descending=[True, True, True, True, False],
            nulls_last=True,
        )
        .select(ACCOUNT_COLUMNS)
    )
    return out.collect()


def campaigns_summary(case: Case) -> pl.DataFrame:
    """The campaigns table without its JSON ``details``, most suspicious first."""
    return (
        case.read("campaigns")
        .drop("details")
        .sort("suspicion_score", "campaign_id", descending=[True, False])
    )
