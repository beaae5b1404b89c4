"""The audit log's hash chain catches edited, deleted, reordered and cut-off entries."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cibwatch.errors import AuditLogError, ConfigError
from cibwatch.review import appeal, decide, resolve_appeal, signing, verify_log
from cibwatch.review.log import GENESIS, canonical_json, entries, entry_hash
from cibwatch.review.signing import public_key_pem
from cibwatch.store.case import Case


@pytest.fixture
def logged(case: Case) -> Case:
    decide(case, "op1", "suspend", reviewer="ana", reason="core of camp-k1")
    decide(case, "b1", "label", reviewer="ana", reason="automated spam")
    appeal(case, "op1", statement="I am a real person")
    resolve_appeal(case, "op1", "upheld", reviewer="ben", reason="40 co-reposts within seconds")
    return case


def test_a_fresh_log_verifies_and_links_every_entry(logged: Case) -> None:
    report = verify_log(logged)
    assert report.ok and report.entries == 4
    rows = entries(logged)
    assert rows[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["entry_hash"] for r in rows[:-1]]
    assert report.head == rows[-1]["entry_hash"]
    assert all(entry_hash(r) == r["entry_hash"] for r in rows)


def test_canonical_json_does_not_depend_on_key_order() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == canonical_json({"a": "é", "b": 1}) == '{"a":"é","b":1}'


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE review_log SET reason = 'no reason' WHERE seq = 2", "entry 2 (decision on b1) was edited"),
        ("UPDATE review_log SET action = 'label' WHERE seq = 1", "entry 1 (decision on op1) was edited"),
        ("UPDATE review_log SET logged_at = '2020-01-01T00:00:00+00:00' WHERE seq = 4", "entry 4"),
        ("DELETE FROM review_log WHERE seq = 2", "does not link to the entry before it"),
        # Swap two entries' places: their seq no longer matches their links.
        (
            "UPDATE review_log SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END WHERE seq IN (2, 3)",
            "entry 3",
        ),
        ("UPDATE review_evidence SET content = replace(content, 'op1', 'opX')", "evidence snapshot"),
        ("DELETE FROM review_evidence", "is missing"),
    ],
)
def test_tampering_with_the_tables_directly_is_detected(logged: Case, tamper: str, problem: str) -> None:
    logged.con.execute(tamper)
    report = verify_log(logged)
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_a_rehashed_edit_still_breaks_the_next_link_and_its_signature(logged: Case) -> None:
    # A forger who recomputes the edited entry's own hash breaks the next prev_hash and cannot sign it.
    row = entries(logged)[1]
    row["reason"] = "forged"
    logged.con.execute(
        "UPDATE review_log SET reason = ?, entry_hash = ? WHERE seq = 2", ["forged", entry_hash(row)]
    )
    report = verify_log(logged)
    assert report.problems == [
        "entry 3 does not link to the entry before it: an entry was deleted, inserted or reordered",
        "entry 2: the signature does not verify (forged or rehashed without the log's key)",
    ]


def test_cutting_off_the_tail_is_caught_by_the_checkpoint_and_an_anchored_head(logged: Case) -> None:
    head = verify_log(logged).head
    assert len(head) == 64
    decide(logged, "b1", "restrict", reviewer="ana", reason="kept spamming")
    assert verify_log(logged, expect_head=head).ok  # entries appended after the anchor are fine
    logged.con.execute("DELETE FROM review_log WHERE seq >= 4")
    report = verify_log(logged)
    assert not report.ok and "fewer than the 5 the case's checkpoint recorded" in report.problems[0]
    report = verify_log(logged, expect_head=head)
    assert any("is not in the chain" in p for p in report.problems)


def test_expect_head_takes_the_full_hash_only(logged: Case) -> None:
    head = verify_log(logged).head
    assert verify_log(logged, expect_head=head.upper()).ok
    with pytest.raises(ConfigError, match="full 64-hex head hash"):
        verify_log(logged, expect_head=head[:12])


def test_empty_log_verifies(case: Case) -> None:
    report = verify_log(case)
    assert report.ok and report.entries == 0 and report.head == GENESIS


def test_every_entry_is_signed_and_the_public_key_is_published(logged: Case) -> None:
    pem = public_key_pem(logged.root)
    assert pem is not None and pem.startswith("-----BEGIN PUBLIC KEY-----") and public_key_pem(logged) == pem
    key = signing.load_public_key(pem, "test")
    assert all(signing.entry_signature_ok(key, r["entry_hash"], r["signature"]) for r in entries(logged))
    secret_file = logged.root / "keys" / signing.KEY_SECRET
    assert secret_file.stat().st_mode & 0o777 == 0o600
    own = signing.read_checkpoint(logged.root / signing.CHECKPOINT_FILE)
    assert (own["seq"], own["count"], own["head"]) == (4, 4, entries(logged)[-1]["entry_hash"])


def test_a_log_from_before_signing_is_reported_unsigned(logged: Case) -> None:
    # An old log: no signature column, no key, no checkpoint.
    logged.con.execute("ALTER TABLE review_log DROP COLUMN signature")
    for name in (signing.PUBLIC_KEY_FILE, signing.CHECKPOINT_FILE, f"keys/{signing.KEY_SECRET}"):
        (logged.root / name).unlink()
    unsigned = (
        "4 entries (1, 2, 3, 4): unsigned (written before cibwatch signed the log, or inserted by hand); "
        "nothing proves who wrote them"
    )
    assert verify_log(logged).problems == [unsigned]
    # New decisions on it are signed; the old entries keep failing (signing them would bless them).
    entry = decide(logged, "b1", "restrict", reviewer="ana", reason="kept spamming")
    assert entry["signature"] and entries(logged)[-1]["signature"] == entry["signature"]
    assert verify_log(logged).problems == [unsigned]


def test_a_replaced_public_key_is_caught(logged: Case) -> None:
    other = signing.pem_of(Ed25519PrivateKey.generate().public_key())
    (logged.root / signing.PUBLIC_KEY_FILE).write_text(other)
    problems = verify_log(logged).problems
    assert f"{signing.PUBLIC_KEY_FILE} is not the public key of the case's signing key" in problems
    assert any("the signature does not verify" in p for p in problems)


def test_appending_to_a_cut_log_is_refused(logged: Case) -> None:
    # Else the next decision's checkpoint would make the cut look like history.
    logged.con.execute("DELETE FROM review_log WHERE seq = 4")
    with pytest.raises(AuditLogError, match="refusing to append to the audit log"):
        decide(logged, "b1", "restrict", reviewer="ana", reason="kept spamming")
    assert len(entries(logged)) == 3


def test_incremental_verify_walks_only_new_entries_and_still_sees_old_edits(logged: Case) -> None:
    assert verify_log(logged, incremental=True).checked == 4  # first run: everything
    decide(logged, "b1", "restrict", reviewer="ana", reason="kept spamming")
    report = verify_log(logged, incremental=True)
    assert report.ok and report.checked == 1 and report.entries == 5
    logged.con.execute("UPDATE review_log SET reason = 'quietly changed' WHERE seq = 2")
    report = verify_log(logged, incremental=True)
    assert report.checked == 5 and any("entry 2 (decision on b1) was edited" in p for p in report.problems)
    logged.con.execute("UPDATE review_evidence SET content = content || ' '")
    logged.con.execute("UPDATE review_log SET reason = 'automated spam' WHERE seq = 2")
    report = verify_log(logged, incremental=True)
    assert report.checked == 5 and any("was edited" in p for p in report.problems)
