"""--compat qut gives the real QUT toolkit's edge rows and weights on the same generated corpus."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cibwatch.coord.compat_qut import NETWORKS, qut_networks
from cibwatch.errors import ConfigError
from tests.coord.corpus import T0, make_case, post

toolkit = pytest.importorskip("coordination_network_toolkit")
from coordination_network_toolkit import compute_networks as qut  # noqa: E402
from coordination_network_toolkit.preprocess import preprocess_csv_files  # noqa: E402
from coordination_network_toolkit.similarity import get_similarity_fn_from_min_size  # noqa: E402

TEXTS = [
    "Vote early, vote often #election",
    "vote EARLY,  vote often #election @someone",
    "The polls are rigged, share this now",
    "the polls are rigged share this now!",
    "Breaking: new report on the economy today",
    "breaking new report on the economy",
    "@a @b",
    "",
    "nothing to see here",
    "Nothing to see here.",
]
URLS = ["", "http://a.com/x", "http://b.org/y http://a.com/x", "https://www.c.net/z?utm_source=q"]


def _corpus(seed: int, n: int = 500) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        user = f"u{rng.integers(0, 25)}"
        roll = rng.random()
        # Whole seconds and milliseconds, clustered so that windows matter.
        ts = float(
            T0
            + rng.integers(0, 40) * 30
            + rng.integers(0, 90)
            + (rng.integers(0, 1000) / 1000 if k % 3 else 0)
        )
        row = {
            "message_id": f"m{k}",
            "user_id": user,
            "username": user,
            "repost_id": f"r{rng.integers(0, 12)}" if roll < 0.4 else "",
            "reply_id": f"t{rng.integers(0, 8)}" if 0.4 <= roll < 0.6 else "",
            "message": TEXTS[rng.integers(0, len(TEXTS))],
            "timestamp": ts,
            "urls": URLS[rng.integers(0, len(URLS))],
        }
        rows.append(row)
    return rows


def _as_posts(rows: list[dict]) -> list[dict]:
    posts = []
    for r in rows:
        kind = "repost" if r["repost_id"] else "reply" if r["reply_id"] else "original"
        posts.append(
            post(
                r["user_id"],
                r["timestamp"] - T0,
                kind,
                r["repost_id"] or r["reply_id"] or None,
                post_id=r["message_id"],
                text=r["message"],
                # A reader keeps the links a post has; the toolkit's "" link is compat's business.
                urls=[u for u in r["urls"].split(" ") if u],
            )
        )
    return posts


def _toolkit(tmp: Path, rows: list[dict], window: float, min_weight: int, threshold: float) -> pl.DataFrame:
    path = tmp / "qut.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"]
        )
        for r in rows:
            writer.writerow(
                [r[c] for c in ("message_id", "user_id", "username", "repost_id", "reply_id", "message")]
                + [repr(r["timestamp"]), r["urls"]]
            )
    db = str(tmp / "qut.db")
    preprocess_csv_files(db, [str(path)])
    qut.compute_co_retweet_parallel(db, window, n_threads=1, min_edge_weight=min_weight)
    qut.compute_co_tweet_network(db, window, n_threads=1, min_edge_weight=min_weight)
    qut.compute_co_reply_network(db, window, n_threads=1, min_edge_weight=min_weight)
    qut.compute_co_link_network(db, window, n_threads=1, min_edge_weight=min_weight)
    qut.compute_co_similar_tweet(
        db,
        window,
        n_threads=1,
        min_edge_weight=min_weight,
        similarity_threshold=threshold,
        similarity_function=get_similarity_fn_from_min_size(1),
    )
    con = sqlite3.connect(db)
    frames = []
    for name in NETWORKS:
        got = con.execute(f"SELECT user_1, user_2, weight FROM {name}_network").fetchall()
        frames.append(
            pl.DataFrame(
                got, schema={"user_1": pl.String, "user_2": pl.String, "weight": pl.Int64}, orient="row"
            ).with_columns(network=pl.lit(name))
        )
    con.close()
    return (
        pl.concat(frames).select("network", "user_1", "user_2", "weight").sort("network", "user_1", "user_2")
    )


@pytest.mark.parametrize(("seed", "window", "min_weight"), [(1, 60, 1), (2, 30, 2)])
def test_compat_equals_the_toolkit(tmp_path: Path, seed: int, window: int, min_weight: int) -> None:
    rows = _corpus(seed)
    expected = _toolkit(tmp_path, rows, window, min_weight, 0.8)
    case = make_case(tmp_path / "case", _as_posts(rows))
    got = qut_networks(case, window=window, min_edge_weight=min_weight, similarity_threshold=0.8)
    for name in NETWORKS:
        want = expected.filter(pl.col("network") == name)
        have = got.filter(pl.col("network") == name)
        assert want.height > 0, f"the corpus should exercise {name}"
        assert have.to_dicts() == want.to_dicts(), name
    # The quirks are reproduced, not fixed: self-loops and the shared empty link.
    assert got.filter(pl.col("user_1") == pl.col("user_2")).height > 0


def test_compat_refuses_an_auto_window(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", [post("a", 0, "repost", "x")])
    with pytest.raises(ConfigError, match="fixed window"):
        qut_networks(case, window="auto")  # type: ignore[arg-type]


def test_cli_on_the_toolkits_own_csv_gives_its_networks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: the toolkit's CSV, read by cibwatch's qut reader, then --compat qut."""
    from cibwatch.cli.main import main

    rows = _corpus(5, n=300)
    expected = _toolkit(tmp_path, rows, 60, 2, 0.8)
    main(
        [
            "coord",
            str(tmp_path / "qut.csv"),
            "--out",
            str(tmp_path / "out"),
            "--compat",
            "qut",
            "--window",
            "60",
            "-q",
        ]
    )
    got = pl.read_csv(tmp_path / "out" / "edges.csv", infer_schema=False)
    have = got.select(
        network=pl.col("trace"),
        user_1=pl.col("account_a"),
        user_2=pl.col("account_b"),
        weight=pl.col("n_shared").cast(pl.Int64),
    ).sort("network", "user_1", "user_2")
    assert have.height > 0
    assert have.to_dicts() == expected.to_dicts()
