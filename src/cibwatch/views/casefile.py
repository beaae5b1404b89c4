"""The case file of one account: everything an analyst needs to decide, as plain JSON-ready data.

Read from the case's tables only (``accounts``, ``bot_scores``, ``coord_*``, ``campaign*``,
``recommendations`` and, when review has run, the ``review_log`` table), so the API and
``cibwatch review show`` render the same record. Its JSON is part of the review audit trail (each
decision stores it as an evidence snapshot, keyed by its hash): change its shape only with
``CASE_FILE_VERSION``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, NotRequired, TypedDict, cast

import polars as pl

from cibwatch.errors import CaseError
from cibwatch.store.case import Case

CASE_FILE_VERSION = 1
_PROFILE_COLUMNS = (
    "screen_name", "name", "description", "created_at", "followers", "following", "posts_count",
    "likes_count", "verified", "default_profile", "default_profile_image", "location", "url", "lang",
    "probed_at", "snapshot_id", "dataset",
)  # fmt: skip


class EvidenceRow(TypedDict):
    """One co-action of an edge, seen from the account: its post, the partner's, both times, the gap."""

    item: str | None
    post_id: str | None
    partner_post_id: str | None
    time: str | None  # ISO-8601
    partner_time: str | None
    gap_s: float | None


class CaseEdge(TypedDict):
    """One coordination edge of the account, with its first ``evidence_limit`` evidence rows."""

    partner: str
    trace: str
    observed: int | None  # co-acted items (``coord_edges.n_shared``)
    expected: float | None
    observed_over_expected: float | None
    weight: float | None
    p_value: float | None
    q_value: float | None
    first_at: str | None
    last_at: str | None
    median_gap_s: float | None
    n_evidence: int  # all evidence rows of the edge
    evidence: list[EvidenceRow]


class CaseFile(TypedDict):
    """The case file's JSON shape. Table rows stay dicts of their table's columns (``cibwatch.schema``)."""

    case_file_version: int
    account_id: str
    profiles: list[dict[str, Any]]  # profile snapshots, oldest first (``_PROFILE_COLUMNS``)
    bot_score: dict[str, Any] | None  # the ``bot_scores`` row
    coordination: dict[str, Any] | None  # the ``coord_accounts`` row
    edges: list[CaseEdge]  # most significant first
    campaigns: list[dict[str, Any]]  # ``campaigns`` row without details, plus ``member``: its membership
    recommendation: dict[str, Any]  # the ``recommendations`` row; ``rests_on`` and ``lines`` parsed
    decisions: NotRequired[list[dict[str, Any]]]  # ``review_log`` entries; absent in evidence snapshots


def case_file(
    case: Case, account_id: str, *, evidence_limit: int = 50, include_review: bool = True
) -> CaseFile:
    """Everything the case knows about ``account_id``, as a JSON-serializable dict.

    ``evidence_limit`` caps the evidence rows shown per edge (``n_evidence`` keeps the full count).
    ``include_review=False`` leaves out the decision history: that is the evidence snapshot review
    stores with each decision.

    >>> cf = case_file(open_case("out/case"), "12345")     # doctest: +SKIP
    >>> cf["recommendation"]["tier"], [e["partner"] for e in cf["edges"]]  # doctest: +SKIP
    ('enforce-eligible', ['678', '910'])
    """
    profiles = _rows(case, "accounts", account_id, sort="probed_at")
    bot = _rows(case, "bot_scores", account_id)
    coord = _rows(case, "coord_accounts", account_id)
    edges = _edges(case, account_id, evidence_limit)
    campaigns = _campaigns(case, account_id)
    rec = _rows(case, "recommendations", account_id)
    if not (profiles or bot or coord or edges or campaigns or rec):
        raise CaseError(
            f"account {account_id!r} is not in case {case.root}: no profile, score, edge or recommendation; "
            "check the id (ids are strings) or list flagged accounts with `cibwatch review queue`"
        )
    out: dict[str, Any] = {
        "case_file_version": CASE_FILE_VERSION,
        "account_id": account_id,
        "profiles": [{k: p.get(k) for k in _PROFILE_COLUMNS} for p in profiles],
        "bot_score": bot[0] if bot else None,
        "coordination": coord[0] if coord else None,
        "edges": edges,
        "campaigns": campaigns,
        "recommendation": _recommendation(rec[0] if rec else None),
    }
    if include_review:
        out["decisions"] = review_history(case, account_id)
    return cast(CaseFile, _jsonable(out))


