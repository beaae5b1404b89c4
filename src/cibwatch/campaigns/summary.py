"""Flat per-account and per-campaign tables for CSV export (accounts.csv, campaigns.csv of `scan`)."""

from __future__ import annotations

import polars as pl

from cibwatch import views
from cibwatch.store.case import Case

ACCOUNT_COLUMNS = (
    "account_id", "screen_name", "bot_score", "bot_label", "coordination_score", "coordination_status",
    "cluster_id", "campaign_id", "recommendation", "reasons",
)  # fmt: skip


def accounts_summary(case: Case) -> pl.DataFrame:
    """One row per account with a bot score, a coordination row or a recommendation.

    Columns are ``ACCOUNT_COLUMNS``; ``recommendation`` is the tier (``none`` when the account has no
    recommendation row). Rows and their order are ``cibwatch.views.account_rows``: highest tier first,
    then by priority, bot and coordination score.

    >>> accounts_summary(open_case("out/case")).write_csv("out/accounts.csv")   # doctest: +SKIP
    """
    return (
        views.account_rows(case)
        .with_columns(
            recommendation=pl.col("tier").fill_null("none"),
            reasons=pl.col("reasons").fill_null("none: no signal"),
        )
        .select(ACCOUNT_COLUMNS)
    )


def campaigns_summary(case: Case) -> pl.DataFrame:
    """The campaigns table without its JSON ``details``, most suspicious first."""
    return views.campaign_rows(case)
