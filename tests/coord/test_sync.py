"""Timing: the sync null model by hour of day, its cost caps, and the traces chosen by the data."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from cibwatch.cli.main import main
from cibwatch.coord import default_traces, detect, traces, write_outputs
from cibwatch.coord.choose import choose_traces
from cibwatch.coord.detect import CoordResult
from cibwatch.coord.traces import null_strata
from tests.coord.corpus import make_case, post

DAY = 86_400
BOTS = [f"bot{j}" for j in range(5)]


def _evening(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Seconds from T0: 90 % between 20:00 and 22:00 of a random day, the rest at any hour."""
    day = rng.integers(0, days, n)
    hour = np.where(rng.random(n) < 0.9, 20 * 3600 + rng.uniform(0, 7200, n), rng.uniform(0, DAY, n))
    return np.floor(day * DAY + hour)


def _rhythm_posts(seed: int, days: int = 14) -> list[dict]:
    """Times only: 60 evening accounts and 60 around-the-clock accounts, all independent, and five
    evening bots that also post together (within 20 s, one minute bin) at 15 evening moments."""
    rng = np.random.default_rng(seed)
    posts = []
    for a in range(60):
        posts += [post(f"eve{a:02d}", float(t)) for t in _evening(rng, 80, days)]
        posts += [post(f"clk{a:02d}", float(t)) for t in np.floor(rng.uniform(0, days * DAY, 80))]
    moments = (_evening(rng, 15, days) // 60) * 60
    for bot in BOTS:
        posts += [post(bot, float(t)) for t in _evening(rng, 30, days)]
        posts += [post(bot, float(m + rng.integers(0, 20))) for m in moments]
    return posts


def _pairs(result: CoordResult) -> set[tuple[str, str]]:
    return set(zip(result.edges["account_a"], result.edges["account_b"], strict=True))


def test_hour_of_day_strata_fix_shared_rhythms_and_keep_the_lockstep_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = make_case(tmp_path / "case", _rhythm_posts(seed=0))
    planted = set(combinations(BOTS, 2))

    hourly = detect(case, traces=["sync"])
    assert hourly.run["traces"]["sync"]["null_strata"] == "stratum × hour of day"
    assert hourly.run["tested_pairs"] > 3000
    # Independent accounts, however alike their evenings, are not flagged; the bots all are.
    assert _pairs(hourly) == planted

    # The same trace with the run's week strata: evening people co-act more often than the week's
    # average minute predicts, and hundreds of independent pairs are flagged.
    registry = importlib.import_module("cibwatch.coord.traces")._TRACES
    monkeypatch.setitem(registry, "sync", replace(traces()["sync"], strata=None))
    weekly = detect(case, traces=["sync"])
    assert weekly.run["traces"]["sync"]["null_strata"] == "604800 s"
    assert planted <= _pairs(weekly)
    assert len(_pairs(weekly) - planted) > 100


def test_strata_fall_back_to_the_week_when_the_bin_is_too_wide() -> None:
    sync = traces()["sync"]
    own, slot_ms, label = null_strata(sync, 604_800_000, 60_000)
    assert own is not None and "{t}" in own and slot_ms == 3_600_000 and label == "stratum × hour of day"
    # Four 20-minute windows do not fit in an hour: the hour is no longer much wider than a co-action.
    own, slot_ms, label = null_strata(sync, 604_800_000, 1_200_000)
    assert own is None and slot_ms == 604_800_000 and "window too wide" in label


def test_hour_strata_ids_are_consecutive_hours() -> None:
    own, _, _ = null_strata(traces()["sync"], 604_800_000, 60_000)
    assert own is not None
    expr = own.replace("{t}", "t")
    ms = [0, 3_599_999, 3_600_000, 23 * 3_600_000, DAY * 1000, 604_800_000 - 1, 604_800_000]
    con = duckdb.connect()
    ids = [con.execute(f"SELECT {expr} FROM (SELECT {t}::BIGINT AS t)").fetchall()[0][0] for t in ms]
    # Hour 0 of every day in a week is one stratum; hour 23 is followed by the next week's hour 0.
    assert ids == [0, 0, 1, 23, 0, 23, 24]


def test_a_crowded_minute_is_capped_not_paired(tmp_path: Path) -> None:
    posts = [post(f"a{j:02d}", 30.0 + j) for j in range(12)]  # twelve accounts in one minute
    posts += [post(f"a{j:02d}", 7200.0 + 60 * k + j) for j in range(3) for k in range(4)]
    case = make_case(tmp_path / "case", posts)
    result = detect(case, traces=["sync"], max_burst_accounts=10, alpha=1.0, min_shared=1)
    assert result.capped["reason"].to_list() == ["burst"]
    assert result.capped["n_accounts"].to_list() == [12]
    assert result.run["traces"]["sync"]["tested_pairs"] == 3  # only the three accounts of the later bins


def _times_only(n: int = 40) -> list[dict]:
    return [post(f"u{j % 8}", 61.0 * j) for j in range(n)]


def _with_content(n: int = 40) -> list[dict]:
    return [
        post(f"u{j % 8}", 61.0 * j, "repost", f"src{j % 5}")
        if j % 2
        else post(f"u{j % 8}", 61.0 * j, text=f"an ordinary post about the weather, number {j}")
        for j in range(n)
    ]


def test_choose_adds_timing_only_when_posts_carry_nothing_else(tmp_path: Path) -> None:
    con = duckdb.connect()
    bare = make_case(tmp_path / "bare", _times_only())
    names, reason = choose_traces(con, bare.table_sql("posts"))
    assert names == [*default_traces(), "sync_bare"]
    assert reason["share_content_free"] == 1.0 and "sync_bare added" in reason["rule"]

    full = make_case(tmp_path / "full", _with_content())
    names, reason = choose_traces(con, full.table_sql("posts"))
    assert names == default_traces()
    assert reason["share_content_free"] == 0.0 and reason["share_text"] == 0.5
    assert reason["share_ref_post_id"] == 0.5

    # One dataset of deleted posts is 10 % of the corpus, under the overall share, but all bare.
    deleted = [{**p, "dataset": "deleted", "post_id": f"d{k}"} for k, p in enumerate(_times_only(20))]
    mixed = make_case(tmp_path / "mixed", _with_content(180) + deleted)
    names, reason = choose_traces(con, mixed.table_sql("posts"))
    assert names[-1] == "sync_bare"
    assert reason["share_content_free"] == 0.1 and reason["content_free_datasets"] == {"deleted": 1.0}


def test_detect_records_the_choice_and_explicit_traces_override(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", _times_only())
    chosen = detect(case)
    assert chosen.run["trace_choice"]["source"] == "chosen by the data"
    assert list(chosen.run["traces"]) == [*default_traces(), "sync_bare"]
    assert chosen.run["params"]["traces"] == [*default_traces(), "sync_bare"]
    assert chosen.run["traces"]["sync_bare"]["events"] == 40

    given = detect(case, traces=["repost"])
    assert given.run["trace_choice"] == {"source": "given", "traces": ["repost"]}
    assert list(given.run["traces"]) == ["repost"]

    paths = write_outputs(chosen, tmp_path / "out")
    assert json.loads(Path(paths["run"]).read_text())["trace_choice"]["traces"][-1] == "sync_bare"


def test_cli_default_run_writes_the_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_case(tmp_path / "case", _rhythm_posts(seed=1, days=7)).close()
    main(["coord", str(tmp_path / "case"), "--out", str(tmp_path / "out"), "--json"])
    capsys.readouterr()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["trace_choice"]["rule"].startswith("100% of posts have no content")
    assert run["traces"]["sync_bare"]["null_strata"] == "stratum × hour of day"
    assert set(pl.read_csv(tmp_path / "out" / "accounts.csv")["account_id"]) == set(BOTS)
