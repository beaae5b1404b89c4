from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from cibwatch.bots.data import _join
from cibwatch.bots.features import PROFILE_INPUTS


def _frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    labels = pl.DataFrame(
        {
            "account_id": ["1", "1", "2", "3", "3"],
            "dataset": ["a", "a", "a", "a", "b"],
            "label": ["bot", "bot", "human", "bot", "human"],
            "label_detail": ["spambot", "bot", "human", "bot", "human"],
        }
    )
    seen = datetime(2019, 6, 1, tzinfo=UTC)
    accounts = pl.DataFrame(
        {
            "account_id": ["1", "1", "2", "2", "3"],
            "dataset": ["a", "a", "a", "a", "a"],
            "snapshot_id": ["s2", "s1", "s3", "s4", "s5"],
            # Account 1: two snapshots without a probe time, a tie only the snapshot id breaks.
            "probed_at": [None, None, seen, None, seen],
            "created_at": [datetime(2015, 1, 1, tzinfo=UTC)] * 5,
            "followers": [20, 10, 30, 40, 50],
        }
    )
    absent = [pl.lit(None, dtype=t).alias(c) for c, t in PROFILE_INPUTS.items() if c not in accounts.columns]
    return labels, accounts.with_columns(absent)


def test_join_does_not_depend_on_row_order():
    labels, accounts = _frames()
    first, conflicts = _join(labels, accounts)
    assert conflicts == 1  # account 3 is a bot in one set and a human in another: dropped
    followers = dict(first.select("account_id", "followers").iter_rows())
    assert followers == {"1": 10, "2": 30}  # the first snapshot id among ties; the probed one
    for seed in range(20):
        shuffled = (frame.sample(fraction=1, shuffle=True, seed=seed) for frame in (labels, accounts))
        again, _ = _join(*shuffled)
        assert again.equals(first), seed
