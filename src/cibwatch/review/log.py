"""The append-only, hash-chained, signed review audit log and the immutable evidence snapshots.

Both live in the case's DuckDB file (``case.duckdb``), not in ``tables/``, so rerunning detection
(which replaces the Parquet stage tables) never touches them:

- ``review_log``: one row per decision, appeal and appeal outcome. ``entry_hash`` is the sha256 of
  the canonical JSON of every other column, ``prev_hash`` included, so editing, deleting or
  reordering any row breaks the chain from there on. ``signature`` is the case key's Ed25519
  signature of ``entry_hash`` (``signing``): rehashing the chain needs the key.
- ``review_evidence``: the case file a reviewer saw, keyed by the sha256 of its canonical JSON.

DuckDB has no triggers, so "append-only" is kept by this module and *checked* by ``verify``. Every
append also writes a signed checkpoint of the new head beside the database; cutting entries off the
end, emptying or dropping the table fails against it. A checkpoint kept outside the case
(``cibwatch review checkpoint --out``) also survives someone who swaps in an older checkpoint file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from cibwatch.errors import AuditLogError, ConfigError
from cibwatch.review import signing
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
    entry_hash VARCHAR NOT NULL,
    signature VARCHAR                 -- Ed25519 signature of entry_hash (hex); NULL before signing
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
    columns = case.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'review_log'"
    ).fetchall()
    if ("signature",) not in columns:  # a log written before entries were signed
        case.con.execute("ALTER TABLE review_log ADD COLUMN signature VARCHAR")


def has_log(case: Case) -> bool:
    return case.has_db_table("review_log")


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


P = ParamSpec("P")
R = TypeVar("R")
_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


@contextmanager
def writing(case: Case) -> Iterator[None]:
    """Hold the case's review write lock (one per case in this process, re-entrant).

    DuckDB never conflicts two appends, so two threads could read the same head and fork the
    chain; other processes are kept out by DuckDB's own file lock.
    """
    key = os.path.realpath(case.db_path)
    with _write_locks_guard:
        lock = _write_locks.setdefault(key, threading.RLock())
    with lock:
        yield


def serialized(fn: Callable[Concatenate[Case, P], R]) -> Callable[Concatenate[Case, P], R]:
    """Run a review write (its state check and its append) under ``writing(case)``."""

    @functools.wraps(fn)
    def wrapper(case: Case, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with writing(case):
            return fn(case, *args, **kwargs)

    return wrapper


def append(case: Case, entry: dict[str, Any]) -> dict[str, Any]:
    """Add ``entry`` after the current head, signed, in one transaction; return it with seq and hashes.

    Refuses (``AuditLogError``) when the log no longer extends its last checkpoint: appending to a
    cut log would make the cut look like history.
    """
    with writing(case):
        key = signing.signing_key(case.root)
        cp_path = signing.case_checkpoint_path(case.root)
        con = case.con
        if not cp_path.exists() and not con.execute("SELECT count(*) FROM review_log").fetchall()[0][0]:
            # The key is new: record the empty log, so a log emptied later fails against it.
            signing.write_checkpoint(cp_path, signing.make_checkpoint(key, seq=0, head=GENESIS, count=0,
                                                                      at=now_iso()))  # fmt: skip
        if cp_path.exists():
            problems = _against_checkpoint(case, signing.read_checkpoint(cp_path), "the last checkpoint")
            if problems:
                raise AuditLogError(
                    "refusing to append to the audit log: " + "; ".join(problems)
                    + f". Run `cibwatch review verify-log --case {case.root}`"
                )  # fmt: skip
        con.execute("BEGIN TRANSACTION")
        try:
            last = con.execute("SELECT seq, entry_hash FROM review_log ORDER BY seq DESC LIMIT 1").fetchall()
            seq, prev = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS)
            full = {k: entry.get(k) for k in LOG_COLUMNS} | {"seq": seq, "prev_hash": prev}
            full["entry_hash"] = entry_hash(full)
            full["signature"] = signing.sign_entry(key, full["entry_hash"])
            cols = [*LOG_COLUMNS, "entry_hash", "signature"]
            con.execute(
                f"INSERT INTO review_log ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [full[c] for c in cols],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        # After the commit: a crash in between leaves a checkpoint behind the log, which still extends it.
        cp = signing.make_checkpoint(key, seq=seq, head=full["entry_hash"], count=seq, at=now_iso())
        signing.write_checkpoint(cp_path, cp)
    return full


def entries(case: Case, account_id: str | None = None, *, after_seq: int = 0) -> list[dict[str, Any]]:
    """Log entries in chain order, for one account or all (only those after ``after_seq``)."""
    if not has_log(case):
        return []
    where, params = "WHERE seq > ?", list[object]([after_seq])
    if account_id is not None:
        where, params = where + " AND account_id = ?", [after_seq, account_id]
    cur = case.con.execute(f"SELECT * FROM review_log {where} ORDER BY seq", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@dataclass
class VerifyReport:
    """The result of walking the chain; ``ok`` only when ``problems`` is empty.

    ``checked`` is how many entries this run walked (fewer than ``entries`` when incremental);
    ``checkpoint`` is the seq/count/time of the last checkpoint the log was checked against.
    """

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    checkpoint: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "problems": self.problems,
            "checked": self.checked,
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class _Verified:
    """What a clean run saw: the last entry walked and fingerprints of every row up to it."""

    seq: int
    head: str
    fingerprint: str


# Per process, keyed by database path and trusted key: speeds up ``verify(incremental=True)`` only.
_verified: dict[tuple[str, str], _Verified] = {}
_verified_guard = threading.Lock()


def _fingerprint(case: Case, upto_seq: int) -> str:
    """md5 of every log row up to ``upto_seq`` and of the evidence they cite, computed inside DuckDB."""
    log_rows = """SELECT count(*) || ':' || coalesce(md5(string_agg(to_json(l)::VARCHAR, chr(10)
                      ORDER BY seq, entry_hash)), '') FROM review_log l WHERE seq <= ?"""
    cited = """SELECT count(*) || ':' || coalesce(md5(string_agg(to_json(e)::VARCHAR, chr(10)
                   ORDER BY snapshot_id, taken_at, content)), '') FROM review_evidence e
               WHERE snapshot_id IN (SELECT evidence_snapshot_id FROM review_log WHERE seq <= ?)"""
    row = case.con.execute(f"SELECT ({log_rows}) || '/' || ({cited})", [upto_seq, upto_seq]).fetchall()
    return str(row[0][0])


def check_expect_head(expect_head: str) -> str:
    value = expect_head.strip().lower()
    if not signing.HASH_RE.fullmatch(value):
        raise ConfigError(
            "expect_head (--expect-head) takes the full 64-hex head hash that verify-log, decide or "
            "checkpoint print. "
            f"Got {expect_head!r} instead."
        )
    return value


def verify(
    case: Case,
    expect_head: str | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    *,
    incremental: bool = False,
) -> VerifyReport:
    """Check every hash, link, signature and snapshot, and that the log extends its checkpoints.

    The case's own checkpoint (``review_log.checkpoint.json``) is always checked; ``checkpoint``
    is one kept outside the case, whose public key is then the one trusted. ``incremental`` walks
    only the entries after the last clean run in this process, when every row up to it is
    unchanged (an md5 over the rows says so); it is for pages shown often, not for audits.
    """
    expect_head = None if expect_head is None else check_expect_head(expect_head)
    problems: list[str] = []
    case_pem = signing.public_key_pem(case.root)
    derived = signing.derived_public_pem(case.root)
    if case_pem is not None and derived is not None and case_pem != derived:
        problems.append(f"{signing.PUBLIC_KEY_FILE} is not the public key of the case's signing key")
    trusted = case_pem
    if checkpoint is not None:
        problems += signing.checkpoint_problems(checkpoint, "the checkpoint given")
        trusted = str(checkpoint.get("public_key"))
        if case_pem is not None and case_pem != trusted:
            problems.append(
                f"{signing.PUBLIC_KEY_FILE} is not the key in the checkpoint given: "
                "the log's key was replaced"
            )
    public = None
    if trusted is not None:
        try:
            public = signing.load_public_key(trusted, signing.PUBLIC_KEY_FILE)
        except AuditLogError as exc:
            problems.append(str(exc))

    present = has_log(case)
    cache_key = (os.path.realpath(case.db_path), trusted or "")
    start = None
    if incremental and present:
        with _verified_guard:
            start = _verified.get(cache_key)
        if start is not None and _fingerprint(case, start.seq) != start.fingerprint:
            start = None  # an entry up to the cached one changed: walk the whole log
    rows = entries(case, after_seq=start.seq if start else 0)
    chain = verify_rows(
        rows, public, _snapshots(case, rows), start=(start.seq, start.head) if start else None
    )
    problems += chain.problems
    total = (start.seq if start else 0) + len(rows)  # as walked: an append meanwhile is not half-counted

    cp_path = signing.case_checkpoint_path(case.root)
    last_checkpoint = None
    if cp_path.exists():
        try:
            own = signing.read_checkpoint(cp_path)
        except AuditLogError as exc:
            problems.append(str(exc))
        else:
            problems += signing.checkpoint_problems(own, "the case's checkpoint")
            if trusted is not None and own.get("public_key") != trusted:
                problems.append("the case's checkpoint was not signed with the log's key")
            problems += _against_checkpoint(case, own, "the case's checkpoint")
            last_checkpoint = own
    elif case_pem is not None or signing.has_signing_key(case.root) or chain.signed:
        problems.append(
            f"the case's checkpoint {cp_path.name} is missing although the log was signed: it was "
            "deleted, and entries may have been cut with it"
        )
    if checkpoint is not None:
        problems += _against_checkpoint(case, checkpoint, "the checkpoint given")
        last_checkpoint = dict(checkpoint)
    if expect_head is not None and expect_head != GENESIS:
        found = present and case.scalar("SELECT count(*) FROM review_log WHERE entry_hash = ?", [expect_head])
        if not found:
            problems.append(
                f"the anchored head {expect_head} is not in the chain: entries were cut off or rewritten"
            )

    if not problems and total:  # a clean chain runs 1…total and ends at chain.head
        with _verified_guard:
            _verified[cache_key] = _Verified(total, chain.head, _fingerprint(case, total))
    summary = None
    if last_checkpoint is not None:
        summary = {k: last_checkpoint.get(k) for k in ("seq", "count", "head", "time")}
    return VerifyReport(
        entries=total, head=chain.head, problems=problems, checked=len(rows), checkpoint=summary
    )


@dataclass
class ChainCheck:
    """What the rows prove on their own: the head they end at, and what is wrong with them."""

    head: str
    problems: list[str]
    signed: int

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(case: Case, public_pem: str | None = None) -> ChainCheck:
    """Check the log with no checkpoint: what its rows and the public key alone prove.

    This is what a holder of an exported log can check. It cannot see entries cut off the end, an
    emptied or dropped table, or a chain re-signed with another key (``public_pem`` defaults to the
    case's published key); ``verify`` can.
    """
    pem = public_pem if public_pem is not None else signing.public_key_pem(case.root)
    public = None if pem is None else signing.load_public_key(pem, signing.PUBLIC_KEY_FILE)
    rows = entries(case)
    return verify_rows(rows, public, _snapshots(case, rows))


def verify_rows(
    rows: list[dict[str, Any]],
    public: signing.Ed25519PublicKey | None,
    snapshots: Mapping[str, list[str]],
    *,
    start: tuple[int, str] | None = None,
) -> ChainCheck:
    """Check a run of log rows on their own: seq, links, hashes, signatures and evidence snapshots.

    This is all a holder of the log and its public key can check without a checkpoint; ``start``
    is the (seq, hash) of the entry before ``rows`` (genesis by default).
    """
    problems: list[str] = []
    first_seq, prev = start if start is not None else (0, GENESIS)
    unsigned: list[int] = []
    bad_signatures: list[int] = []
    signed = 0
    for position, row in enumerate(rows, start=first_seq + 1):
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
        signature = row.get("signature")
        if signature is None:
            unsigned.append(seq)
        else:
            signed += 1
            if public is None or not signing.entry_signature_ok(public, row["entry_hash"], signature):
                bad_signatures.append(seq)
        snapshot_id = row["evidence_snapshot_id"]
        if snapshot_id is not None:
            contents = snapshots.get(snapshot_id)
            if not contents:
                problems.append(f"entry {seq}: its evidence snapshot {snapshot_id[:12]}… is missing")
            elif any(hashlib.sha256(c.encode()).hexdigest() != snapshot_id for c in contents):
                problems.append(f"entry {seq}: its evidence snapshot {snapshot_id[:12]}… was edited")
        prev = row["entry_hash"]
    if bad_signatures:
        why = "there is no public key" if public is None else "forged or rehashed without the log's key"
        problems.append(f"{_seqs(bad_signatures)}: the signature does not verify ({why})")
    if unsigned:
        problems.append(
            f"{_seqs(unsigned)}: unsigned (written before cibwatch signed the log, or inserted by hand); "
            "nothing proves who wrote them"
        )
    return ChainCheck(head=prev, problems=problems, signed=signed)


def _seqs(seqs: list[int]) -> str:
    shown = ", ".join(str(s) for s in seqs[:10]) + (f" and {len(seqs) - 10} more" if len(seqs) > 10 else "")
    return f"entry {shown}" if len(seqs) == 1 else f"{len(seqs)} entries ({shown})"


def _snapshots(case: Case, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The stored contents of the evidence snapshots ``rows`` refer to, by id."""
    ids = sorted({r["evidence_snapshot_id"] for r in rows if r["evidence_snapshot_id"] is not None})
    if not ids or not case.has_db_table("review_evidence"):
        return {}
    out: dict[str, list[str]] = {}
    found = case.con.execute(
        "SELECT snapshot_id, content FROM review_evidence WHERE list_contains(?, snapshot_id)", [ids]
    ).fetchall()
    for snapshot_id, content in found:
        out.setdefault(snapshot_id, []).append(content)
    return out


def _against_checkpoint(case: Case, cp: Mapping[str, Any], label: str) -> list[str]:
    """Whether the log still extends checkpoint ``cp``: as many entries, and the same one at its seq."""
    seq, count, cp_head, at = cp.get("seq"), cp.get("count"), cp.get("head"), cp.get("time")
    if not isinstance(seq, int) or not isinstance(count, int):
        return []  # checkpoint_problems reports it
    if not has_log(case):
        if count > 0:
            return [
                f"the review_log table is missing, but {label} of {at} recorded {count} entries: "
                "the table was dropped"
            ]
        return []
    n = int(case.scalar("SELECT count(*) FROM review_log"))  # type: ignore[call-overload]
    if n < count:
        return [
            f"the log has {n} entries, fewer than the {count} {label} recorded at {at}: "
            "entries were cut off or deleted"
        ]
    if seq > 0:
        hashes = [
            r[0]
            for r in case.con.execute("SELECT entry_hash FROM review_log WHERE seq = ?", [seq]).fetchall()
        ]
        if hashes != [cp_head]:
            return [
                f"entry {seq} is not the one {label} recorded at {at} (head {cp_head}): the log was rewritten"
            ]
    return []


def checkpoint(case: Case) -> dict[str, Any]:
    """A signed checkpoint of the log as it is now, after verifying it (``AuditLogError`` if it fails).

    >>> json.dump(checkpoint(case), open("case-checkpoint.json", "w"))  # doctest: +SKIP
    """
    with writing(case):
        report = verify(case)
        if not report.ok:
            raise AuditLogError(
                f"the audit log of {case.root} fails verification, so it gets no checkpoint: "
                + "; ".join(report.problems)
            )
        key = signing.signing_key(case.root)
        cp = signing.make_checkpoint(
            key, seq=report.entries, head=report.head, count=report.entries, at=now_iso()
        )
        signing.write_checkpoint(signing.case_checkpoint_path(case.root), cp)  # the case's, now verified
        return cp
