"""The JSON API under ``/api``: thin calls into the read model (``cibwatch.views``), scan's accounts.csv
summary (``cibwatch.campaigns.accounts_summary``) and review."""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request, Response

from cibwatch import review, schema, views
from cibwatch.api import auth
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
from cibwatch.campaigns import accounts_summary
from cibwatch.errors import CaseError
from cibwatch.store.case import Case

# Every route needs a signed-in user allowed to do what it does (auth.ROUTE_ACTION).
router = APIRouter(prefix="/api", dependencies=[Depends(auth.allowed)])
Tier = Literal[schema.RECOMMENDATION_TIERS]  # type: ignore[valid-type]
QueueStatus = Literal[review.QUEUE_STATUSES]  # type: ignore[valid-type]


def access(request: Request) -> CaseAccess:
    return request.app.state.case_access


def summary_of(case: Case) -> dict[str, Any]:
    """Table counts, accounts per tier, campaigns, queue length and review metrics."""
    try:
        queue_length: int | None = len(review.queue(case))
    except CaseError:  # no recommendations yet: there is no queue, which is not an error here
        queue_length = None
    return {
        **asdict(views.case_summary(case)),
        "review_queue": queue_length,
        "review": review.metrics(case),
    }


def campaign_of(case: Case, campaign_id: str) -> dict[str, Any]:
    """The campaign row, its parsed ``details`` and its members (core first, strongest first)."""
    record = views.campaign(case, campaign_id)
    if record is None:
        raise CaseError(
            f"campaign {campaign_id!r} is not in case {case.root}; list the campaigns with GET /api/campaigns"
        )
    return record.as_dict()


@router.get("/summary", response_model=Summary)
def get_summary(request: Request) -> dict[str, Any]:
    """Row counts of every table, accounts per tier, campaigns, queue length and review metrics."""
    with access(request).open() as case:
        return summary_of(case)


@router.get("/accounts", response_model=AccountsPage)
def get_accounts(
    request: Request,
    tier: Tier | None = None,
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
        "accounts": views.records(frame.slice(offset, limit)),
    }


@router.get("/accounts/{account_id:path}")
def get_account(request: Request, account_id: str) -> dict[str, Any]:
    """The account's case file (``cibwatch.views.case_file``), decision history included."""
    with access(request).open() as case:
        return dict(views.case_file(case, account_id))


@router.get("/campaigns", response_model=list[CampaignRow])  # type: ignore[valid-type]
def get_campaigns(request: Request) -> list[dict[str, Any]]:
    """Every campaign, most suspicious first, without its JSON ``details``."""
    with access(request).open() as case:
        return views.records(views.campaign_rows(case))


@router.get("/campaigns/{campaign_id}", response_model=CampaignDetail)
def get_campaign(request: Request, campaign_id: str) -> dict[str, Any]:
    """One campaign: its row, its full ``details`` record and its members."""
    with access(request).open() as case:
        return campaign_of(case, campaign_id)


@router.get("/live")
def get_live(request: Request) -> dict[str, Any]:
    """What `cibwatch watch` has fed the case: the window, hourly activity in it, campaigns by last
    activity and the latest alerts (``watched`` is false for a case no watch fed)."""
    from cibwatch.watch import live_state

    with access(request).open() as case:
        return live_state(case)


@router.get("/review/queue", response_model=list[QueueRow])
def get_queue(
    request: Request,
    limit: int | None = Query(None, ge=1),
    include_monitor: bool = False,
    tier: Tier | None = None,
    campaign: str | None = Query(None, min_length=1, max_length=200),
    status: QueueStatus | None = None,
) -> list[dict[str, Any]]:
    """Accounts waiting for a reviewer, highest priority first (open appeals lead).

    ``tier``, ``campaign`` and ``status`` narrow it; ``status=decided`` (or ``upheld``,
    ``overturned``) lists accounts already reviewed. An unknown value is a 422.
    """
    with access(request).open() as case:
        return review.queue(
            case, limit=limit, include_monitor=include_monitor, tier=tier, campaign=campaign, status=status
        )


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
    """Record a decision, by the signed-in reviewer, with a snapshot of the evidence as it is now."""
    reviewer = request.state.user.name
    with access(request).open() as case:
        return review.decide(case, account_id, body.action, reviewer=reviewer, reason=body.reason)


@router.post("/review/{account_id:path}/appeal", response_model=LogEntry, status_code=201)
def post_appeal(request: Request, account_id: str, body: AppealIn) -> dict[str, Any]:
    """Appeal the decision in force, as the account's appellant or an admin; it leads the queue again."""
    appellant = request.state.user.name
    with access(request).open() as case:
        return review.appeal(case, account_id, statement=body.statement, appellant=appellant)


@router.post("/review/{account_id:path}/appeal/resolve", response_model=LogEntry, status_code=201)
def post_resolve(request: Request, account_id: str, body: ResolveIn) -> dict[str, Any]:
    """Uphold or overturn the decision under appeal (by another reviewer than the one who made it)."""
    reviewer = request.state.user.name
    with access(request).open() as case:
        return review.resolve_appeal(case, account_id, body.outcome, reviewer=reviewer, reason=body.reason)


@router.get("/export/network.{fmt}", response_class=Response)
def get_network(request: Request, fmt: Literal["graphml", "gexf"]) -> Response:
    """The coordination network for Gephi or networkx, as ``coord`` writes it to network.graphml/.gexf."""
    import networkx as nx

    with access(request).open() as case:
        graph = views.network(case)
    buffer = io.BytesIO()
    (nx.write_graphml if fmt == "graphml" else nx.write_gexf)(graph, buffer)
    return Response(
        buffer.getvalue(),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="network.{fmt}"'},
    )
