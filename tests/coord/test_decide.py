"""The account-level decision: known answers for a lucky edge, a ring of weak edges and a crowd."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cibwatch.coord import detect
from cibwatch.coord.decide import COORDINATED, CROWD, WEAK
from cibwatch.coord.detect import CoordResult
from cibwatch.coord.stats import conditional_poisson_p, support_chance
from cibwatch.store.case import Case
from tests.coord.corpus import make_case, post, random_reposts

SPAN_S = 6 * 3600


def _status(result: CoordResult, accounts: list[str]) -> dict[str, str | None]:
    got = dict(result.accounts.select("account_id", "status").iter_rows())
    return {a: got.get(a) for a in accounts}


def _background(seed: int) -> tuple[np.random.Generator, list[dict]]:
    rng = np.random.default_rng(seed)
    return rng, random_reposts(rng, n_accounts=150, n_items=200, per_account=40, span_s=SPAN_S)


def _ordinary(rng: np.random.Generator, accounts: list[str], n: int) -> list[dict]:
    """``n`` independent reposts per account, like the background's."""
    return [
        post(a, float(rng.integers(0, SPAN_S)), "repost", f"item{rng.integers(0, 200)}")
        for a in accounts
        for _ in range(n)
    ]


def test_one_lucky_edge_does_not_make_an_account_coordinated(tmp_path: Path) -> None:
    rng, posts = _background(3)
    # Two quiet accounts that happen to share five quick co-reposts: one strong edge each.
    posts += _ordinary(rng, ["x1", "x2"], 10)
    for _ in range(5):
        t = float(rng.integers(0, SPAN_S))
        item = f"item{rng.integers(0, 200)}"
        posts += [post("x1", t, "repost", item), post("x2", t + 5, "repost", item)]
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60)
    edge = result.edges.filter((pl.col("account_a") == "x1") & (pl.col("account_b") == "x2"))
    assert edge.height == 1 and edge["q_value"].item() <= 0.01  # the edge itself is significant…
    assert _status(result, ["x1", "x2"]) == {"x1": WEAK, "x2": WEAK}  # …the accounts are not
    assert result.accounts.filter(pl.col("status") == WEAK)["reason"].str.contains("only 1 partner").all()
    assert result.clusters.height == 0
    assert result.run["account_status"] == {WEAK: 2}


def test_ring_member_with_many_weak_edges_is_coordinated(tmp_path: Path) -> None:
    rng, posts = _background(4)
    ring = [f"ring{j}" for j in range(8)]
    posts += _ordinary(rng, ring, 20)  # ordinary, busy accounts…
    for _ in range(3):  # …that act together three times: three items per pair, each edge weak alone
        t = float(rng.integers(0, SPAN_S))
        item = f"item{rng.integers(0, 200)}"
        posts += [post(a, t + 3 * j, "repost", item) for j, a in enumerate(ring)]
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60)
    inside = result.edges.filter(pl.col("account_a").is_in(ring) & pl.col("account_b").is_in(ring))
    assert (inside["q_value"] > 0.01).any()  # some ring edges would not be flagged on their own
    assert inside.height >= 20
    assert set(_status(result, ring).values()) == {COORDINATED}
    outsiders = result.accounts.filter(~pl.col("account_id").is_in(ring))
    assert (outsiders["status"] != COORDINATED).all()
    assert set(result.accounts.filter(pl.col("status") == COORDINATED)["cluster_id"]) == {"C1"}


def _amplify(rng: np.random.Generator, crowd: list[str], sources: list[str], posts: list[dict]) -> None:
    """Each source posts 8 times; most of ``crowd`` reposts each post within half a minute."""
    for k in range(8):
        t = float(rng.integers(0, SPAN_S))
        source = sources[k % len(sources)]
        original = f"{source}-post{k}"
        posts.append(post(source, t, post_id=original))
        for j, a in enumerate(crowd):
            if rng.random() < 0.8:
                posts.append(post(a, t + 5 + j, "repost", original, ref_account_id=source))


def test_crowd_around_one_source_is_not_a_ring(tmp_path: Path) -> None:
    rng, posts = _background(5)
    fans = [f"fan{j}" for j in range(15)]
    ring = [f"ring{j}" for j in range(15)]
    _amplify(rng, fans, ["star"], posts)
    _amplify(rng, ring, ["lead1", "lead2", "lead3"], posts)
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60)
    assert set(_status(result, fans).values()) == {CROWD}
    assert set(_status(result, ring).values()) == {COORDINATED}
    reason = result.accounts.filter(pl.col("account_id") == "fan0")["reason"].item()
    assert "only on posts of one account (star)" in reason
    # The fans' edges stay visible as evidence; they are in no cluster.
    assert result.accounts.filter(pl.col("account_id").is_in(fans))["cluster_id"].is_null().all()


