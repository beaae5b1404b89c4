"""The tamper suite: ways to falsify the review log without its key, and which check catches each.

Three checks, from weakest to strongest:

- ``alone``: the rows and the published public key, no checkpoint (``log.verify_chain``; what a
  holder of an exported log can check);
- ``case``: ``cibwatch review verify-log`` — adds the case's own checkpoint and key files;
- ``kept``: ``verify-log --checkpoint FILE`` with a checkpoint written out before the tampering.

Every case is caught with a kept checkpoint. The table in docs/review.md ("What is detected") says
which the other two catch; ``test_the_docs_table_is_what_the_code_does`` holds the two together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cibwatch.review import decide, log, signing
from cibwatch.review.log import entries, entry_hash
from cibwatch.store.case import Case

DOCS = Path(__file__).parents[2] / "docs" / "review.md"
CHECKS = ("alone", "case", "kept")
ACCOUNTS = ("op1", "op2", "op3", "op4", "b1")  # five decisions, as in the measurement


# -- the forger's tools: SQL on case.duckdb, hashing, files in the case; never keys/ ------------------
def _update(case: Case, at_seq: int, /, **values: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    case.con.execute(f"UPDATE review_log SET {sets} WHERE seq = ?", [*values.values(), at_seq])


def _rehash_from(case: Case, first_seq: int) -> None:
    """Recompute prev_hash and entry_hash from ``first_seq`` on, as a forger without the key can."""
    rows = entries(case)
    prev = log.GENESIS
    for row in rows:
        if row["seq"] >= first_seq:
            row["prev_hash"] = prev
            new = entry_hash(row)
            _update(case, row["seq"], prev_hash=prev, entry_hash=new)
            row["entry_hash"] = new
        prev = row["entry_hash"]


def _insert(case: Case, row: dict[str, Any]) -> None:
    cols = [*log.LOG_COLUMNS, "entry_hash", "signature"]
    case.con.execute(
        f"INSERT INTO review_log ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row.get(c) for c in cols],
    )


def _appended(case: Case, **changes: Any) -> dict[str, Any]:
    """A validly hashed entry after the head, like the last one but with ``changes``."""
    last = entries(case)[-1]
    row = last | {"seq": last["seq"] + 1, "prev_hash": last["entry_hash"], "signature": None} | changes
    row["entry_hash"] = entry_hash(row)
    return row


def edit_field(case: Case) -> None:
    _update(case, 3, reason="quietly softened")


def edit_and_rehash_one(case: Case) -> None:
    edit_field(case)
    row = entries(case)[2]
    _update(case, 3, entry_hash=entry_hash(row))


def rewrite_and_rehash_chain(case: Case) -> None:
    _update(case, 3, action="dismiss")
    _rehash_from(case, 3)


def delete_middle(case: Case) -> None:
    case.con.execute("DELETE FROM review_log WHERE seq = 3")


def delete_and_renumber(case: Case) -> None:
    delete_middle(case)
    for seq in (4, 5):
        _update(case, seq, seq=seq - 1)
    _rehash_from(case, 3)


def swap_two(case: Case) -> None:
    case.con.execute("UPDATE review_log SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)")


def cut_last(case: Case) -> None:
    case.con.execute("DELETE FROM review_log WHERE seq = 5")


def cut_several(case: Case) -> None:
    case.con.execute("DELETE FROM review_log WHERE seq >= 3")


def delete_every_row(case: Case) -> None:
    case.con.execute("DELETE FROM review_log")


def drop_table(case: Case) -> None:
    case.con.execute("DROP TABLE review_log")


def backdated_append(case: Case) -> None:
    _insert(case, _appended(case, logged_at="2020-01-01T00:00:00.000000+00:00", reason="back-dated"))


def forged_signed_append(case: Case) -> None:
    row = _appended(case, reason="signed with a key of my own")
    row["signature"] = signing.sign_entry(Ed25519PrivateKey.generate(), row["entry_hash"])
    _insert(case, row)


def change_prev_hash(case: Case) -> None:
    _update(case, 4, prev_hash="f" * 64)


def duplicate_entry(case: Case) -> None:
    _insert(case, entries(case)[1])


def edit_evidence_snapshot(case: Case) -> None:
    snapshot = entries(case)[1]["evidence_snapshot_id"]
    case.con.execute(
        "UPDATE review_evidence SET content = replace(content, 'op2', 'opX') WHERE snapshot_id = ?",
        [snapshot],
    )


def change_seq(case: Case) -> None:
    _update(case, 5, seq=7)


def cut_last_and_delete_checkpoint(case: Case) -> None:
    cut_last(case)
    signing.case_checkpoint_path(case.root).unlink()


def cut_last_and_replay_checkpoint(case: Case) -> None:
    """Cut the last entry and put back the case checkpoint saved before it was written."""
    cut_last(case)
    signing.write_checkpoint(signing.case_checkpoint_path(case.root), case.saved_checkpoint)  # type: ignore[attr-defined]


def resign_with_own_key(case: Case) -> None:
    """Rewrite, re-sign every entry with a new key, and replace the public key and case checkpoint."""
    rewrite_and_rehash_chain(case)
    forger = Ed25519PrivateKey.generate()
    for row in entries(case):
        _update(case, row["seq"], signature=signing.sign_entry(forger, row["entry_hash"]))
    (case.root / signing.PUBLIC_KEY_FILE).write_text(signing.pem_of(forger.public_key()))
    last = entries(case)[-1]
    cp = signing.make_checkpoint(
        forger, seq=last["seq"], head=last["entry_hash"], count=last["seq"], at=log.now_iso()
    )
    signing.write_checkpoint(signing.case_checkpoint_path(case.root), cp)


TAMPERS: dict[str, Callable[[Case], None]] = {
    f.__name__: f
    for f in (
        edit_field, edit_and_rehash_one, rewrite_and_rehash_chain, delete_middle, delete_and_renumber,
        swap_two, cut_last, cut_several, delete_every_row, drop_table, backdated_append,
        forged_signed_append, change_prev_hash, duplicate_entry, edit_evidence_snapshot, change_seq,
        cut_last_and_delete_checkpoint, cut_last_and_replay_checkpoint, resign_with_own_key,
    )
}  # fmt: skip


@pytest.fixture
def five(case: Case) -> Case:
    for account in ACCOUNTS[:4]:
        decide(case, account, "label", reviewer="ana", reason=f"automated spam from {account}")
    case.saved_checkpoint = signing.read_checkpoint(signing.case_checkpoint_path(case.root))  # type: ignore[attr-defined]
    decide(case, ACCOUNTS[4], "label", reviewer="ana", reason="automated spam")
    case.kept_checkpoint = log.checkpoint(case)  # type: ignore[attr-defined]
    assert log.verify(case).ok and log.verify_chain(case).ok
    return case


def caught(case: Case) -> dict[str, bool]:
    """Which of the three checks fail on the case as it is now."""
    return {
        "alone": not log.verify_chain(case).ok,
        "case": not log.verify(case).ok,
        "kept": not log.verify(case, checkpoint=case.kept_checkpoint).ok,  # type: ignore[attr-defined]
    }


def documented() -> dict[str, dict[str, bool]]:
    """The table under "What is detected" in docs/review.md: tamper name -> check -> caught."""
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+)` \|[^|]*\|" + r"\s*(yes|no)\s*\|" * 3 + r"$", line)
        if match:
            rows[match.group(1)] = {c: match.group(2 + i) == "yes" for i, c in enumerate(CHECKS)}
    return rows


def test_an_untouched_log_passes_every_check(five: Case) -> None:
    assert caught(five) == dict.fromkeys(CHECKS, False)


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_the_docs_table_is_what_the_code_does(five: Case, name: str) -> None:
    TAMPERS[name](five)
    result = caught(five)
    assert result["kept"], f"{name} passes a kept checkpoint"
    assert result == documented()[name]


def test_the_docs_table_lists_exactly_the_tamper_suite() -> None:
    assert sorted(documented()) == sorted(TAMPERS)
