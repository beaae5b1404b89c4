"""Campaigns as readers show them: the table most suspicious first, and one campaign with its members."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from cibwatch.schema import ROLE_RANK
from cibwatch.store.case import Case


@dataclass(frozen=True)
class CampaignRecord:
    """One campaign: its ``campaigns`` row (without ``details``), the parsed ``details`` and its members.

    ``members`` are ``campaign_members`` rows, core first, then amplifiers, then peripheral, each
    role strongest first.
    """

    campaign: dict[str, Any]
    details: dict[str, Any]
    members: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready record of ``GET /api/campaigns/{campaign_id}``."""
        return {"campaign": self.campaign, "details": self.details, "members": self.members}


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as dicts, NaN as None (NaN is not JSON)."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def campaign_rows(case: Case) -> pl.DataFrame:
    """The campaigns table without its JSON ``details``, most suspicious first."""
    return (
        case.read("campaigns")
        .drop("details")
        .sort("suspicion_score", "campaign_id", descending=[True, False])
    )


def campaign(case: Case, campaign_id: str) -> CampaignRecord | None:
    """The campaign ``campaign_id``, or None when the case has no such campaign.

    >>> record = campaign(open_case("out/case"), "camp-k1")   # doctest: +SKIP
    >>> [m["role"] for m in record.members][:2]              # doctest: +SKIP
    ['core', 'core']
    """
    found = case.scan("campaigns").filter(pl.col("campaign_id") == campaign_id).collect()
    if found.is_empty():
        return None
    members = (
        case.scan("campaign_members")
        .filter(pl.col("campaign_id") == campaign_id)
        .collect()
        .with_columns(
            _role=pl.col("role").replace_strict(ROLE_RANK, default=len(ROLE_RANK), return_dtype=pl.Int64)
        )
        .sort(["_role", "strength", "account_id"], descending=[False, True, False], nulls_last=True)
        .drop("_role")
    )
    text = found["details"][0]
    return CampaignRecord(
        campaign=records(found.drop("details"))[0],
        details=json.loads(text) if text else {},
        members=records(members),
    )
