"""Property tests: id uniqueness within a window, and scorecard bookkeeping."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.sim import events as ev
from cibwatch.sim import scorecard
from cibwatch.sim.writers import post_ids

T_MS = 1_709_510_400_000


@given(
    base=st.integers(0, 2**34),
    organic=st.sets(st.integers(0, 2**21 - 1), max_size=200),
    planned=st.sets(st.integers(0, 2**21 - 1), max_size=200),
)
def test_posts_in_the_same_millisecond_never_share_an_id(base, organic, planned):
    # Organic keys of one window span fewer than 2**21 values; planned keys stay below 2**21.
    keys = np.array([base + k for k in organic] + [ev.PLANNED_KEY_BASE + k for k in planned], dtype=np.int64)
    ids = post_ids(np.full(len(keys), T_MS, dtype=np.int64), keys)
    assert len(np.unique(ids)) == len(keys)
    assert (ids >> 22 == T_MS - 1_288_834_974_657).all()  # the creation time stays readable


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_scorecard_counts_add_up(v1_world, data):
    truth = v1_world["truth"]
    ids = truth["account_id"].to_list()
    picked = data.draw(st.lists(st.sampled_from(ids), max_size=60, unique=True))
    unknown = data.draw(st.lists(st.text("xyz", min_size=1, max_size=5), max_size=3, unique=True))
    card = scorecard(v1_world["out"], picked + unknown)
    s = card.summary
    assert s["true_positives"] + s["organic_flagged"] == len(picked)
    assert s["flagged_unknown"] == len(unknown)
    assert card.table["flagged"].sum() == len(picked)
    assert card.table["accounts"].sum() == truth.height
    assert ((card.table["share_flagged"] >= 0) & (card.table["share_flagged"] <= 1)).all()
    if picked:
        positives = truth.filter(
            pl.col("account_id").is_in(picked) & ~pl.col("role").str.starts_with("organic")
        )
        assert s["precision"] == positives.height / len(picked)