def _rows(case: Case, table: str, account_id: str, sort: str | None = None) -> list[dict[str, Any]]:
    frame = case.scan(table).filter(pl.col("account_id") == account_id).collect()
    if sort is not None:
        frame = frame.sort(sort, nulls_last=False)
    return frame.to_dicts()


def _edges(case: Case, account_id: str, limit: int) -> list[dict[str, Any]]:
    """The account's edges as ``CaseEdge`` dicts, times not yet ISO strings."""
    mine = pl.col("account_a").eq(account_id) | pl.col("account_b").eq(account_id)
    edges = case.scan("coord_edges").filter(mine).collect()
    if edges.is_empty():
        return []
    evidence = case.scan("coord_evidence").filter(mine).collect()
    out = []
    for e in edges.sort("q_value", "trace", nulls_last=True).iter_rows(named=True):
        first = e["account_a"] == account_id
        partner = e["account_b"] if first else e["account_a"]
        rows = evidence.filter(
            (pl.col("account_a") == e["account_a"])
            & (pl.col("account_b") == e["account_b"])
            & (pl.col("trace") == e["trace"])
        ).sort("time_a", "item", nulls_last=True)
        items = [
            {
                "item": r["item"],
                "post_id": r["post_id_a"] if first else r["post_id_b"],
                "partner_post_id": r["post_id_b"] if first else r["post_id_a"],
                "time": r["time_a"] if first else r["time_b"],
                "partner_time": r["time_b"] if first else r["time_a"],
                "gap_s": r["gap_s"],
            }
            for r in rows.head(limit).iter_rows(named=True)
        ]
        expected = e["expected"]
        out.append(
            {
                "partner": partner,
                "trace": e["trace"],
                "observed": e["n_shared"],
                "expected": expected,
                "observed_over_expected": (
                    round(e["n_shared"] / expected, 2) if expected and e["n_shared"] is not None else None
                ),
                "weight": e["weight"],
                "p_value": e["p_value"],
                "q_value": e["q_value"],
                "first_at": e["first_at"],
                "last_at": e["last_at"],
                "median_gap_s": e["median_gap_s"],
                "n_evidence": rows.height,
                "evidence": items,
            }
        )
    return out


def _campaigns(case: Case, account_id: str) -> list[dict[str, Any]]:
    memberships = _rows(case, "campaign_members", account_id)
    out = []
    for m in memberships:
        camp = case.scan("campaigns").filter(pl.col("campaign_id") == m["campaign_id"]).collect()
        record = camp.drop("details").to_dicts()[0] if camp.height else {"campaign_id": m["campaign_id"]}
        record["member"] = {k: v for k, v in m.items() if k not in ("campaign_id", "account_id")}
        out.append(record)
    return out


def _recommendation(rec: dict[str, Any] | None) -> dict[str, Any]:
    if rec is None:
        return {"tier": "none", "reasons": "none: no signal", "rests_on": [], "policy_version": None}
    rec = dict(rec)
    rec["rests_on"] = json.loads(rec["rests_on"]) if rec.get("rests_on") else []
    rec["lines"] = rec["lines"].split(",") if rec.get("lines") else []
    return rec


def review_history(case: Case, account_id: str) -> list[dict[str, Any]]:
    """The account's entries in the review audit log, oldest first (empty before any review)."""
    if not case.has_db_table("review_log"):
        return []
    cur = case.con.execute("SELECT * FROM review_log WHERE account_id = ? ORDER BY seq", [account_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value
