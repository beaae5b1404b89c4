"""Popular items: capped (and said so) instead of blowing up quadratically; down-weighted by IDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from pytest import approx

from cibwatch.coord import detect
from cibwatch.coord.stats import tfidf_cosine
from tests.coord.corpus import make_case, post


def test_items_acted_on_by_too_many_accounts_are_capped_and_reported(tmp_path: Path) -> None:
    # 50 accounts repost "viral" within one minute; a small group shares quieter items too.
    posts = [post(f"v{j:02d}", float(j), "repost", "viral") for j in range(50)]
    for k in range(4):
        posts += [post(f"g{j}", 1000.0 * k + j, "repost", f"quiet{k}") for j in range(3)]
    case = make_case(tmp_path / "case", posts)
    capped = detect(case, traces=["repost"], window=60, max_item_accounts=20, alpha=1.0, min_shared=1)
    assert capped.capped.drop("first_at").to_dicts() == [
        {
            "trace": "repost",
            "item": "viral",
            "reason": "popular",
            "n_bursts": None,
            "n_accounts": 50,
            "n_events": 50,
        }
    ]
    assert capped.run["traces"]["repost"]["capped_items"] == 1
    assert capped.run["traces"]["repost"]["capped_events"] == 50
    # No pair was built from the capped item: only the group's 3 pairs were tested.
    assert capped.run["traces"]["repost"]["tested_pairs"] == 3
    assert "viral" not in capped.evidence["item"].to_list()
    uncapped = detect(case, traces=["repost"], window=60, max_item_accounts=1000, alpha=1.0, min_shared=1)
    assert uncapped.run["traces"]["repost"]["tested_pairs"] == 3 + 50 * 49 // 2
    assert uncapped.capped.height == 0


def test_capped_items_are_written_out(tmp_path: Path) -> None:
    from cibwatch.coord import write_outputs

    posts = [post(f"v{j}", float(j), "repost", "viral") for j in range(5)]
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], max_item_accounts=3)
    paths = write_outputs(result, tmp_path / "out")
    assert pl.read_csv(paths["capped"])["item"].to_list() == ["viral"]


def test_idf_down_weights_items_everyone_acts_on() -> None:
    # Accounts 0,1 share a rare item; accounts 2,3 share only an item all 6 accounts act on.
    acc = np.array([0, 1, 0, 1, 2, 3, 4, 5, 2, 3, 0, 1])
    item = np.array([0, 0, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    tf = np.ones(len(acc))
    weights = tfidf_cosine(acc, item, tf, np.array([0, 2]), np.array([1, 3]))
    idf_rare, idf_own = np.log(6 / 2), np.log(6 / 1)
    assert weights[0] == approx(idf_rare**2 / (idf_rare**2 + idf_own**2))
    assert weights[1] == 0.0  # idf of the everyone-item is log(6/6) = 0


def test_weight_is_the_cosine_of_tfidf_vectors() -> None:
    acc = np.array([0, 0, 1, 1, 2])
    item = np.array([0, 1, 0, 2, 2])
    tf = np.array([2.0, 1.0, 1.0, 1.0, 1.0])
    idf = np.log(3 / np.array([2, 1, 2]))
    v0 = np.array([2 * idf[0], idf[1], 0])
    v1 = np.array([idf[0], 0, idf[2]])
    want = v0 @ v1 / np.linalg.norm(v0) / np.linalg.norm(v1)
    assert tfidf_cosine(acc, item, tf, np.array([0]), np.array([1]))[0] == approx(want)


def test_bursts_are_capped_by_time_bucket(tmp_path: Path) -> None:
    """The burst cap partitions an item by time: a crowd in one minute is cut, the same item later is kept."""
    posts = [post(f"v{j:02d}", float(j), "repost", "viral") for j in range(50)]
    posts += [post("late_a", 7200.0, "repost", "viral"), post("late_b", 7205.0, "repost", "viral")]
    case = make_case(tmp_path / "case", posts)
    result = detect(case, traces=["repost"], window=60, max_burst_accounts=20, alpha=1.0, min_shared=1)
    assert result.capped.drop("first_at").to_dicts() == [
        {
            "trace": "repost",
            "item": "viral",
            "reason": "burst",
            "n_bursts": 1,
            "n_accounts": 50,
            "n_events": 50,
        }
    ]
    assert set(zip(result.edges["account_a"], result.edges["account_b"], strict=True)) == {
        ("late_a", "late_b")
    }


def test_a_popular_item_spread_over_time_is_not_a_burst(tmp_path: Path) -> None:
    """60 accounts an hour apart on one item make no burst, and a pair inside it is found."""
    posts = [post(f"s{j:02d}", 3600.0 * j, "repost", "evergreen") for j in range(60)]
    posts += [
        post("pa", 3600.0 * 10 + 5, "repost", "evergreen"),
        post("pb", 3600.0 * 10 + 9, "repost", "evergreen"),
    ]
    case = make_case(tmp_path / "case", posts)
    result = detect(case, traces=["repost"], window=60, max_burst_accounts=20, alpha=1.0, min_shared=1)
    assert result.capped.height == 0
    pairs = set(zip(result.edges["account_a"], result.edges["account_b"], strict=True))
    assert pairs == {("pa", "pb"), ("pa", "s10"), ("pb", "s10")}
