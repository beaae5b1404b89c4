"""Case files: everything about one account, as JSON-ready data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cibwatch.errors import CaseError
from cibwatch.review import decide
from cibwatch.store.case import Case
from cibwatch.views import case_file


def test_case_file_holds_profile_scores_edges_evidence_campaign_and_recommendation(case: Case) -> None:
    cf = case_file(case, "op1")
    json.dumps(cf)  # JSON-ready as is: the report and the CLI render the same record
    assert [p["screen_name"] for p in cf["profiles"]] == ["patriot_jane01"]
    assert cf["profiles"][0]["created_at"] == "2016-01-10T00:00:00+00:00"
    assert cf["bot_score"]["bot_score"] == 0.95
    assert cf["bot_score"]["top_reasons"] == "default profile image; young account"
    assert cf["coordination"]["cluster_id"] == "k1"
    partners = {(e["partner"], e["trace"]) for e in cf["edges"]}
    assert ("op2", "hashtag") in partners and ("op5", "repost") in partners and ("op7", "url") in partners
    edge = next(e for e in cf["edges"] if (e["partner"], e["trace"]) == ("op2", "repost"))
    assert (edge["observed"], edge["expected"], edge["q_value"]) == (12, 0.3, 1e-6)
    assert edge["observed_over_expected"] == 40.0
    assert edge["n_evidence"] == len(edge["evidence"]) == 12
    first = edge["evidence"][0]
    assert first == {
        "item": "rt0",
        "post_id": "op1-repost-rt0",
        "partner_post_id": "op2-repost-rt0",
        "time": "2016-09-01T12:00:00+00:00",
        "partner_time": "2016-09-01T12:00:12+00:00",
        "gap_s": 12.0,
    }
    (campaign,) = cf["campaigns"]
    assert campaign["campaign_id"] == "camp-k1" and campaign["member"]["role"] == "core"
    assert "details" not in campaign  # the campaign's own record is in the campaigns table
    rec = cf["recommendation"]
    assert rec["tier"] == "enforce-eligible"
    assert {s["group"] for s in rec["rests_on"]} == set(rec["lines"])
    assert cf["decisions"] == []


def test_partner_side_of_an_edge_is_seen_from_the_account(case: Case) -> None:
    cf = case_file(case, "op2")
    edge = next(e for e in cf["edges"] if (e["partner"], e["trace"]) == ("op1", "repost"))
    assert edge["evidence"][0]["post_id"] == "op2-repost-rt0"
    assert edge["evidence"][0]["partner_post_id"] == "op1-repost-rt0"


def test_evidence_limit_keeps_the_full_count(case: Case) -> None:
    edge = case_file(case, "op1", evidence_limit=3)["edges"][0]
    assert len(edge["evidence"]) == 3 and edge["n_evidence"] > 3


def test_accounts_with_little_data_still_have_a_case_file(case: Case) -> None:
    cf = case_file(case, "bg05")
    assert cf["bot_score"] is None and cf["edges"] == [] and cf["campaigns"] == []
    assert cf["recommendation"]["tier"] == "none"


def test_decisions_appear_in_the_case_file(case: Case) -> None:
    decide(case, "op1", "label", reviewer="ana", reason="co-reposting network")
    (entry,) = case_file(case, "op1")["decisions"]
    assert (entry["event"], entry["action"], entry["actor"]) == ("decision", "label", "ana")
    assert "decisions" not in case_file(case, "op1", include_review=False)


def test_unknown_account_says_how_to_find_one(case: Case) -> None:
    with pytest.raises(CaseError, match="review queue"):
        case_file(case, "no-such-account")


def test_case_files_are_byte_identical_to_before_the_read_model(case: Case) -> None:
    """Review stores each case file as evidence keyed by its hash: its JSON must not drift.

    ``data/case_file_sha256.json`` holds the sha256 of ``json.dumps`` of every account's case file
    (without decisions) from ``cibwatch.campaigns.case_file``, the function this one replaced.
    """
    expected = json.loads((Path(__file__).parent / "data" / "case_file_sha256.json").read_text())

    def digest(account: str) -> str:
        return hashlib.sha256(json.dumps(case_file(case, account, include_review=False)).encode()).hexdigest()

    changed = sorted(a for a in expected if digest(a) != expected[a])
    assert not changed, f"case files changed for {changed}: bump CASE_FILE_VERSION if that is meant"
