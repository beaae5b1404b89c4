"""The JSON API under ``/api``: thin calls into the campaigns, review and coord stages."""

from __future__ import annotations

import io
import json
import math
from typing import Any, Literal

import polars as pl
from fastapi import APIRouter, Query, Request, Response

from cibwatch import review, schema
from cibwatch.api.access import CaseAccess
from cibwatch.api.models import (
    AccountsPage,
    AppealIn,
    CampaignDetail,
    CampaignRow,
    DecisionIn,
    LogEntry,
    Metrics,
    QueueRow,
    ResolveIn,
    Summary,
    VerifyResult,
)
from cibwatch.campaigns import accounts_summary, campaigns_summary, case_file
from cibwatch.coord import CoordResult, to_networkx
from cibwatch.errors import CaseError
from cibwatch.store.case import Case

router = APIRouter(prefix="/api")


def access(request: Request) -> CaseAccess:
    return request.app.state.case_access


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as dicts, NaN as None (NaN is not JSON)."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def count(case: Case, table: str) -> int:
    return int(case.scan(table).select(pl.len()).collect().item())


def summary_of(case: Case) -> dict[str, Any]:
    """Table counts, accounts per tier, campaigns, queue length and review metrics."""
    tables = case.summary()
    tables.update({t: count(case, t) for t in schema.STAGE_TABLES})
    tier_counts = case.scan("recommendations").group_by("tier").agg(pl.len()).collect()
    found = dict(zip(tier_counts["tier"], tier_counts["len"], strict=True))
    try:
        queue_length: int | None = len(review.queue(case))
    except CaseError:  # no recommendations yet: there is no queue, which is not an error here
        queue_length = None
    return {
        "case": str(case.root),
        "tables": tables,
        "tiers": {t: int(found.get(t, 0)) for t in schema.RECOMMENDATION_TIERS},
        "campaigns": tables["campaigns"],
        "review_queue": queue_length,
        "review": review.metrics(case),
    }


def campaign_of(case: Case, campaign_id: str) -> dict[str, Any]:
    """The campaign row, its parsed ``details`` and its members (core first, strongest first)."""
    found = campaigns_summary(case).filter(pl.col("campaign_id") == campaign_id)
    if found.is_empty():
        raise CaseError(
            f"campaign {campaign_id!r} is not in case {case.root}; list the campaigns with GET /api/campaigns"
        )
    details = case.scan("campaigns").filter(pl.col("campaign_id") == campaign_id).select("details").collect()
    members = (
        case.scan("campaign_members")
        .filter(pl.col("campaign_id") == campaign_id)
        .collect()
        .with_columns(
            _role=pl.col("role").replace_strict(
                schema.ROLE_RANK, default=len(schema.ROLE_RANK), return_dtype=pl.Int64
            )
        )
        .sort(["_role", "strength", "account_id"], descending=[False, True, False], nulls_last=True)
        .drop("_role")
    )
    text = details["details"][0]
    return {
        "campaign": rows(found)[0],
        "details": json.loads(text) if text else {},
        "members": rows(members),
    }


@router.get("/summary", response_model=Summary)
def get_summary(request: Request) -> dict[str, Any]:
    """Row counts of every table, accounts per tier, campaigns, queue length and review metrics."""
    with access(request).open() as case:
        return summary_of(case)


