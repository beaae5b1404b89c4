"""Decisions, appeals and outcomes: the rules of due process, the queue, metrics, and re-scans."""

from __future__ import annotations

import pytest

from cibwatch import schema
from cibwatch.campaigns import assemble
from cibwatch.errors import ReviewError
from cibwatch.review import (
    account_state,
    appeal,
    decide,
    history,
    metrics,
    queue,
    resolve_appeal,
    show,
    verify_log,
)
from cibwatch.review.log import load_snapshot
from cibwatch.store.case import Case
from tests.campaigns.corpus import table


def test_decision_records_actor_evidence_snapshot_and_versions(case: Case) -> None:
    entry = decide(case, "op1", "suspend", reviewer="ana", reason="core of camp-k1")
    assert (entry["seq"], entry["event"], entry["actor"], entry["action"]) == (
        1,
        "decision",
        "ana",
        "suspend",
    )
    assert entry["tier"] == "enforce-eligible"
    assert entry["model_version"] == "bots-0.1"
    assert entry["policy_version"].startswith("cibwatch-default@1+")
    snapshot = load_snapshot(case, entry["evidence_snapshot_id"])
    assert snapshot["content"]["recommendation"]["tier"] == "enforce-eligible"
    assert "decisions" not in snapshot["content"]
    assert account_state(case, "op1")["status"] == "decided"


def test_appeal_reopens_and_another_reviewer_decides_it(case: Case) -> None:
    decide(case, "op5", "restrict", reviewer="ana", reason="amplifier")
    a = appeal(case, "op5", statement="I only retweet what I like", appellant="@patriot_jane05")
    assert (a["event"], a["refers_to"], a["actor"]) == ("appeal", 1, "@patriot_jane05")
    s = account_state(case, "op5")
    assert s["status"] == "appealed" and s["in_force"] == "restrict"
    assert queue(case)[0]["account_id"] == "op5" and queue(case)[0]["kind"] == "appeal"
    with pytest.raises(ReviewError, match="another reviewer"):
        resolve_appeal(case, "op5", "overturned", reviewer="ana", reason="changed my mind")
    out = resolve_appeal(case, "op5", "overturned", reviewer="ben", reason="retweets of a popular account")
    assert out["refers_to"] == a["seq"]
    s = account_state(case, "op5")
    assert s["status"] == "overturned" and s["in_force"] is None
    assert [e["event"] for e in history(case, "op5")] == ["decision", "appeal", "appeal_outcome"]


@pytest.mark.parametrize(
    ("setup", "step", "message"),
    [
        ([], lambda c: appeal(c, "op1", statement="hi"), "no decision to appeal"),
        (
            [lambda c: decide(c, "op1", "dismiss", reviewer="ana", reason="organic")],
            lambda c: appeal(c, "op1", statement="hi"),
            "takes no action",
        ),
        (
            [
                lambda c: decide(c, "op1", "label", reviewer="ana", reason="r"),
                lambda c: appeal(c, "op1", statement="s"),
            ],
            lambda c: appeal(c, "op1", statement="again"),
            "already has an open appeal",
        ),
        (
            [
                lambda c: decide(c, "op1", "label", reviewer="ana", reason="r"),
                lambda c: appeal(c, "op1", statement="s"),
                lambda c: resolve_appeal(c, "op1", "upheld", reviewer="ben", reason="r"),
            ],
            lambda c: appeal(c, "op1", statement="again"),
            "one appeal per decision",
        ),
        (
            [
                lambda c: decide(c, "op1", "label", reviewer="ana", reason="r"),
                lambda c: appeal(c, "op1", statement="s"),
            ],
            lambda c: decide(c, "op1", "suspend", reviewer="ana", reason="r"),
            "resolve-appeal op1",
        ),
        ([], lambda c: resolve_appeal(c, "op1", "upheld", reviewer="ben", reason="r"), "no open appeal"),
        (
            [],
            lambda c: decide(c, "op1", "ban", reviewer="ana", reason="r"),
            "dismiss, label, restrict, suspend",
        ),
        ([], lambda c: decide(c, "op1", "label", reviewer="  ", reason="r"), "--reviewer must not be empty"),
        ([], lambda c: decide(c, "op1", "label", reviewer="ana", reason=""), "--reason must not be empty"),
        ([], lambda c: resolve_appeal(c, "op1", "maybe", reviewer="b", reason="r"), "upheld, overturned"),
        ([], lambda c: decide(c, "ghost", "label", reviewer="ana", reason="r"), "not in case"),
    ],
)
def test_out_of_order_steps_are_refused_and_leave_the_log_unchanged(case: Case, setup, step, message) -> None:
    for s in setup:
        s(case)
    before = history(case, "op1")
    with pytest.raises(Exception, match=message):
        step(case)
    assert history(case, "op1") == before
    assert verify_log(case).ok


