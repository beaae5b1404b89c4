"""The bot model's three labels (bot, uncertain, human) in the report and the campaigns' bot statistics."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cibwatch.campaigns import assemble
from cibwatch.campaigns.assemble import _bot_stats
from cibwatch.report import collect, render
from cibwatch.report.data import _bot_fact, _uncertain_share
from cibwatch.store.case import Case
from tests.campaigns.corpus import build, relabel_bot
from tests.report.conftest import build_case


def test_overview_counts_uncertain_accounts_apart_from_bots_and_humans(full_case: Case) -> None:
    o = collect(full_case).overview
    # Six campaign accounts score 0.85 and up; of the six ordinary ones, three are uncertain.
    assert (o.bot_scored, o.bots, o.uncertain, o.humans) == (12, 6, 3, 3)


def test_overview_shows_all_three_labels(tmp_path: Path) -> None:
    with build_case(tmp_path / "case") as case:
        html = render(case, tmp_path / "report.html", figures=False).read_text()
    tile = '<div class="tile"><div class="v">{}</div><div class="k">{}</div></div>'
    assert tile.format(6, "labelled bot") in html
    assert tile.format(3, "uncertain (between the human and bot thresholds)") in html
    assert tile.format(3, "labelled human") in html
    # The accounts table says what "uncertain" means where it shows the label.
    assert '<td title="score between the model&#x27;s human and bot thresholds' in html
    assert ">uncertain</td>" in html


def test_overview_of_a_case_without_bot_scores_says_not_run(tmp_path: Path) -> None:
    with build_case(tmp_path / "case", bots=False) as case:
        o = collect(case).overview
    assert (o.bot_scored, o.bots, o.uncertain, o.humans) == (None, None, None, None)


def test_campaign_bot_stats_count_uncertain_members_apart_from_bots() -> None:
    group = pl.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "bot_label": ["bot", "uncertain", "uncertain", "human", None],  # e: no profile, no label
        }
    )
    stats = _bot_stats(group, [0.9, 0.6, 0.55, 0.1])
    assert stats["bot_share"] == 0.25
    assert stats["uncertain_share"] == 0.5
    nobody = _bot_stats(pl.DataFrame({"bot_label": [None]}, schema={"bot_label": pl.String}), [])
    assert nobody["bot_share"] is None and nobody["uncertain_share"] is None


def test_campaign_card_states_the_uncertain_share_from_the_assembled_campaign(tmp_path: Path) -> None:
    with build(tmp_path / "case") as case:
        # The corpus's campaign has two scored members, op1 (0.95, bot) and op2 (0.5): make op2 uncertain.
        relabel_bot(case, "op2", "uncertain")
        assemble(case)
        details = json.loads(case.read("campaigns")["details"][0])
        assert details["bot_scores"]["bot_share"] == 0.5
        assert details["bot_scores"]["uncertain_share"] == 0.5
        data = collect(case)
    assert data.overview.uncertain == 1
    (card,) = data.cards
    assert dict(card.facts)["bot scores"] == "2 scored, median 0.72, 50% labelled bot, 50% uncertain"


def test_campaigns_assembled_before_the_uncertain_label_keep_their_sentence(full_case: Case) -> None:
    # The fixture's campaign record has no bot statistics in its details, as an older case.
    (card,) = collect(full_case).cards
    assert dict(card.facts)["bot scores"] == "6 scored, median 0.90, 100% labelled bot"
    assert _bot_fact(6, 0.9, 0.5, 0.25) == "6 scored, median 0.90, 50% labelled bot, 25% uncertain"
    assert _uncertain_share(json.dumps({"bot_scores": {"uncertain_share": 0.25}})) == 0.25
    assert _uncertain_share(json.dumps({"bot_scores": {"bot_share": 1.0}})) is None
    assert _uncertain_share("not json") is None and _uncertain_share(None) is None