@router.get("/accounts", response_model=AccountsPage)
def get_accounts(
    request: Request,
    tier: Literal[schema.RECOMMENDATION_TIERS] | None = None,  # type: ignore[valid-type]
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """Accounts with a score, a coordination row or a recommendation: the columns of accounts.csv."""
    with access(request).open() as case:
        frame = accounts_summary(case)
    if tier is not None:
        frame = frame.filter(pl.col("recommendation") == tier)
    return {
        "total": frame.height,
        "limit": limit,
        "offset": offset,
        "accounts": rows(frame.slice(offset, limit)),
    }


@router.get("/accounts/{account_id:path}")
def get_account(request: Request, account_id: str) -> dict[str, Any]:
    """The account's case file (``cibwatch.campaigns.case_file``), decision history included."""
    with access(request).open() as case:
        return case_file(case, account_id)


@router.get("/campaigns", response_model=list[CampaignRow])  # type: ignore[valid-type]
def get_campaigns(request: Request) -> list[dict[str, Any]]:
    """Every campaign, most suspicious first, without its JSON ``details``."""
    with access(request).open() as case:
        return rows(campaigns_summary(case))


@router.get("/campaigns/{campaign_id}", response_model=CampaignDetail)
def get_campaign(request: Request, campaign_id: str) -> dict[str, Any]:
    """One campaign: its row, its full ``details`` record and its members."""
    with access(request).open() as case:
        return campaign_of(case, campaign_id)


@router.get("/review/queue", response_model=list[QueueRow])
def get_queue(
    request: Request,
    limit: int | None = Query(None, ge=1),
    include_monitor: bool = False,
) -> list[dict[str, Any]]:
    """Accounts waiting for a reviewer, highest priority first (open appeals lead)."""
    with access(request).open() as case:
        return review.queue(case, limit=limit, include_monitor=include_monitor)


@router.get("/review/verify-log", response_model=VerifyResult)
def get_verify_log(request: Request, expect_head: str | None = None) -> dict[str, Any]:
    """Recompute the audit log's hash chain; ``ok`` is false when any entry was edited, cut or moved."""
    with access(request).open() as case:
        return review.verify_log(case, expect_head=expect_head).as_dict()


@router.get("/review/metrics", response_model=Metrics)
def get_metrics(request: Request) -> dict[str, Any]:
    """Decisions by action, appeals, and the overturn rate."""
    with access(request).open() as case:
        return review.metrics(case)


@router.get("/review/{account_id:path}/history", response_model=list[LogEntry])
def get_history(request: Request, account_id: str) -> list[dict[str, Any]]:
    """The account's audit-log entries, oldest first; empty when it was never reviewed."""
    with access(request).open() as case:
        return review.history(case, account_id)


@router.post("/review/{account_id:path}/decision", response_model=LogEntry, status_code=201)
def post_decision(request: Request, account_id: str, body: DecisionIn) -> dict[str, Any]:
    """Record a decision with a snapshot of the evidence as it is now."""
    with access(request).open() as case:
        return review.decide(case, account_id, body.action, reviewer=body.reviewer, reason=body.reason)


@router.post("/review/{account_id:path}/appeal", response_model=LogEntry, status_code=201)
def post_appeal(request: Request, account_id: str, body: AppealIn) -> dict[str, Any]:
    """Appeal the decision in force; the account goes back to the head of the queue."""
    with access(request).open() as case:
        return review.appeal(case, account_id, statement=body.statement, appellant=body.appellant)


@router.post("/review/{account_id:path}/appeal/resolve", response_model=LogEntry, status_code=201)
def post_resolve(request: Request, account_id: str, body: ResolveIn) -> dict[str, Any]:
    """Uphold or overturn the decision under appeal (by another reviewer than the one who made it)."""
    with access(request).open() as case:
        return review.resolve_appeal(
            case, account_id, body.outcome, reviewer=body.reviewer, reason=body.reason
        )


def network_of(case: Case) -> Any:
    """The coordination network from the case's coord tables, via ``cibwatch.coord.to_networkx``."""
    if not case.has_table("coord_edges"):
        raise CaseError(
            f"case {case.root} has no coordination network yet; run `cibwatch coord --case {case.root}`"
        )
    # The graph holds accounts and edges only: leave out evidence rows, which can be millions.
    empty = pl.DataFrame(schema.COORD_EVIDENCE.empty_table())
    result = CoordResult(
        edges=case.read("coord_edges"),
        evidence=empty,
        accounts=case.read("coord_accounts"),
        clusters=case.read("coord_clusters"),
        capped=pl.DataFrame(),
    )
    return to_networkx(result)


@router.get("/export/network.{fmt}", response_class=Response)
def get_network(request: Request, fmt: Literal["graphml", "gexf"]) -> Response:
    """The coordination network for Gephi or networkx, as ``coord`` writes it to network.graphml/.gexf."""
    import networkx as nx

    with access(request).open() as case:
        graph = network_of(case)
    buffer = io.BytesIO()
    (nx.write_graphml if fmt == "graphml" else nx.write_gexf)(graph, buffer)
    return Response(
        buffer.getvalue(),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="network.{fmt}"'},
    )
