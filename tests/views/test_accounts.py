"""The one account read model: which row speaks for an account, and the one order every reader shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cibwatch import schema, views
from cibwatch.campaigns import accounts_summary
from cibwatch.report.data import collect
from cibwatch.store.case import Case
from tests.campaigns.corpus import table


def rec(account: str, tier: str, priority: float, **kw: Any) -> dict[str, Any]:
    return {"account_id": account, "tier": tier, "priority": priority, "reasons": f"{tier} {priority}", **kw}


def bot(account: str, score: float, **kw: Any) -> dict[str, Any]:
    row = {"account_id": account, "platform": "twitter", "bot_score": score, "top_reasons": f"bot {score}"}
    return {**row, **kw}


def coord(account: str, score: float, **kw: Any) -> dict[str, Any]:
    return {"account_id": account, "coordination_score": score, "status": "coordinated", **kw}


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Case]:
    """Ties and duplicates at every step of the order."""
    case = Case.create(tmp_path / "case")
    tables = {
        "recommendations": [
            rec("r1", "review", 0.5),
            rec("r2", "review", 0.5),
            rec("r3", "enforce-eligible", 0.1, campaign_id="camp-1"),
            rec("d1", "monitor", 0.2, screen_name="old_name"),
            rec("d1", "review", 0.9, screen_name="d_one"),  # the higher priority speaks for d1
        ],
        "bot_scores": [
            bot("r1", 0.4),
            bot("r2", 0.6),
            bot("d1", 0.3, bot_label="human"),
            bot("d1", 0.8, bot_label="bot", bot_type="spam"),
            bot("zb", 0.99, screen_name="zed"),
            bot("ya", 0.99),
            bot("yb", 0.99),
        ],
        "coord_accounts": [
            coord("zb", 0.5),
            coord("c1", 0.7, cluster_id="k1"),
            coord("d1", 0.1),
            coord("d1", 0.6),  # the higher score speaks for d1
        ],
    }
    for name, rows in tables.items():
        case.replace_table(name, table(rows, schema.STAGE_TABLES[name]))
    yield case
    case.close()


def test_one_row_per_account_in_one_order(small: Case) -> None:
    rows = views.account_rows(small)
    assert rows.columns == list(views.ACCOUNT_ROW_COLUMNS)
    # Tier, then priority (r2 and r1 tie: bot score), then for tier none bot score (zb, ya and yb tie:
    # coordination score, then account id), accounts without a bot score last.
    assert rows["account_id"].to_list() == ["r3", "d1", "r2", "r1", "zb", "ya", "yb", "c1"]


def test_the_highest_priority_recommendation_and_highest_scores_speak_for_an_account(small: Case) -> None:
    by_id = {r.account_id: r for r in views.accounts(views.account_rows(small))}
    d1 = by_id["d1"]
    assert (d1.tier, d1.priority, d1.reasons, d1.screen_name) == ("review", 0.9, "review 0.9", "d_one")
    assert (d1.bot_score, d1.bot_label, d1.bot_type, d1.bot_reasons) == (0.8, "bot", "spam", "bot 0.8")
    assert (d1.coordination_score, d1.coordination_status) == (0.6, "coordinated")


def test_an_account_only_scored_for_bots_has_tier_none(small: Case) -> None:
    by_id = {r.account_id: r for r in views.accounts(views.account_rows(small))}
    ya = by_id["ya"]
    assert (ya.tier, ya.priority, ya.reasons, ya.campaign_id) == (None, None, None, None)
    csv = {r["account_id"]: r for r in accounts_summary(small).iter_rows(named=True)}
    assert (csv["ya"]["recommendation"], csv["ya"]["reasons"]) == ("none", "none: no signal")
    assert csv["zb"]["screen_name"] == "zed"


def test_every_reader_shows_the_accounts_in_the_same_order(small: Case) -> None:
    order = views.account_rows(small)["account_id"].to_list()
    assert accounts_summary(small)["account_id"].to_list() == order
    report = collect(small).accounts
    assert [r.account_id for r in report] == order
    # The report shows a bot score's reasons where there is no recommendation, and no tier.
    assert (report[4].tier, report[4].reasons, report[4].bot_reasons) == (None, None, "bot 0.99")


def test_the_corpus_accounts_agree_with_the_csv(case: Case) -> None:
    rows = views.account_rows(case)
    csv = accounts_summary(case)
    assert csv["account_id"].to_list() == rows["account_id"].to_list()
    assert rows["account_id"].n_unique() == rows.height
    assert rows["tier"][0] == "enforce-eligible" and rows["account_id"][0] == "op1"


def test_a_case_without_stage_tables_has_no_rows(tmp_path: Path) -> None:
    with Case.create(tmp_path / "empty") as case:
        assert views.account_rows(case).is_empty()
        assert views.accounts(views.account_rows(case)) == []
