"""Review and appeal: decisions, appeals and their outcomes, each one entry in the audit log.

The state of an account is a fold over its log entries, so there is no second table to drift.
A decision stores the case file the reviewer saw as an immutable evidence snapshot; an appeal
reopens the case, and the appeal reviewer sees that original evidence and what changed since.

>>> decide(case, "12345", "suspend", reviewer="ana", reason="copy-paste network, 40 items")  # doctest: +SKIP
>>> appeal(case, "12345", statement="I am a real person")                                    # doctest: +SKIP
>>> resolve_appeal(case, "12345", "overturned", reviewer="ben", reason="shared a news feed")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from cibwatch.errors import CaseError, ConfigError, ReviewError
from cibwatch.review import log
from cibwatch.review.users import check_name, fold
from cibwatch.schema import FLAGGED_TIERS, RECOMMENDATION_TIERS
from cibwatch.store.case import Case
from cibwatch.views import CaseFile, case_file

ACTIONS = ("dismiss", "label", "restrict", "suspend")
OUTCOMES = ("upheld", "overturned")
APPEALABLE = ("label", "restrict", "suspend")
APPEAL_PRIORITY = 10.0  # open appeals come before every new case
# Review states the queue filters by (``state``'s ``status``): not yet decided, decided, under
# appeal, and an appeal's two outcomes.
QUEUE_STATUSES = ("pending", "decided", "appealed", "upheld", "overturned")
DEFAULT_APPELLANT = "account holder"


def _required(value: str | None, what: str, example: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ReviewError(f"{what} must not be empty; pass it, e.g. {example}")
    return value


def _actor(name: str | None, option: str, example: str) -> str:
    """The name the log records: not blank, nothing invisible (the API and CLI pass a signed-in user's)."""
    try:
        return check_name(_required(name, option, example))
    except ConfigError as exc:
        raise ReviewError(f"{option}: {exc}") from exc


def _evidence(case: Case, account_id: str, at: str) -> tuple[str, CaseFile]:
    """Snapshot the case file as it is now (without decision history) and return its id."""
    current = case_file(case, account_id, include_review=False)
    return log.store_snapshot(case, account_id, current, at), current


def _versions(current: Mapping[str, Any]) -> dict[str, Any]:
    rec = current.get("recommendation") or {}
    bot = current.get("bot_score") or {}
    return {
        "tier": rec.get("tier"),
        "policy_version": rec.get("policy_version"),
        "model_version": bot.get("model_version") or rec.get("model_version"),
    }


def state(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The account's review state from its log entries (oldest first).

    ``status`` is ``pending`` (never decided), ``decided``, ``appealed`` (open appeal), ``upheld``
    or ``overturned``; ``in_force`` is the action that currently applies (none after an overturn).
    """
    decision = appeal = outcome = None
    for e in entries:
        if e["event"] == "decision":
            decision, appeal, outcome = e, None, None
        elif e["event"] == "appeal":
            appeal, outcome = e, None
        elif e["event"] == "appeal_outcome":
            outcome = e
    if decision is None:
        status = "pending"
    elif appeal is not None and outcome is None:
        status = "appealed"
    elif outcome is not None:
        status = outcome["action"]
    else:
        status = "decided"
    in_force = None
    if decision is not None and status != "overturned" and decision["action"] != "dismiss":
        in_force = decision["action"]
    return {
        "status": status,
        "decision": decision,
        "appeal": appeal,
        "outcome": outcome,
        "in_force": in_force,
    }


def account_state(case: Case, account_id: str) -> dict[str, Any]:
    return state(log.entries(case, account_id))


@log.serialized  # the state check and the append see the same log
def decide(
    case: Case, account_id: str, action: str, *, reviewer: str, reason: str, at: str | None = None
) -> dict[str, Any]:
    """Record a reviewer's decision with the evidence they saw; returns the log entry."""
    if action not in ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(ACTIONS)}. Got {action!r} instead.")
    reviewer = _actor(reviewer, "--reviewer", "--reviewer ana")
    reason = _required(reason, "--reason", '--reason "same 40 links within 10 s as 12 partners"')
    log.ensure_tables(case)
    current_state = account_state(case, account_id)
    if current_state["status"] == "appealed":
        raise ReviewError(
            f"account {account_id} has an open appeal (entry {current_state['appeal']['seq']}); "
            "decide it first "
            f"with `cibwatch review resolve-appeal {account_id} --outcome upheld|overturned --reviewer NAME "
            "--reason TEXT`"
        )
    at = at or log.now_iso()
    snapshot_id, current = _evidence(case, account_id, at)
    entry = {
        "logged_at": at,
        "actor": reviewer,
        "event": "decision",
        "account_id": account_id,
        "action": action,
        "reason": reason,
        "evidence_snapshot_id": snapshot_id,
        **_versions(current),
    }
    return log.append(case, entry)


@log.serialized  # the state check and the append see the same log
def appeal(
    case: Case, account_id: str, *, statement: str, appellant: str = DEFAULT_APPELLANT, at: str | None = None
) -> dict[str, Any]:
    """Appeal the decision in force on ``account_id``; reopens the case for a second reviewer."""
    statement = _required(
        statement, "--statement", '--statement "I am a journalist; I share my own articles"'
    )
    log.ensure_tables(case)
    s = account_state(case, account_id)
    if s["decision"] is None:
        raise ReviewError(
            f"account {account_id} has no decision to appeal; see `cibwatch review history {account_id}`"
        )
    if s["decision"]["action"] not in APPEALABLE:
        raise ReviewError(
            f"the decision on {account_id} is {s['decision']['action']!r}, which takes no action; "
            f"only {', '.join(APPEALABLE)} can be appealed"
        )
    if s["status"] == "appealed":
        raise ReviewError(f"account {account_id} already has an open appeal (entry {s['appeal']['seq']})")
    if s["status"] in OUTCOMES:
        raise ReviewError(
            f"decision {s['decision']['seq']} on {account_id} was already appealed and {s['status']} "
            f"(entry {s['outcome']['seq']}); one appeal per decision"
        )
    at = at or log.now_iso()
    snapshot_id, current = _evidence(case, account_id, at)
    entry = {
        "logged_at": at,
        "actor": _actor(appellant, "--appellant", '--appellant "@handle"'),
        "event": "appeal",
        "account_id": account_id,
        "reason": statement,
        "refers_to": s["decision"]["seq"],
        "evidence_snapshot_id": snapshot_id,
        **_versions(current),
    }
    return log.append(case, entry)


@log.serialized  # the state check and the append see the same log
def resolve_appeal(
    case: Case, account_id: str, outcome: str, *, reviewer: str, reason: str, at: str | None = None
) -> dict[str, Any]:
    """Uphold or overturn the decision under appeal; the original decider may not judge it."""
    if outcome not in OUTCOMES:
        raise ReviewError(f"outcome must be one of {', '.join(OUTCOMES)}. Got {outcome!r} instead.")
    reviewer = _actor(reviewer, "--reviewer", "--reviewer ben")
    reason = _required(reason, "--reason", '--reason "the shared links are the appellant\'s own site"')
    log.ensure_tables(case)
    s = account_state(case, account_id)
    if s["status"] != "appealed":
        raise ReviewError(
            f"account {account_id} has no open appeal (status {s['status']}); "
            f"see `cibwatch review history {account_id}`"
        )
    # Compared as user names are (NFKC, casefold): "Ana" may not judge the appeal of ana's decision.
    if fold(reviewer) == fold(s["decision"]["actor"]):
        raise ReviewError(
            f"{reviewer} made the decision under appeal; an appeal must be decided by another reviewer"
        )
    at = at or log.now_iso()
    snapshot_id, current = _evidence(case, account_id, at)
    entry = {
        "logged_at": at,
        "actor": reviewer,
        "event": "appeal_outcome",
        "account_id": account_id,
        "action": outcome,
        "reason": reason,
        "refers_to": s["appeal"]["seq"],
        "evidence_snapshot_id": snapshot_id,
        **_versions(current),
    }
    return log.append(case, entry)


def history(case: Case, account_id: str) -> list[dict[str, Any]]:
    """The account's audit-log entries, oldest first."""
    return log.entries(case, account_id)


def changes_since(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two case files (a stored snapshot and now), as sentences."""
    out: list[str] = []
    o_rec, n_rec = old.get("recommendation") or {}, new.get("recommendation") or {}
    for key in ("tier", "policy_version", "model_version"):
        if o_rec.get(key) != n_rec.get(key):
            out.append(f"recommendation {key}: {o_rec.get(key)} → {n_rec.get(key)}")
    o_lines, n_lines = set(o_rec.get("lines") or []), set(n_rec.get("lines") or [])
    if o_lines != n_lines:
        out.append(f"lines of evidence: {sorted(o_lines)} → {sorted(n_lines)}")
    o_bot, n_bot = old.get("bot_score") or {}, new.get("bot_score") or {}
    for key in ("bot_score", "model_version"):
        if o_bot.get(key) != n_bot.get(key):
            out.append(f"bot {key}: {o_bot.get(key)} → {n_bot.get(key)}")
    o_co, n_co = old.get("coordination") or {}, new.get("coordination") or {}
    for key in ("cluster_id", "coordination_score"):
        if o_co.get(key) != n_co.get(key):
            out.append(f"coordination {key}: {o_co.get(key)} → {n_co.get(key)}")
    o_edges = {(e["partner"], e["trace"]): e for e in old.get("edges") or []}
    n_edges = {(e["partner"], e["trace"]): e for e in new.get("edges") or []}
    for edge in sorted(n_edges.keys() - o_edges.keys()):
        out.append(f"new edge: {edge[1]} with {edge[0]} ({n_edges[edge]['observed']} items)")
    for edge in sorted(o_edges.keys() - n_edges.keys()):
        out.append(f"edge gone: {edge[1]} with {edge[0]}")
    for edge in sorted(o_edges.keys() & n_edges.keys()):
        a, b = o_edges[edge], n_edges[edge]
        if (a["observed"], a["q_value"]) != (b["observed"], b["q_value"]):
            out.append(
                f"edge {edge[1]} with {edge[0]}: {a['observed']} → {b['observed']} items, "
                f"q {a['q_value']} → {b['q_value']}"
            )
    o_camp = {c["campaign_id"]: c for c in old.get("campaigns") or []}
    n_camp = {c["campaign_id"]: c for c in new.get("campaigns") or []}
    for cid in sorted(n_camp.keys() - o_camp.keys()):
        out.append(f"now in campaign {cid}")
    for cid in sorted(o_camp.keys() - n_camp.keys()):
        out.append(f"no longer in campaign {cid}")
    for cid in sorted(o_camp.keys() & n_camp.keys()):
        o_role = (o_camp[cid].get("member") or {}).get("role")
        n_role = (n_camp[cid].get("member") or {}).get("role")
        if o_role != n_role:
            out.append(f"role in {cid}: {o_role} → {n_role}")
    o_snaps = {p.get("snapshot_id") for p in old.get("profiles") or []}
    n_snaps = {p.get("snapshot_id") for p in new.get("profiles") or []}
    if n_snaps - o_snaps:
        out.append(f"{len(n_snaps - o_snaps)} new profile snapshot(s)")
    return out


def show(case: Case, account_id: str) -> dict[str, Any]:
    """The case file plus review state; after a decision, its original evidence and what changed since."""
    current = case_file(case, account_id, include_review=False)
    entries = log.entries(case, account_id)
    s = state(entries)
    out: dict[str, Any] = {
        "case_file": current,
        "review": {
            "status": s["status"],
            "in_force": s["in_force"],
            "history": entries,
        },
    }
    decision = s["decision"]
    if decision is not None and decision["evidence_snapshot_id"]:
        original = log.load_snapshot(case, decision["evidence_snapshot_id"])
        out["review"]["original_evidence"] = original
        out["review"]["changes_since_decision"] = (
            changes_since(original["content"], current)
            if original is not None
            else ["original evidence missing"]
        )
    return out


def queue(
    case: Case,
    *,
    limit: int | None = None,
    include_monitor: bool = False,
    tier: str | None = None,
    campaign: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Accounts waiting for a reviewer, highest priority first: open appeals, then undecided flags.

    ``tier``, ``campaign`` and ``status`` narrow the list. ``status`` picks accounts in that review
    state (``QUEUE_STATUSES``): ``decided``, ``upheld`` or ``overturned`` lists flagged accounts
    already reviewed (kind ``reviewed``), so a reviewer can find them again. Raises ``ConfigError``
    for a value the case cannot have.

    >>> [r["account_id"] for r in queue(case, tier="enforce-eligible", status="pending")]  # doctest: +SKIP
    ['12345']
    """
    if tier is not None and tier not in RECOMMENDATION_TIERS:
        raise ConfigError(f"tier must be one of {', '.join(RECOMMENDATION_TIERS)}. Got {tier!r} instead.")
    if status is not None and status not in QUEUE_STATUSES:
        raise ConfigError(f"status must be one of {', '.join(QUEUE_STATUSES)}. Got {status!r} instead.")
    all_entries = log.entries(case)
    if not case.has_table("recommendations") and not all_entries:
        raise CaseError(
            f"case {case.root} has no recommendations yet; run `cibwatch campaigns --case {case.root}` "
            "(after `cibwatch coord` and `cibwatch bots`) or `cibwatch scan` first"
        )
    if campaign is not None and not _has_campaign(case, campaign):
        raise ConfigError(
            f"campaign {campaign!r} is not in case {case.root}; "
            "pick one listed by GET /api/campaigns (or campaigns.csv)"
        )
    if tier is not None:
        tiers: tuple[str, ...] = (tier,)
    else:
        tiers = (*FLAGGED_TIERS, "monitor") if include_monitor else FLAGGED_TIERS
    statuses = (status,) if status is not None else ("pending", "appealed")
    recs = case.scan("recommendations").filter(pl.col("tier").is_in(tiers)).collect()
    by_account: dict[str, list[dict[str, Any]]] = {}
    for e in all_entries:
        by_account.setdefault(e["account_id"], []).append(e)
    states = {a: state(es) for a, es in by_account.items()}
    rec_of = {r["account_id"]: r for r in case.scan("recommendations").collect().iter_rows(named=True)}
    rows = []
    for r in recs.iter_rows(named=True):
        current = states.get(r["account_id"], {}).get("status", "pending")
        if current == "appealed" or current not in statuses:  # open appeals are listed below
            continue
        kind = "new" if current == "pending" else "reviewed"
        rows.append(_queue_row(r["account_id"], r, kind, r["priority"] or 0.0, current))
    if "appealed" in statuses:
        for account, s in states.items():
            rec = rec_of.get(account, {})
            if s["status"] == "appealed" and (tier is None or rec.get("tier", "none") == tier):
                priority = APPEAL_PRIORITY + (rec.get("priority") or 0.0)
                rows.append(_queue_row(account, rec, "appeal", priority, "appealed"))
    if campaign is not None:
        rows = [row for row in rows if row["campaign_id"] == campaign]
    rows.sort(key=lambda row: (-row["priority"], row["account_id"]))
    return rows[:limit] if limit is not None else rows


def _has_campaign(case: Case, campaign_id: str) -> bool:
    found = case.scan("campaigns").filter(pl.col("campaign_id") == campaign_id).select(pl.len()).collect()
    return bool(found.item())


def _queue_row(account: str, rec: dict[str, Any], kind: str, priority: float, status: str) -> dict[str, Any]:
    return {
        "account_id": account,
        "screen_name": rec.get("screen_name"),
        "kind": kind,
        "status": status,
        "tier": rec.get("tier", "none"),
        "priority": round(priority, 4),
        "campaign_id": rec.get("campaign_id"),
        "reasons": rec.get("reasons"),
    }


def metrics(case: Case) -> dict[str, Any]:
    """Counts of decisions and appeals, and the overturn rate (overturned / resolved appeals)."""
    entries = log.entries(case)
    decisions = [e for e in entries if e["event"] == "decision"]
    outcomes = [e for e in entries if e["event"] == "appeal_outcome"]
    by_action = {a: sum(1 for d in decisions if d["action"] == a) for a in ACTIONS}
    n_appeals = sum(1 for e in entries if e["event"] == "appeal")
    overturned = sum(1 for o in outcomes if o["action"] == "overturned")
    upheld = sum(1 for o in outcomes if o["action"] == "upheld")
    resolved = overturned + upheld
    appealable = sum(by_action[a] for a in APPEALABLE)
    return {
        "decisions": len(decisions),
        "by_action": by_action,
        "appeals": n_appeals,
        "open_appeals": n_appeals - resolved,
        "upheld": upheld,
        "overturned": overturned,
        "overturn_rate": round(overturned / resolved, 4) if resolved else None,
        "appeal_rate": round(n_appeals / appealable, 4) if appealable else None,
    }
