"""The audit log's hash chain catches edited, deleted, reordered and cut-off entries."""

from __future__ import annotations

import pytest

from cibwatch.review import appeal, decide, resolve_appeal, verify_log
from cibwatch.review.log import GENESIS, canonical_json, entries, entry_hash
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


def test_a_rehashed_edit_still_breaks_the_next_link(logged: Case) -> None:
    # A forger who recomputes the edited entry's own hash still breaks the following entry's prev_hash.
    row = entries(logged)[1]
    row["reason"] = "forged"
    logged.con.execute(
        "UPDATE review_log SET reason = ?, entry_hash = ? WHERE seq = 2", ["forged", entry_hash(row)]
    )
    report = verify_log(logged)
    assert report.problems == [
        "entry 3 does not link to the entry before it: an entry was deleted, inserted or reordered"
    ]


def test_cutting_off_the_tail_is_caught_by_an_anchored_head(logged: Case) -> None:
    head = verify_log(logged).head
    decide(logged, "b1", "restrict", reviewer="ana", reason="kept spamming")
    assert verify_log(logged, expect_head=head).ok  # entries appended after the anchor are fine
    logged.con.execute("DELETE FROM review_log WHERE seq >= 4")
    assert verify_log(logged).ok  # a shorter chain is still a chain…
    report = verify_log(logged, expect_head=head)
    assert not report.ok and "cut off" in report.problems[0]  # …but not the one that was published


def test_empty_log_verifies(case: Case) -> None:
    report = verify_log(case)
    assert report.ok and report.entries == 0 and report.head == GENESIS
