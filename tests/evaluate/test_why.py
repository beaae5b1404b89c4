"""The analyses behind the benchmark's "why": lockstep reposting and a repost partner's best count."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cibwatch.evaluate.coord import best_repost_partner, repost_lockstep
from tests.coord.corpus import make_case, post


def _posts() -> list[dict]:
    posts = []
    for k in range(4):  # bot1 and bot2 repost src's posts within seconds of each other
        posts += [post("bot1", 600 * k, "repost", f"s{k}", ref_account_id="src")]
        posts += [post("bot2", 600 * k + 5, "repost", f"s{k}", ref_account_id="src")]
    posts += [post("bot2", 5000, "repost", "s0x", ref_account_id="other")]  # alone
    posts += [post("bot1", 9000, "repost", "s3", ref_account_id="src")]  # same post, too late for bot2
    posts += [post("human", 620, "repost", "s1", ref_account_id="src")]  # near bot2, not a cluster-mate
    posts += [post("human", 7000, "original")]
    return posts


def test_lockstep_counts_reposts_made_with_a_cluster_mate(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", _posts())
    members = pl.DataFrame({"account_id": ["bot1", "bot2", "human"], "cluster_id": ["C1", "C1", "C2"]})
    rows = {r["account_id"]: r for r in repost_lockstep(case, members, 60).iter_rows(named=True)}
    assert (rows["bot1"]["reposts"], rows["bot1"]["in_lockstep"], rows["bot1"]["sources"]) == (5, 4, 1)
    assert (rows["bot2"]["reposts"], rows["bot2"]["in_lockstep"], rows["bot2"]["sources"]) == (5, 4, 2)
    assert (rows["human"]["reposts"], rows["human"]["in_lockstep"]) == (1, 0)


def test_best_partner_counts_distinct_posts_with_one_other_account(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", _posts())
    best = best_repost_partner(case, pl.Series(["bot1", "human", "nobody"]), 60)
    assert dict(best.iter_rows()) == {"bot1": 4, "human": 1, "nobody": 0}
    assert best_repost_partner(case, pl.Series(["bot1"]), 1)["best_partner_items"].to_list() == [0]
