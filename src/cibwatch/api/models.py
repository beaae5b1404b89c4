"""Pydantic models of the API's stable shapes: request bodies and the flat rows it returns.

Row models are built from the Arrow schemas in ``cibwatch.schema`` so the API's columns cannot drift
from the tables'; the records around them (``CampaignDetail``, ``Summary``) have the fields of the read
model's (``cibwatch.views``; tests/api/test_models.py checks). Nested records (the case file, a
campaign's ``details``) stay plain dicts: their shape is owned and versioned by the code that writes
them (``case_file_version``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, create_model

from cibwatch import review, schema
from cibwatch.campaigns.summary import ACCOUNT_COLUMNS

_PY_TYPES: dict[pa.DataType, type] = {
    pa.string(): str,
    pa.int64(): int,
    pa.float64(): float,
    pa.bool_(): bool,
    schema.TS: datetime,
}


def _row_model(name: str, table_schema: pa.Schema, drop: tuple[str, ...] = ()) -> type[BaseModel]:
    fields: dict[str, Any] = {
        f.name: (_PY_TYPES[f.type] | None, None) for f in table_schema if f.name not in drop
    }
    return create_model(name, **fields)


CampaignRow = _row_model("CampaignRow", schema.CAMPAIGNS, drop=("details",))
MemberRow = _row_model("MemberRow", schema.CAMPAIGN_MEMBERS)
AccountRow = create_model(
    "AccountRow",
    **{c: ((float | None) if c.endswith("_score") else (str | None), None) for c in ACCOUNT_COLUMNS},  # type: ignore[call-overload]
)


class ErrorBody(BaseModel):
    error: str


class AccountsPage(BaseModel):
    total: int
    limit: int
    offset: int
    accounts: list[AccountRow]  # type: ignore[valid-type]


class CampaignDetail(BaseModel):
    campaign: CampaignRow  # type: ignore[valid-type]
    details: dict[str, Any] = Field(description="The campaign's full record: narratives, timeline, …")
    members: list[MemberRow]  # type: ignore[valid-type]


class QueueRow(BaseModel):
    account_id: str
    screen_name: str | None
    kind: Literal["new", "appeal", "reviewed"]
    status: Literal[review.QUEUE_STATUSES]  # type: ignore[valid-type]
    tier: str
    priority: float
    campaign_id: str | None
    reasons: str | None


class LogEntry(BaseModel):
    """One entry of the hash-chained review audit log (``review_log``)."""

    seq: int
    logged_at: str
    actor: str
    event: Literal["decision", "appeal", "appeal_outcome"]
    account_id: str
    action: str | None
    reason: str | None
    refers_to: int | None
    evidence_snapshot_id: str | None
    tier: str | None
    model_version: str | None
    policy_version: str | None
    prev_hash: str
    entry_hash: str
    signature: str | None = None  # Ed25519 over entry_hash (hex); None in a log from before signing


class VerifyResult(BaseModel):
    ok: bool
    entries: int
    head: str  # the full 64-hex head hash, as --expect-head takes it
    problems: list[str]
    checked: int  # entries walked by this check
    checkpoint: dict[str, Any] | None  # seq, count, head and time of the checkpoint checked against


class Metrics(BaseModel):
    decisions: int
    by_action: dict[str, int]
    appeals: int
    open_appeals: int
    upheld: int
    overturned: int
    overturn_rate: float | None
    appeal_rate: float | None


class Summary(BaseModel):
    case: str
    tables: dict[str, int] = Field(description="Row counts of the normalized and stage tables.")
    tiers: dict[str, int] = Field(description="Accounts per recommendation tier.")
    campaigns: int
    review_queue: int | None = Field(description="Accounts waiting for a reviewer; null before `campaigns`.")
    review: Metrics


# Request bodies: unknown fields are refused so a typo ("reson") is a 422, not a silent default. None
# names who acts: the review log records the signed-in user, so a "reviewer" field is refused too.
_Text = Field(min_length=1, max_length=10_000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    action: Literal[review.ACTIONS]  # type: ignore[valid-type]
    reason: str = _Text


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    statement: str = _Text


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    outcome: Literal[review.OUTCOMES]  # type: ignore[valid-type]
    reason: str = _Text
