"""Coordination metrics on small constructed truth tables and networks."""

from __future__ import annotations

import polars as pl
import pytest

from cibwatch.evaluate.coord import organic_placement, trace_breakdown
from cibwatch.evaluate.metrics import coord_metrics, leiden_clusters, purity
from cibwatch.evaluate.qut import flagged_at


@pytest.fixture
def truth() -> pl.DataFrame:
    rows = [
        ("r1", "io", "RightTroll", 50),
        ("r2", "io", "RightTroll", 20),
        ("r3", "io", "RightTroll", 6),
        ("l1", "io", "LeftTroll", 30),
        ("l2", "io", "LeftTroll", 5),
        ("n1", "io", "NewsFeed", 400),
        ("q1", "io", "RightTroll", 2),  # too few posts to count for recall
    ] + [(f"o{k}", "organic", None, 3) for k in range(20_000)]
    return pl.DataFrame(rows, schema=["account_id", "group", "category", "n_posts"], orient="row")


def test_recall_precision_and_organic_rate(truth: pl.DataFrame) -> None:
    m = coord_metrics(["r1", "r2", "l1", "q1", "o1", "o2", "stranger"], truth)
    assert m.io_eligible == 6  # q1 has 2 posts
    assert m.io_eligible_flagged == 3 and m.recall == pytest.approx(3 / 6)
    assert m.io_flagged == 4 and m.flagged == 7
    assert m.precision == pytest.approx(4 / 7)  # an account outside the truth counts as not io
    assert m.unknown_flagged == 1 and m.organic_flagged == 2
    assert m.organic_per_10k == pytest.approx(10_000 * 2 / 20_000)
    assert m.recall_by_category["RightTroll"] == (2, 3)
    assert m.recall_by_category["NewsFeed"] == (0, 1)


def test_min_posts_changes_who_counts_for_recall(truth: pl.DataFrame) -> None:
    assert coord_metrics(["q1"], truth, min_posts=2).io_eligible_flagged == 1
    assert coord_metrics(["q1"], truth, min_posts=5).io_eligible_flagged == 0


def test_nothing_flagged_has_no_precision(truth: pl.DataFrame) -> None:
    m = coord_metrics([], truth)
    assert m.precision is None and m.recall == 0.0 and m.purity is None


def test_purity_counts_categories_and_organic_as_classes(truth: pl.DataFrame) -> None:
    clusters = pl.DataFrame(
        {
            "account_id": ["r1", "r2", "l1", "o1", "l2", "n1", "o2"],
            "cluster_id": ["A", "A", "A", "A", "B", "B", None],
        }
    )
    m = coord_metrics(clusters["account_id"], truth, clusters)
    # A: RightTroll 2 of 4; B: 1 of 2 (LeftTroll, NewsFeed); o2 is in no cluster.
    assert m.clusters == 2 and m.clustered_accounts == 6
    assert m.purity == pytest.approx((2 + 1) / 6)
    # Over io members only: A has r1, r2, l1 (2 of 3); B has l2, n1 (1 of 2).
    assert m.category_purity == pytest.approx((2 + 1) / 5)


def test_purity_of_pairs() -> None:
    assert purity([]) is None
    assert purity([("a", "x"), ("a", "x"), ("b", "y"), ("b", "z")]) == pytest.approx(3 / 4)


def test_leiden_finds_two_cliques_joined_by_one_weak_edge() -> None:
    left, right = ["a", "b", "c", "d"], ["w", "x", "y", "z"]
    rows = [(u, v, 5) for group in (left, right) for i, u in enumerate(group) for v in group[i + 1 :]]
    rows += [("d", "w", 1), ("a", "a", 9)]
    clusters = leiden_clusters(pl.DataFrame(rows, schema=["a", "b", "weight"], orient="row"))
    by_cluster = clusters.group_by("cluster_id").agg(pl.col("account_id").sort())
    assert sorted(by_cluster["account_id"].to_list()) == [left, right]


def test_qut_flagging_by_weight_drops_self_loops() -> None:
    edges = pl.DataFrame(
        {
            "network": ["co_retweet", "co_retweet", "co_link", "co_tweet"],
            "user_1": ["a", "c", "a", "e"],
            "user_2": ["b", "d", "b", "e"],
            "weight": [12, 2, 3, 50],
        }
    )
    low = flagged_at(edges, 2).sort("account_id")
    assert low["account_id"].to_list() == ["a", "b", "c", "d"]
    assert low.filter(pl.col("account_id") == "a")["traces"][0] == "co_link,co_retweet"
    assert sorted(flagged_at(edges, 10)["account_id"]) == ["a", "b"]


def test_trace_breakdown_counts_each_account_once_per_trace() -> None:
    truth = pl.DataFrame({"account_id": ["a", "b", "c"], "group": ["io", "io", "organic"]})
    flagged = pl.DataFrame({"account_id": ["a", "b", "c"], "traces": ["repost,url", "repost", "url"]})
    table = {
        r["trace"]: (r["io"], r["organic"]) for r in trace_breakdown(flagged, truth).iter_rows(named=True)
    }
    assert table == {"repost": (2, 0), "url": (1, 1)}


def test_organic_placement_separates_organic_groups_from_mixed_clusters() -> None:
    truth = pl.DataFrame(
        {"account_id": ["i1", "i2", "o1", "o2", "o3", "o4", "o5"], "group": ["io"] * 2 + ["organic"] * 5}
    )
    flagged = pl.DataFrame(
        {
            "account_id": ["i1", "i2", "o1", "o2", "o3", "o4", "o5"],
            "cluster_id": ["A", "A", "A", "B", "B", "B", None],
        }
    )
    placed = organic_placement(flagged, truth)
    assert placed["organic_flagged"] == 5
    assert placed["in_clusters_with_io"] == 1 and placed["in_organic_only_clusters"] == 3
    assert placed["in_no_cluster"] == 1 and placed["organic_only_cluster_sizes"] == [3]
