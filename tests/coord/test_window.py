"""Window logic: the limit is inclusive, identical times co-act, input order does not matter,
times are floored to a common resolution, and the bucketed join equals brute force."""

from __future__ import annotations

import random
from itertools import combinations
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.coord import detect
from cibwatch.coord.window import coaction_sql, estimate_window
from cibwatch.errors import ConfigError
from tests.coord.corpus import make_case, post

EVERY_PAIR = {"alpha": 1.0, "min_shared": 1}  # report every co-acting pair: tests the window alone


def _pairs(result) -> set[tuple[str, str]]:
    return set(zip(result.edges["account_a"], result.edges["account_b"], strict=True))


def test_gap_exactly_at_the_window_co_acts_and_one_millisecond_more_does_not(tmp_path: Path) -> None:
    posts = [
        post("a", 0, "repost", "x"),
        post("b", 60, "repost", "x"),  # exactly Δt
        post("c", 0, "repost", "y"),
        post("d", 60.001, "repost", "y"),  # Δt + 1 ms
    ]
    case = make_case(tmp_path / "case", posts)
    result = detect(case, traces=["repost"], window=60, time_resolution=0.001, **EVERY_PAIR)
    assert _pairs(result) == {("a", "b")}
    assert result.evidence["gap_s"].to_list() == [60.0]


def test_identical_timestamps_co_act_even_with_a_zero_window(tmp_path: Path) -> None:
    posts = [post("a", 5, "repost", "x"), post("b", 5, "repost", "x"), post("c", 6, "repost", "x")]
    case = make_case(tmp_path / "case", posts)
    assert _pairs(detect(case, traces=["repost"], window=0, **EVERY_PAIR)) == {("a", "b")}
    assert _pairs(detect(case, traces=["repost"], window=1, **EVERY_PAIR)) == {
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    }


def test_input_order_does_not_change_the_result(tmp_path: Path) -> None:
    rng = random.Random(3)
    posts = [
        post(f"u{rng.randrange(8)}", rng.randrange(0, 600), "repost", f"i{rng.randrange(5)}")
        for _ in range(80)
    ]
    shuffled = posts[:]
    rng.shuffle(shuffled)
    first = detect(make_case(tmp_path / "one", posts), traces=["repost"], window=30, **EVERY_PAIR)
    second = detect(make_case(tmp_path / "two", shuffled), traces=["repost"], window=30, **EVERY_PAIR)
    assert first.edges.height > 0
    assert first.edges.equals(second.edges)


def test_mixed_resolutions_are_floored_to_the_coarsest(tmp_path: Path) -> None:
    # "ira" has whole minutes, "organic" exact seconds: everything is compared at minutes.
    posts = [
        post("m1", 60, "repost", "x", dataset="ira"),
        post("s1", 115, "repost", "x", dataset="organic"),  # same minute as m1 → gap 0 after flooring
        post("s2", 125, "repost", "y", dataset="organic"),
        post("s3", 115, "repost", "y", dataset="organic"),  # 10 s apart but across a minute boundary
    ]
    case = make_case(tmp_path / "case", posts)
    result = detect(case, traces=["repost"], window=30, **EVERY_PAIR)
    assert result.run["time_resolution_s"] == 60
    assert result.run["dataset_resolution_s"] == {"ira": 60, "organic": 1}
    assert result.run["traces"]["repost"]["window_effective_s"] == 0
    assert _pairs(result) == {("m1", "s1")}
    # At a 60 s window the cross-boundary pair (one minute apart after flooring) is back.
    assert _pairs(detect(case, traces=["repost"], window=60, **EVERY_PAIR)) == {("m1", "s1"), ("s2", "s3")}


def test_auto_window_is_estimated_and_reported(tmp_path: Path) -> None:
    posts = []
    for k in range(20):
        # Each item: a fast burst (every 2 s), then slow organic shares an hour apart.
        posts += [post(f"f{j}", 100_000 * k + 2 * j, "repost", f"i{k}") for j in range(7)]
        posts += [post(f"s{j}", 100_000 * k + 3600 * (j + 1), "repost", f"i{k}") for j in range(5)]
    result = detect(make_case(tmp_path / "case", posts), traces=["repost"], window="auto")
    info = result.run["traces"]["repost"]
    assert info["window_source"].startswith("auto")
    # More than half (p = 0.5) of each item's 12 shares: its 7th share, the burst's last, 12 s in.
    assert info["window_s"] == pytest.approx(12.0)


