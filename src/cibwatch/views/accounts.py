"""One row per account: its recommendation, bot score and coordination, in one order for every reader.

``scan``'s accounts.csv (``cibwatch.campaigns.accounts_summary``), the report's accounts table and
the API's ``/api/accounts`` all read these rows, so they cannot disagree on which row of a table
speaks for an account or on which account comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import polars as pl

from cibwatch.schema import TIER_RANK
from cibwatch.store.case import Case


@dataclass(frozen=True)
class AccountRow:
    """What the case says about one account. A field is None where its table has no row for it."""

    account_id: str
    screen_name: str | None  # the recommendation's, else coordination's, else the bot score's
    tier: str | None  # the recommendation's tier; None: no recommendation (ranked as "none")
    priority: float | None
    campaign_id: str | None
    reasons: str | None  # the recommendation's reasons
    bot_score: float | None
    bot_label: str | None
    bot_type: str | None
    bot_reasons: str | None  # ``bot_scores.top_reasons``
    coordination_score: float | None
    coordination_status: str | None  # coordinated | crowd | weak; None for coord tables made without it
    cluster_id: str | None


ACCOUNT_ROW_COLUMNS = tuple(f.name for f in fields(AccountRow))


def account_rows(case: Case) -> pl.DataFrame:
    """Every account with a recommendation, a bot score or a coordination row: ``ACCOUNT_ROW_COLUMNS``.

    Where a table has several rows for an account, the one with the highest priority (recommendations),
    bot score or coordination score speaks for it. Highest tier first (no recommendation ranks as
    ``none``), then highest priority, bot score and coordination score, then by account id.

    >>> account_rows(open_case("out/case")).head(3)   # doctest: +SKIP
    """
    rank = {"descending": True, "nulls_last": True}
    recs = (
        case.scan("recommendations")
        .with_columns(_tier_rank=_tier_rank(pl.col("tier")))
        # Ties between an account's recommendations are broken the same way every time.
        .sort(["priority", "_tier_rank", "campaign_id"], descending=[True, True, False], nulls_last=True)
        .unique("account_id", keep="first", maintain_order=True)
        .select(
            "account_id", pl.col("screen_name").alias("sn_rec"), "tier", "priority", "campaign_id", "reasons"
        )
    )
    bots = (
        case.scan("bot_scores")
        .sort("bot_score", **rank)
        .unique("account_id", keep="first", maintain_order=True)
        .select(
            "account_id",
            pl.col("screen_name").alias("sn_bot"),
            "bot_score",
            "bot_label",
            "bot_type",
            pl.col("top_reasons").alias("bot_reasons"),
        )
    )
    coord = case.scan("coord_accounts")
    # The stage's account decision; coord tables made before it have no status column.
    has_status = "status" in coord.collect_schema().names()
    coord = (
        coord.sort("coordination_score", **rank)
        .unique("account_id", keep="first", maintain_order=True)
        .select(
            "account_id",
            pl.col("screen_name").alias("sn_coord"),
            "coordination_score",
            (pl.col("status") if has_status else pl.lit(None, pl.String)).alias("coordination_status"),
            "cluster_id",
        )
    )
    ids = pl.concat([frame.select("account_id") for frame in (recs, bots, coord)]).unique()
    return (
        ids.join(recs, on="account_id", how="left")
        .join(bots, on="account_id", how="left")
        .join(coord, on="account_id", how="left")
        .with_columns(screen_name=pl.coalesce("sn_rec", "sn_coord", "sn_bot"))
        .sort(
            [_tier_rank(pl.col("tier")), "priority", "bot_score", "coordination_score", "account_id"],
            descending=[True, True, True, True, False],
            nulls_last=True,
        )
        .select(ACCOUNT_ROW_COLUMNS)
        .collect()
    )


def accounts(rows: pl.DataFrame) -> list[AccountRow]:
    """Frame rows of ``account_rows`` (or a slice of it) as typed records.

    >>> accounts(account_rows(case).head(10))[0].tier   # doctest: +SKIP
    'enforce-eligible'
    """
    return [AccountRow(**row) for row in rows.select(ACCOUNT_ROW_COLUMNS).iter_rows(named=True)]


def _tier_rank(tier: pl.Expr) -> pl.Expr:
    # Without a recommendation an account is tier "none"; a tier the policy does not know ranks so too.
    return tier.fill_null("none").replace_strict(TIER_RANK, default=TIER_RANK["none"], return_dtype=pl.Int64)
