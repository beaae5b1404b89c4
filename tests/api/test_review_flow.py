"""The review flow end to end over HTTP: decide, appeal, resolve, history, and the audit log's check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient


def post(client: TestClient, path: str, body: dict) -> dict:
    response = client.post(f"/api/review/{path}", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_decide_appeal_resolve_then_the_log_verifies(as_user: Callable[[str], TestClient]) -> None:
    client, ana, ben, jane = as_user("vic"), as_user("ana"), as_user("ben"), as_user("jane")
    decision = post(ana, "op1/decision", {"action": "suspend", "reason": "core of camp-k1"})
    assert (decision["seq"], decision["event"], decision["tier"]) == (1, "decision", "enforce-eligible")
    assert len(decision["evidence_snapshot_id"]) == 64 and decision["prev_hash"] == "0" * 64
    assert "op1" not in [q["account_id"] for q in client.get("/api/review/queue").json()]

    appeal = post(jane, "op1/appeal", {"statement": "I am a real person"})
    assert (appeal["event"], appeal["refers_to"], appeal["actor"]) == ("appeal", 1, "jane")
    head = client.get("/api/review/queue").json()[0]
    assert (head["account_id"], head["kind"]) == ("op1", "appeal")

    # While the appeal is open no new decision; the original decider may not judge the appeal.
    again = ben.post("/api/review/op1/decision", json={"action": "label", "reason": "x"})
    assert again.status_code == 409 and "has an open appeal" in again.json()["error"]
    own = ana.post("/api/review/op1/appeal/resolve", json={"outcome": "upheld", "reason": "mine"})
    assert own.status_code == 409 and "must be decided by another reviewer" in own.json()["error"]

    outcome = post(ben, "op1/appeal/resolve", {"outcome": "overturned", "reason": "a news feed"})
    assert (outcome["event"], outcome["action"], outcome["refers_to"]) == ("appeal_outcome", "overturned", 2)
    twice = jane.post("/api/review/op1/appeal", json={"statement": "again"})
    assert twice.status_code == 409 and "one appeal per decision" in twice.json()["error"]

    history = client.get("/api/review/op1/history").json()
    assert [(e["seq"], e["event"], e["actor"]) for e in history] == [
        (1, "decision", "ana"),
        (2, "appeal", "jane"),
        (3, "appeal_outcome", "ben"),
    ]
    assert [e["prev_hash"] for e in history[1:]] == [e["entry_hash"] for e in history[:-1]]
    assert client.get("/api/accounts/op1").json()["decisions"] == history

    check = client.get("/api/review/verify-log").json()
    assert (check["ok"], check["entries"], check["head"]) == (True, 3, history[-1]["entry_hash"])
    assert check["problems"] == [] and check["checkpoint"]["count"] == 3
    metrics = client.get("/api/review/metrics").json()
    assert (metrics["decisions"], metrics["appeals"], metrics["overturned"]) == (1, 1, 1)
    assert metrics["overturn_rate"] == 1.0 and metrics["by_action"]["suspend"] == 1


def test_an_edited_row_fails_verification(client: TestClient, case_dir: Path) -> None:
    post(client, "op5/decision", {"action": "restrict", "reason": "amplifier"})
    post(client, "op5/appeal", {"statement": "I only retweet what I like"})
    head = client.get("/api/review/verify-log").json()["head"]
    # The app holds case.duckdb only during a request, so another process can edit it in between.
    with duckdb.connect(str(case_dir / "case.duckdb")) as con:
        con.execute("UPDATE review_log SET reason = 'I am a bot' WHERE seq = 2")
    check = client.get("/api/review/verify-log").json()
    assert check["ok"] is False and check["entries"] == 2
    assert check["problems"] == ["entry 2 (appeal on op5) was edited: its hash does not match"]
    # The overview shows it too, with the problem as text.
    page = client.get("/").text
    assert "The audit log fails verification" in page and "entry 2 (appeal on op5) was edited" in page
    # A chain cut back to an earlier head is caught by the anchored head.
    with duckdb.connect(str(case_dir / "case.duckdb")) as con:
        con.execute("DELETE FROM review_log WHERE seq = 2")
    cut = client.get("/api/review/verify-log", params={"expect_head": head}).json()
    assert cut["ok"] is False and "entries were cut off or rewritten" in cut["problems"][-1]
