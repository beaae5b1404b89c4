from __future__ import annotations

import polars as pl
import pytest

from cibwatch.errors import ConfigError
from cibwatch.sim import render_scorecard, scorecard


def _truth(world: dict) -> pl.DataFrame:
    return world["truth"]


def test_perfect_detector(v1_world):
    truth = _truth(v1_world)
    bad = truth.filter(~pl.col("role").is_in(["organic", "organic-trap"]))["account_id"]
    card = scorecard(v1_world["out"], set(bad))
    assert card.summary["precision"] == 1.0 and card.summary["recall"] == 1.0
    assert card.summary["organic_flagged"] == 0
    ops = card.table.filter(pl.col("group") == "operation")
    assert (ops["share_flagged"] == 1.0).all() and ops.height >= 8


def test_flagging_a_trap_counts_as_false_positives(v1_world):
    truth = _truth(v1_world)
    fans = truth.filter(pl.col("tactic") == "fan_community")["account_id"]
    ring = truth.filter(pl.col("tactic") == "repost_ring")["account_id"]
    card = scorecard(v1_world["out"], pl.concat([fans, ring]))
    s = card.summary
    assert s["true_positives"] == ring.len() and s["organic_flagged"] == fans.len()
    assert s["precision"] == pytest.approx(ring.len() / (ring.len() + fans.len()))
    row = card.table.filter((pl.col("group") == "trap") & (pl.col("name") == "fan_community")).row(
        0, named=True
    )
    assert row["flagged"] == fans.len() and row["share_flagged"] == 1.0
    ring_row = card.table.filter(pl.col("name") == "repost_ring").row(0, named=True)
    assert ring_row["share_flagged"] == 1.0
    other = card.table.filter(pl.col("name") == "copy_paste").row(0, named=True)
    assert other["flagged"] == 0


def test_nothing_flagged_and_unknown_ids(v1_world):
    card = scorecard(v1_world["out"], ["not-an-account", 123])
    assert card.summary["precision"] is None and card.summary["recall"] == 0.0
    assert card.summary["flagged_unknown"] == 2


def test_renderers(v1_world):
    truth = _truth(v1_world)
    card = scorecard(v1_world["out"], truth.filter(pl.col("tactic") == "sleeper")["account_id"].to_list())
    md = render_scorecard(card)
    assert md.startswith("precision 100.0%") and "| operation | sleeper |" in md
    assert md.count("\n|") == card.table.height + 2  # header, rule, one line per row
    text = render_scorecard(card, "text")
    assert "sleeper" in text and "|" not in text
    with pytest.raises(ConfigError, match="markdown"):
        render_scorecard(card, "html")
    assert card.as_dict()["rows"][0]["group"] == "operation"


def test_missing_truth_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cibwatch simulate"):
        scorecard(tmp_path, [])
