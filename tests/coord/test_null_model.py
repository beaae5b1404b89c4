"""The null model: independent activity is not flagged beyond the nominal rate; planted co-action is."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cibwatch.coord import detect
from cibwatch.coord.stats import benjamini_hochberg, conditional_poisson_p
from tests.coord.corpus import make_case, post, random_reposts


def test_independent_activity_yields_no_significant_edges(tmp_path: Path) -> None:
    flagged = 0
    tested = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        # Popular items and heavy accounts make many chance co-reposts.
        posts = random_reposts(rng, n_accounts=150, n_items=200, per_account=40, span_s=6 * 3600)
        case = make_case(tmp_path / f"case{seed}", posts)
        result = detect(case, traces=["repost"], window=60, min_shared=1)
        tested += result.run["tested_pairs"]
        flagged += result.edges.height
    assert tested > 3000  # plenty of chance co-actions were tested…
    assert flagged <= 1  # …and BH at q ≤ 0.01 keeps false flags at about nothing


def test_raw_counts_would_flag_the_same_random_data(tmp_path: Path) -> None:
    """The QUT rule (weight ≥ 3) on the same data flags many pairs: why the null model matters."""
    rng = np.random.default_rng(0)
    posts = random_reposts(rng, n_accounts=150, n_items=200, per_account=40, span_s=6 * 3600)
    case = make_case(tmp_path / "case", posts)
    everything = detect(case, traces=["repost"], window=60, alpha=1.0, min_shared=3)
    assert everything.edges.height > 10
    assert detect(case, traces=["repost"], window=60).edges.height == 0


def test_planted_co_action_is_found_among_independent_activity(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    posts = random_reposts(rng, n_accounts=150, n_items=200, per_account=40, span_s=6 * 3600)
    planted = ["x1", "x2", "x3"]
    for _ in range(4):
        t = float(rng.integers(0, 6 * 3600))
        item = f"item{rng.integers(0, 200)}"  # ordinary items, not special ones
        for j, account in enumerate(planted):
            posts.append(post(account, t + 10 * j, "repost", item))
        # The planted accounts also act alone, like everyone else.
        for account in planted:
            posts.append(
                post(account, float(rng.integers(0, 6 * 3600)), "repost", f"item{rng.integers(0, 200)}")
            )
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60)
    found = set(zip(result.edges["account_a"], result.edges["account_b"], strict=True))
    assert found == set(combinations(planted, 2))
    assert (result.edges["expected"] < 1).all()
    assert (result.edges["q_value"] <= 0.01).all()


def test_heavy_accounts_need_more_shared_items(tmp_path: Path) -> None:
    """The same 4 shared items are significant for quiet accounts, not for hyperactive ones."""
    rng = np.random.default_rng(5)
    posts = random_reposts(rng, n_accounts=100, n_items=100, per_account=30, span_s=3 * 3600)
    for k in range(4):
        t = 2000.0 * k
        posts += [post("quiet_a", t, "repost", f"item{k}"), post("quiet_b", t + 5, "repost", f"item{k}")]
        posts += [post("heavy_a", t + 1, "repost", f"item{k}"), post("heavy_b", t + 6, "repost", f"item{k}")]
    for _ in range(400):  # the heavy pair reposts constantly
        for account in ("heavy_a", "heavy_b"):
            posts.append(
                post(account, float(rng.integers(0, 3 * 3600)), "repost", f"item{rng.integers(0, 100)}")
            )
    result = detect(
        make_case(tmp_path / "case", posts), traces=["repost"], window=60, alpha=1.0, min_shared=1
    )
    edges = {(r["account_a"], r["account_b"]): r for r in result.edges.iter_rows(named=True)}
    quiet, heavy = edges[("quiet_a", "quiet_b")], edges[("heavy_a", "heavy_b")]
    assert heavy["expected"] > 50 * quiet["expected"]
    assert quiet["q_value"] <= 0.01 < heavy["p_value"]


def test_conditional_poisson_p_values() -> None:
    p = conditional_poisson_p(np.array([1, 2, 3, 3]), np.array([0.1, 0.1, 0.1, 5.0]))
    assert p[0] == pytest.approx(1.0)
    # P(X ≥ 2 | X ≥ 1) for Poisson(0.1)
    tail = 1 - np.exp(-0.1) * (1 + 0.1)
    assert p[1] == pytest.approx(tail / (1 - np.exp(-0.1)))
    assert p[2] < p[1] < p[0] and p[3] > 0.5


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    q = benjamini_hochberg(p)
    # sorted p: .005 .01 .03 .04 .5 → p·m/rank: .025 .025 .05 .05 .5, then monotone from the top
    assert q.tolist() == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert benjamini_hochberg(np.array([])).size == 0


def test_benjamini_hochberg_on_the_smallest_p_values_only_is_exact_below_the_cut() -> None:
    # detect keeps only p ≤ alpha of the tested pairs; their q-values must not change.
    rng = np.random.default_rng(4)
    p = np.concatenate([rng.uniform(0, 1, 5000), rng.uniform(0, 1e-4, 50)])
    full = benjamini_hochberg(p)
    small = p <= 0.01
    part = benjamini_hochberg(p[small], n_tests=p.size)
    assert part[part <= 0.01] == pytest.approx(full[small][part <= 0.01])
    assert ((part <= 0.01) == (full[small] <= 0.01)).all()
    assert (full[~small] > 0.01).all()
    with pytest.raises(ValueError, match="n_tests"):
        benjamini_hochberg(p, n_tests=10)


def test_evidence_never_missing_for_a_flagged_edge(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    posts = random_reposts(rng, n_accounts=60, n_items=50, per_account=20, span_s=3600)
    for k in range(6):
        posts += [post(f"b{j}", 600.0 * k + j, "repost", f"c{k}") for j in range(3)]
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60, max_examples=2)
    keys = ["account_a", "account_b", "trace"]
    per_edge = result.evidence.group_by(keys).len()
    joined = result.edges.join(per_edge, on=keys, how="left")
    assert result.edges.height > 0
    assert joined["len"].null_count() == 0
    assert joined.select((pl.col("len") == pl.min_horizontal("n_shared", pl.lit(2))).all()).item()


def test_co_actions_straddling_midnight_are_tested_with_a_positive_expectation(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    posts = random_reposts(rng, n_accounts=80, n_items=100, per_account=40, span_s=6 * 86_400)
    for day in range(1, 6):  # each co-action: 5 s before and 5 s after a midnight
        posts += [
            post("night_a", day * 86_400 - 5, "repost", f"n{day}"),
            post("night_b", day * 86_400 + 5, "repost", f"n{day}"),
        ]
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60)
    edge = result.edges.filter((pl.col("account_a") == "night_a") & (pl.col("account_b") == "night_b"))
    assert edge.height == 1
    assert edge["expected"][0] > 0
    assert result.run["pairs_without_expectation"] == 0


def test_a_dominant_operation_does_not_set_its_own_background(tmp_path: Path) -> None:
    """A ring making most of the co-actions inflates the base rate; later passes take it out."""
    rng = np.random.default_rng(0)
    posts = random_reposts(rng, n_accounts=150, n_items=200, per_account=20, span_s=6 * 3600)
    ring = [f"ring{j:02d}" for j in range(40)]
    for k in range(60):
        t = float(rng.uniform(0, 6 * 3600 - 100))
        posts += [post(a, t + j, "repost", f"op{k}") for j, a in enumerate(ring) if rng.random() < 0.2]
    case = make_case(tmp_path / "case", posts)

    def ring_pairs(passes: int) -> tuple[set, set]:
        result = detect(case, traces=["repost"], window=60, null_passes=passes)
        # Edges flagged on their own (the account-level decision adds the ring's weaker ones).
        alone = result.edges.filter(pl.col("q_value") <= 0.01)
        found = set(zip(alone["account_a"], alone["account_b"], strict=True))
        inside = {pair for pair in found if pair[0] in ring and pair[1] in ring}
        return inside, found - inside

    one_pass, outside_one = ring_pairs(1)
    robust, outside_robust = ring_pairs(3)
    assert one_pass < robust  # strictly more of the ring, losing none
    assert not outside_one and not outside_robust
