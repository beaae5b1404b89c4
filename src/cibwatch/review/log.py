"""The append-only, hash-chained review audit log and the immutable evidence snapshots.

Both live in the case's DuckDB file (``case.duckdb``), not in ``tables/``, so rerunning detection
(which replaces the Parquet stage tables) never touches them:

- ``review_log``: one row per decision, appeal and appeal outcome. ``entry_hash`` is the sha256 of
  the canonical JSON of every other column, ``prev_hash`` included, so editing, deleting or
  reordering any row breaks the chain from there on.
- ``review_evidence``: the case file a reviewer saw, keyed by the sha256 of its canonical JSON.

DuckDB has no triggers, so "append-only" is kept by this module and *checked* by ``verify``. Cutting
entries off the end leaves a valid shorter chain: publish the head hash ``verify`` prints and check it
later with ``verify(case, expect_head=...)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cibwatch.store.case import Case

GENESIS = "0" * 64
LOG_COLUMNS = (
    "seq", "logged_at", "actor", "event", "account_id", "action", "reason", "refers_to",
    "evidence_snapshot_id", "tier", "model_version", "policy_version", "prev_hash",
)  # fmt: skip

_DDL = """
CREATE TABLE IF NOT EXISTS review_log (
    seq BIGINT NOT NULL,              -- 1, 2, 3, … in append order
    logged_at VARCHAR NOT NULL,       -- ISO-8601 UTC time of the entry
    actor VARCHAR NOT NULL,           -- reviewer, or the appellant for an appeal
    event VARCHAR NOT NULL,           -- decision | appeal | appeal_outcome
    account_id VARCHAR NOT NULL,
    action VARCHAR,                   -- dismiss|label|restrict|suspend, or upheld|overturned
    reason VARCHAR,                   -- the reviewer's reason, or the appellant's statement
    refers_to BIGINT,                 -- appeal -> its decision's seq; outcome -> its appeal's seq
    evidence_snapshot_id VARCHAR,     -- review_evidence.snapshot_id seen at that moment
    tier VARCHAR,                     -- recommendation tier at that moment
    model_version VARCHAR,            -- bot model version at that moment
    policy_version VARCHAR,           -- policy the recommendation was made under
    prev_hash VARCHAR NOT NULL,
    entry_hash VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS review_evidence (
    snapshot_id VARCHAR NOT NULL,     -- sha256 of content
    account_id VARCHAR NOT NULL,
    taken_at VARCHAR NOT NULL,
    content VARCHAR NOT NULL          -- canonical JSON of the case file (without decision history)
);
"""


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(entry: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of the entry's columns (``prev_hash`` included)."""
    return hashlib.sha256(canonical_json({k: entry.get(k) for k in LOG_COLUMNS}).encode()).hexdigest()


def ensure_tables(case: Case) -> None:
    case.con.execute(_DDL)


def has_log(case: Case) -> bool:
    n = case.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'review_log'")
    return bool(n)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def store_snapshot(case: Case, account_id: str, content: Mapping[str, Any], taken_at: str) -> str:
    """Store a case file once, immutably, under the sha256 of its canonical JSON; return that id."""
    text = canonical_json(content)
    snapshot_id = hashlib.sha256(text.encode()).hexdigest()
    case.con.execute(
        """INSERT INTO review_evidence SELECT ?, ?, ?, ?
           WHERE NOT EXISTS (SELECT 1 FROM review_evidence WHERE snapshot_id = ?)""",
        [snapshot_id, account_id, taken_at, text, snapshot_id],
    )
    return snapshot_id


def load_snapshot(case: Case, snapshot_id: str) -> dict[str, Any] | None:
    rows = case.con.execute(
        "SELECT taken_at, content FROM review_evidence WHERE snapshot_id = ? LIMIT 1", [snapshot_id]
    ).fetchall()
    if not rows:
        return None
    return {"snapshot_id": snapshot_id, "taken_at": rows[0][0], "content": json.loads(rows[0][1])}


def append(case: Case, entry: dict[str, Any]) -> dict[str, Any]:
    """Add ``entry`` after the current head, in one transaction; return it with seq and hashes."""
    con = case.con
    con.execute("BEGIN TRANSACTION")
    try:
        last = con.execute("SELECT seq, entry_hash FROM review_log ORDER BY seq DESC LIMIT 1").fetchall()
        seq, prev = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS)
        full = {k: entry.get(k) for k in LOG_COLUMNS} | {"seq": seq, "prev_hash": prev}
        full["entry_hash"] = entry_hash(full)
        cols = [*LOG_COLUMNS, "entry_hash"]
        con.execute(
            f"INSERT INTO review_log ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [full[c] for c in cols],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return full


def entries(case: Case, account_id: str | None = None) -> list[dict[str, Any]]:
    """Log entries in chain order, for one account or all."""
    if not has_log(case):
        return []
    where, params = ("WHERE account_id = ?", [account_id]) if account_id is not None else ("", [])
    cur = case.con.execute(f"SELECT * FROM review_log {where} ORDER BY seq", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@dataclass
class VerifyReport:
    """The result of walking the chain; ``ok`` only when ``problems`` is empty."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head": self.head, "problems": self.problems}


def verify(case: Case, expect_head: str | None = None) -> VerifyReport:
    """Recompute every hash and link; report each edited, missing, reordered or unanchored entry."""
    rows = entries(case)
    problems: list[str] = []
    prev = GENESIS
    seen_hashes = set()
    for position, row in enumerate(rows, start=1):
        seq = row["seq"]
        if seq != position:
            problems.append(
                f"entry at position {position} has seq {seq}: an entry was deleted, duplicated or moved"
            )
        if row["prev_hash"] != prev:
            problems.append(
                f"entry {seq} does not link to the entry before it: "
                "an entry was deleted, inserted or reordered"
            )
        if entry_hash(row) != row["entry_hash"]:
            problems.append(
                f"entry {seq} ({row['event']} on {row['account_id']}) was edited: its hash does not match"
            )
        snapshot_id = row["evidence_snapshot_id"]
        if snapshot_id is not None:
            snap = case.con.execute(
                "SELECT content FROM review_evidence WHERE snapshot_id = ?", [snapshot_id]
            ).fetchall()
            if not snap:
                problems.append(f"entry {seq}: its evidence snapshot {snapshot_id[:12]}… is missing")
            elif any(hashlib.sha256(s[0].encode()).hexdigest() != snapshot_id for s in snap):
                problems.append(f"entry {seq}: its evidence snapshot {snapshot_id[:12]}… was edited")
        prev = row["entry_hash"]
        seen_hashes.add(prev)
    if (
        expect_head is not None
        and expect_head not in seen_hashes
        and not (expect_head == GENESIS and not rows)
    ):
        problems.append(
            f"the anchored head {expect_head[:12]}… is not in the chain: entries were cut off or rewritten"
        )
    return VerifyReport(entries=len(rows), head=prev, problems=problems)