def test_independent_accounts_are_not_called_coordinated(tmp_path: Path) -> None:
    coordinated = 0
    for seed in range(3):
        _, posts = _background(20 + seed)
        case = make_case(tmp_path / f"case{seed}", posts)
        result = detect(case, traces=["repost"], window=60, min_shared=2)
        coordinated += result.accounts.filter(pl.col("status") == COORDINATED).height
    assert coordinated == 0


def test_support_chance_is_the_chance_of_reaching_the_critical_count() -> None:
    mu = np.array([0.01, 0.3, 1.0, 5.0, 50.0])
    got = support_chance(mu, 0.01, 3)
    for m, chance in zip(mu, got, strict=True):
        counts = np.arange(1, 200)
        p = conditional_poisson_p(counts, np.full(counts.size, m))
        critical = counts[(p <= 0.01) & (counts >= 3)][0]
        assert chance == p[critical - 1]
        assert chance <= 0.01


def _tagged(account: str, seconds: float, tag: str) -> dict:
    return post(account, seconds, hashtags=[tag])


DAY_S = 86_400.0


def _live_show(talkers: int) -> tuple[list[dict], list[str], list[str], list[str]]:
    """(posts, fans, talkers, pushers): 200 accounts on their own topics over a fortnight; 150 fans
    tweeting a weekly show's tag a few times on each of its four nights; ``talkers`` viewers using
    the tag now and then all fortnight; ten accounts pushing a new tag in three half-hour bursts."""
    rng = np.random.default_rng(9)
    posts = [
        _tagged(f"u{a:03d}", float(rng.uniform(0, 14 * DAY_S)), f"topic{rng.integers(0, 300)}")
        for a in range(200)
        for _ in range(30)
    ]
    fans = [f"fan{j:03d}" for j in range(150)]
    for night in range(4):
        start = night * 3.5 * DAY_S + 20 * 3600
        posts += [_tagged(f, start + float(rng.uniform(0, 3600)), "theshow") for f in fans for _ in range(4)]
    viewers = [f"talk{j:03d}" for j in range(talkers)]
    posts += [_tagged(t, float(rng.uniform(0, 14 * DAY_S)), "theshow") for t in viewers for _ in range(6)]
    pushers = [f"push{j}" for j in range(10)]
    for _ in range(3):
        start = float(rng.uniform(0, 13 * DAY_S))
        posts += [
            _tagged(p, start + float(rng.uniform(0, 1800)), "newtag") for p in pushers for _ in range(3)
        ]
    return posts, fans, viewers, pushers


def _hashtag_coordinated(case: Case) -> set[str]:
    result = detect(case, traces=["hashtag"])
    assert result.run["traces"]["hashtag"]["window_s"] == 600  # the trace's own default
    return set(result.accounts.filter(pl.col("status") == COORDINATED)["account_id"])


def test_a_live_audience_is_not_a_hashtag_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fans tweeting a show's tag during each broadcast share its timing; a small push does not."""
    posts, fans, _, pushers = _live_show(talkers=0)
    case = make_case(tmp_path / "case", posts)
    found = _hashtag_coordinated(case)
    assert set(pushers) <= found
    assert not found & set(fans)
    # Without the items' own timing (the item null off), the audience looks like a ring.
    module = importlib.import_module("cibwatch.coord.detect")  # the package exports the function
    monkeypatch.setattr(module, "ITEM_PRIOR_PAIRS", 1e300)
    assert len(_hashtag_coordinated(case) & set(fans)) > 50


def test_a_show_nights_audience_is_explained_by_that_nights_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The show's tag is used all fortnight; its nights are dense: the night's own rate explains them."""
    # Between episodes 600 viewers talk about the show now and then: the tag's fortnight is mostly quiet.
    posts, fans, talkers, pushers = _live_show(talkers=600)
    case = make_case(tmp_path / "case", posts)
    found = _hashtag_coordinated(case)
    assert set(pushers) <= found
    assert not found & (set(fans) | set(talkers))
    # With one rate for the whole fortnight, the quiet days dilute it and the audience looks like a ring.
    module = importlib.import_module("cibwatch.coord.detect")
    monkeypatch.setattr(module, "ITEM_OCCASION_MS", 10**15)
    assert len(_hashtag_coordinated(case) & set(fans)) > 50


def test_only_coordinated_accounts_have_a_coordination_score(tmp_path: Path) -> None:
    rng, posts = _background(5)
    _amplify(rng, [f"fan{j}" for j in range(10)], ["star"], posts)
    _amplify(rng, [f"ring{j}" for j in range(10)], ["lead1", "lead2"], posts)
    accounts = detect(make_case(tmp_path / "case", posts), traces=["repost"], window=60).accounts
    scores = dict(accounts.select("account_id", "coordination_score").iter_rows())
    assert all(scores[f"fan{j}"] == 0.0 for j in range(10))
    assert all(scores[f"ring{j}"] > 0.5 for j in range(10))
