"""The corpus builder: constant shifts, whole-minute times, period filter, truth from roles and labels."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cibwatch.errors import ConfigError
from cibwatch.evaluate.corpus import (
    DAY_MS,
    IO,
    LABELS,
    ORGANIC,
    WEEK_MS,
    CorpusSource,
    alignment_shift_ms,
    build_corpus,
    busiest_start_ms,
    floor_ms,
    load_truth,
    read_summary,
)
from cibwatch.store.case import Case

PERIOD = (datetime(2016, 6, 1, tzinfo=UTC), datetime(2016, 7, 1, tzinfo=UTC))
JUNE_10 = int(datetime(2016, 6, 10, 12, 0, tzinfo=UTC).timestamp())
ORGANIC_BUSY = int(datetime(2013, 3, 4, 9, 0, tzinfo=UTC).timestamp())  # a Monday


def _qut_csv(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    """Rows of (message_id, user_id, epoch seconds) in the QUT toolkit's CSV."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"]
        )
        for message_id, user_id, ts in rows:
            writer.writerow([message_id, user_id, user_id, "", "", f"post {message_id}", ts, ""])
    return path


def _authors_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["author_id", "account_category"])
        writer.writerows(rows)
    return path


@pytest.fixture
def sources(tmp_path: Path) -> list[CorpusSource]:
    io_rows = [
        ("i1", "troll_a", JUNE_10),
        ("i2", "troll_a", JUNE_10 + 60),
        ("i3", "troll_b", JUNE_10 + 120),
        ("i4", "troll_b", int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())),  # before the period
    ]
    # Second-resolution organic activity, busiest in March 2013, plus one stray post years later.
    organic_rows = [(f"o{k}", f"user{k % 3}", ORGANIC_BUSY + k * 3600 + 17.25) for k in range(20)]
    organic_rows.append(("stray", "user9", ORGANIC_BUSY + 900 * 86_400 + 5))
    return [
        CorpusSource(_qut_csv(tmp_path / "io.csv", io_rows), IO, "qut", "op"),
        CorpusSource(
            _authors_csv(tmp_path / "authors.csv", [("troll_a", "RightTroll")]), LABELS, "ira-538-authors"
        ),
        CorpusSource(_qut_csv(tmp_path / "organic.csv", organic_rows), ORGANIC, "qut", "org"),
    ]


def test_organic_source_is_shifted_by_whole_weeks_into_the_period(tmp_path: Path, sources) -> None:
    summary = build_corpus(sources, tmp_path / "corpus", period=PERIOD)
    org = next(s for s in summary.sources if s["dataset"] == "org")
    shift_ms = round(org["shift_days"] * DAY_MS)
    assert shift_ms % WEEK_MS == 0 and org["shift_source"] == "auto"
    with Case.open(summary.case_path) as case:
        posts = case.read("posts")
    times = posts.with_columns(ms=pl.col("created_at").dt.epoch("ms"))
    lo, hi = (int(t.timestamp() * 1000) for t in PERIOD)
    assert times["ms"].min() >= lo and times["ms"].max() < hi
    assert (times["ms"] % 60_000 == 0).all()  # floored to the IRA's minute resolution
    organic = times.filter(pl.col("dataset") == "org").sort("post_id")
    o5 = organic.filter(pl.col("post_id") == "o5")["ms"][0]
    assert o5 == floor_ms((ORGANIC_BUSY + 5 * 3600) * 1000 + 17_250, shift_ms, 60_000)
    # One constant shift: gaps between organic posts survive (up to the flooring).
    assert organic.filter(pl.col("post_id") == "o10")["ms"][0] - o5 == 5 * 3600 * 1000
    # Weekday survives the whole-week shift.
    assert (
        datetime.fromtimestamp(o5 / 1000, UTC).weekday()
        == datetime.fromtimestamp(ORGANIC_BUSY, UTC).weekday()
    )
    assert set(posts["post_id"]) == {"i1", "i2", "i3"} | {f"o{k}" for k in range(20)}  # stray and i4 dropped
    assert org["posts_kept"] == 20 and org["posts_stored"] == 21


def test_truth_marks_io_accounts_and_their_categories(tmp_path: Path, sources) -> None:
    summary = build_corpus(sources, tmp_path / "corpus", period=PERIOD)
    truth = load_truth(summary.truth_path).sort("account_id")
    rows = {r["account_id"]: r for r in truth.iter_rows(named=True)}
    assert rows["troll_a"]["group"] == "io" and rows["troll_a"]["category"] == "RightTroll"
    assert rows["troll_b"]["group"] == "io" and rows["troll_b"]["category"] == "unknown"
    assert rows["troll_a"]["n_posts"] == 2
    assert {rows[f"user{k}"]["group"] for k in range(3)} == {"organic"}
    assert "user9" not in rows  # no post in the period
    assert summary.counts["io_accounts"] == 2 and summary.counts["organic_accounts"] == 3
    moved = tmp_path / "elsewhere"
    (tmp_path / "corpus").rename(moved)
    again = read_summary(moved)
    assert again is not None and again.key == summary.key and again.truth_path == moved / "truth.csv"


def test_a_given_shift_is_used_as_is(tmp_path: Path, sources) -> None:
    days = (datetime(2016, 6, 1, tzinfo=UTC) - datetime(2013, 3, 1, tzinfo=UTC)).days
    sources[2] = CorpusSource(sources[2].path, ORGANIC, "qut", "org", shift_days=days)
    summary = build_corpus(sources, tmp_path / "corpus", period=PERIOD)
    org = next(s for s in summary.sources if s["dataset"] == "org")
    assert org["shift_days"] == days and org["shift_source"] == "given"


def test_labels_only_sources_are_refused(tmp_path: Path, sources) -> None:
    with pytest.raises(ConfigError, match="at least one posts file"):
        build_corpus([sources[1]], tmp_path / "corpus")


def test_busiest_stretch_and_alignment() -> None:
    counts = {0: 1, 10: 4, 11: 4, 12: 1, 40: 2}
    assert busiest_start_ms(counts, 3) == 10 * DAY_MS
    period = (datetime.fromtimestamp(70 * 86_400, UTC), datetime.fromtimestamp(73 * 86_400, UTC))
    assert alignment_shift_ms(counts, period) == math.ceil(60 / 7) * WEEK_MS
    with pytest.raises(ConfigError):
        busiest_start_ms({}, 3)


def test_load_truth_reads_common_label_spellings_and_refuses_others(tmp_path: Path) -> None:
    good = tmp_path / "truth.csv"
    good.write_text("account_id,label\na,bot\nb,human\nc,1\n")
    truth = load_truth(good).sort("account_id")
    assert truth["group"].to_list() == ["io", "organic", "io"]
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,group\na,maybe\n")
    with pytest.raises(ConfigError, match="maybe"):
        load_truth(bad)
