"""A case at a glance: row counts of its tables, accounts per tier and campaigns."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cibwatch.schema import RECOMMENDATION_TIERS, STAGE_TABLES
from cibwatch.store.case import Case


@dataclass(frozen=True)
class CaseSummary:
    case: str  # the case directory
    tables: dict[str, int]  # rows of the normalized tables, ``accounts_current`` and every stage table
    tiers: dict[str, int]  # recommendations per tier, every tier listed
    campaigns: int


def case_summary(case: Case) -> CaseSummary:
    """Row counts and tiers; a stage that has not run counts 0.

    >>> case_summary(open_case("out/case")).tiers["review"]   # doctest: +SKIP
    12
    """
    tables = case.summary()
    tables.update({t: int(case.scan(t).select(pl.len()).collect().item()) for t in STAGE_TABLES})
    counts = case.scan("recommendations").group_by("tier").agg(pl.len()).collect()
    found = dict(zip(counts["tier"], counts["len"], strict=True))
    return CaseSummary(
        case=str(case.root),
        tables=tables,
        tiers={t: int(found.get(t, 0)) for t in RECOMMENDATION_TIERS},
        campaigns=tables["campaigns"],
    )