@pytest.mark.parametrize("bad", [-5, "soon", float("nan")])
def test_bad_window_is_a_config_error(tmp_path: Path, bad: object) -> None:
    case = make_case(tmp_path / "case", [post("a", 0, "repost", "x")])
    with pytest.raises(ConfigError, match="The 'window' parameter must be"):
        detect(case, traces=["repost"], window=bad)  # type: ignore[arg-type]


def test_unknown_trace_is_a_config_error(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", [post("a", 0, "repost", "x")])
    with pytest.raises(ConfigError, match="Unknown trace telepathy"):
        detect(case, traces=["telepathy"])


def test_estimate_window_without_repeated_items_is_none() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE ev AS SELECT * FROM (VALUES (1, 10), (2, 20)) t(i, t)")
    assert estimate_window(con, "ev") is None


events_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 2_000)), min_size=0, max_size=60
)


@settings(max_examples=150, deadline=None)
@given(events=events_strategy, window=st.integers(0, 400))
def test_bucketed_join_equals_brute_force(events: list[tuple[int, int, int]], window: int) -> None:
    events = sorted(set(events))
    con = duckdb.connect()
    table = pa.table(
        {
            "a": pa.array([e[0] for e in events], pa.int32()),
            "i": pa.array([e[1] for e in events], pa.int32()),
            "t": pa.array([e[2] for e in events], pa.int64()),
            "post_id": pa.array([f"p{n}" for n in range(len(events))], pa.string()),
        }
    )
    con.register("ev", table)
    got = con.sql(coaction_sql("ev", window, 10**9)).pl()
    brute: dict[tuple[int, int, int], list[int]] = {}
    for x, y in combinations(events, 2):
        first, second = (x, y) if x[0] < y[0] else (y, x)
        if first[0] != second[0] and first[1] == second[1] and abs(first[2] - second[2]) <= window:
            brute.setdefault((first[0], second[0], first[1]), []).append(abs(first[2] - second[2]))
    per_item = got.group_by("a", "b", "i").agg(pl.col("n_co").sum(), pl.col("gap").min(), pl.len())
    have = {(r["a"], r["b"], r["i"]): (r["n_co"], r["gap"]) for r in per_item.iter_rows(named=True)}
    assert have == {key: (len(gaps), min(gaps)) for key, gaps in brute.items()}
    # One row per episode: the window-wide bucket of each co-action's earlier event.
    episodes = {key: len(set(firsts)) for key, firsts in brute_episodes(events, window).items()}
    assert {(r["a"], r["b"], r["i"]): r["len"] for r in per_item.iter_rows(named=True)} == episodes
    once = con.sql(coaction_sql("ev", window, 10**9, episodes=False)).pl()
    assert once.select("a", "b", "i").is_unique().all() and once.height == len(brute)


def brute_episodes(events: list[tuple[int, int, int]], window: int) -> dict[tuple[int, int, int], list[int]]:
    width = max(window, 1)
    out: dict[tuple[int, int, int], list[int]] = {}
    for x, y in combinations(events, 2):
        first, second = (x, y) if x[0] < y[0] else (y, x)
        if first[0] != second[0] and first[1] == second[1] and abs(first[2] - second[2]) <= window:
            out.setdefault((first[0], second[0], first[1]), []).append(min(first[2], second[2]) // width)
    return out


def test_join_keeps_the_closest_pair_as_evidence() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ev AS SELECT * FROM "
        "(VALUES (0, 1, 0, 'a0'), (0, 1, 50, 'a50'), (1, 1, 45, 'b45')) t(a, i, t, post_id)"
    )
    row = con.sql(coaction_sql("ev", 60, 10**9)).pl().row(0, named=True)
    assert row["gap"] == 5 and row["ex"]["pa"] == "a50" and row["ex"]["pb"] == "b45"
    assert pl.Series([row["n_co"]]).item() == 2