def test_queue_is_highest_priority_first_and_drops_decided_accounts(case: Case) -> None:
    rows = queue(case)
    priorities = [r["priority"] for r in rows]
    assert priorities == sorted(priorities, reverse=True)
    assert rows[0]["account_id"] == "op1" and rows[0]["tier"] == "enforce-eligible"
    assert {r["tier"] for r in rows} == {"enforce-eligible", "review"}
    assert "h1" not in {r["account_id"] for r in rows}
    assert "h1" in {r["account_id"] for r in queue(case, include_monitor=True)}
    decide(case, "op1", "label", reviewer="ana", reason="r")
    assert "op1" not in {r["account_id"] for r in queue(case)}
    assert len(queue(case, limit=2)) == 2


def test_overturn_rate(case: Case) -> None:
    assert metrics(case)["overturn_rate"] is None
    for account, outcome in (("op1", "overturned"), ("op2", "upheld"), ("op3", "upheld"), ("op4", None)):
        decide(case, account, "suspend", reviewer="ana", reason="r")
        appeal(case, account, statement="s")
        if outcome:
            resolve_appeal(case, account, outcome, reviewer="ben", reason="r")
    decide(case, "b1", "dismiss", reviewer="ana", reason="r")
    m = metrics(case)
    assert (m["decisions"], m["appeals"], m["open_appeals"], m["upheld"], m["overturned"]) == (5, 4, 1, 2, 1)
    assert m["overturn_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["by_action"] == {"dismiss": 1, "label": 0, "restrict": 0, "suspend": 4}


def test_rerunning_detection_never_rewrites_past_decisions(case: Case) -> None:
    decide(case, "op5", "suspend", reviewer="ana", reason="amplifier with a burst")
    decide(case, "x1", "label", reviewer="ana", reason="copy-paste spam")
    before = history(case, "op5") + history(case, "x1")
    original = show(case, "op5")["review"]["original_evidence"]
    assert show(case, "op5")["review"]["changes_since_decision"] == []

    # A re-scan: coordination finds less for op5 (its edge to op2 is gone), bots now score it.
    edges = case.read("coord_edges")
    keep = ~((edges["account_a"] == "op2") & (edges["account_b"] == "op5"))
    case.replace_table("coord_edges", edges.filter(keep))
    bots = case.read("bot_scores").to_dicts()
    bots.append(
        {**bots[0], "account_id": "op5", "bot_score": 0.2, "bot_label": "human", "model_version": "bots-0.2"}
    )
    case.replace_table("bot_scores", table(bots, schema.BOT_SCORES))
    assemble(case)

    assert history(case, "op5") + history(case, "x1") == before
    assert verify_log(case).ok
    view = show(case, "op5")["review"]
    assert view["original_evidence"] == original  # the stored snapshot is what the reviewer saw
    changes = view["changes_since_decision"]
    assert "edge gone: repost with op2" in changes
    assert "bot bot_score: None → 0.2" in changes
    assert "bot model_version: None → bots-0.2" in changes
    appeal(case, "op5", statement="see, I am not a bot")
    assert "original_evidence" in show(case, "op5")["review"]
