"""Run the QUT coordination-network-toolkit on a case's posts, the way its users do, and read its networks.

The case's posts are exported to the toolkit's CSV (message_id, user_id, username, repost_id,
reply_id, message, timestamp, urls), loaded with ``compute_networks DB preprocess`` and each network
computed with ``compute_networks DB compute NETWORK --time_window W --min_edge_weight M``. The
edges are then read from its SQLite tables with its own ``get_edge_rows`` (self-loops dropped).

One documented correction: the toolkit's CSV preprocess turns an empty ``urls`` field into the
link "" (FINDINGS), so every post without a link would co-link with every other. The rows with
url "" are deleted from its ``message_url`` table before ``co_link`` runs; without that its
co_link network is meaningless at this size.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cibwatch.errors import ConfigError
from cibwatch.store import duck, sql
from cibwatch.store.case import Case

QUT_NETWORKS = ("co_retweet", "co_tweet", "co_link", "co_similar_tweet")


@dataclass
class QutRun:
    edges: pl.DataFrame  # network, user_1, user_2, weight (no self-loops)
    seconds: dict[str, float] = field(default_factory=dict)  # per step: export, preprocess, each network
    command: list[str] = field(default_factory=list)
    reused: bool = False  # networks read from an earlier run on byte-identical input (seconds are that run's)


def toolkit_command() -> list[str]:
    """How to call the toolkit's CLI here; ConfigError when it is not installed."""
    exe = shutil.which("compute_networks")
    if exe:
        return [exe]
    try:
        import coordination_network_toolkit  # noqa: F401
    except ImportError:
        raise ConfigError(
            "The QUT toolkit is not installed: pip install 'cibwatch[qut]' to compare with it, "
            "or pass --no-qut."
        ) from None
    return [sys.executable, "-m", "coordination_network_toolkit"]


def export_qut_csv(case: Case, path: str | Path) -> int:
    """Write ``case``'s posts as the toolkit's CSV; returns the number of rows.

    Quotes count as originals (the toolkit has no quotes); times are whole epoch seconds. Link items
    "domain:<id>" (the coortweet reader's site ids, beside its "url:<id>") are not links and are left out.
    """
    con = duck.connect()
    try:
        posts = case.table_sql("posts")
        con.execute(
            f"""COPY (
                SELECT post_id AS message_id, account_id AS user_id, account_id AS username,
                       CASE WHEN kind = 'repost' THEN coalesce(ref_post_id, '') ELSE '' END AS repost_id,
                       CASE WHEN kind = 'reply' THEN coalesce(ref_post_id, '') ELSE '' END AS reply_id,
                       coalesce(text, '') AS message,
                       epoch_ms(created_at) // 1000 AS timestamp,
                       coalesce(array_to_string(
                           list_filter(urls, lambda u: NOT starts_with(u, 'domain:')), ' '), '') AS urls
                FROM {posts} WHERE created_at IS NOT NULL ORDER BY created_at, post_id
            ) TO {sql.literal(Path(path))} (HEADER, DELIMITER ',', QUOTE '"', ESCAPE '"')"""
        )
        return int(con.execute(f"SELECT count(*) FROM {posts} WHERE created_at IS NOT NULL").fetchall()[0][0])
    finally:
        con.close()


def run_qut(
    case: Case,
    workdir: str | Path,
    *,
    networks: tuple[str, ...] = QUT_NETWORKS,
    window: int = 60,
    min_edge_weight: int = 2,
    reuse: bool = True,
) -> QutRun:
    """Export, preprocess and compute ``networks`` with the toolkit's own CLI; its edges and timings.

    With ``reuse``, a run in ``workdir`` on byte-identical input and the same settings is read back
    instead of recomputed (the toolkit takes minutes on a million posts).

    >>> run_qut(open_case("out/case"), "out/qut", window=60).edges  # doctest: +SKIP
    """
    unknown = [n for n in networks if n not in (*QUT_NETWORKS, "co_reply")]
    if unknown:
        raise ConfigError(f"Unknown QUT network {', '.join(unknown)}; choose from {', '.join(QUT_NETWORKS)}.")
    command = toolkit_command()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    csv_path, db_path = work / "posts_qut.csv", work / "qut.db"
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    export_qut_csv(case, csv_path)
    seconds["export"] = time.perf_counter() - t0
    key = _run_key(csv_path, networks, window, min_edge_weight)
    manifest = work / "qut-run.json"
    if reuse and db_path.exists() and manifest.exists():
        earlier = json.loads(manifest.read_text())
        if earlier.get("key") == key:
            edges = read_networks(db_path, networks)
            return QutRun(edges=edges, seconds=earlier["seconds"], command=command, reused=True)
    db_path.unlink(missing_ok=True)
    manifest.unlink(missing_ok=True)
    _timed(seconds, "preprocess", [*command, str(db_path), "preprocess", "--format", "csv", str(csv_path)])
    with sqlite3.connect(db_path) as db:
        db.execute("DELETE FROM message_url WHERE url = ''")
    for network in networks:
        _timed(
            seconds,
            network,
            [
                *command,
                str(db_path),
                "compute",
                network,
                "--time_window",
                str(int(window)),
                "--min_edge_weight",
                str(int(min_edge_weight)),
            ],
        )
    manifest.write_text(json.dumps({"key": key, "seconds": seconds}, indent=2) + "\n")
    return QutRun(edges=read_networks(db_path, networks), seconds=seconds, command=command)


def _run_key(csv_path: Path, networks: tuple[str, ...], window: int, min_edge_weight: int) -> str:
    """Identifies a run: the exported input's bytes, the settings and the toolkit's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        toolkit = version("coordination-network-toolkit")
    except PackageNotFoundError:
        toolkit = "unknown"
    digest = hashlib.blake2b(digest_size=16)
    with csv_path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"{digest.hexdigest()}:{','.join(networks)}:{int(window)}:{int(min_edge_weight)}:{toolkit}"


def read_networks(db_path: str | Path, networks: tuple[str, ...] = QUT_NETWORKS) -> pl.DataFrame:
    """The computed networks of a toolkit database, self-loops dropped."""
    from coordination_network_toolkit.graph import get_edge_rows

    rows = []
    for network in networks:
        for user_1, user_2, weight, _ in get_edge_rows(str(db_path), network, loops=False):
            rows.append((network, str(user_1), str(user_2), int(weight)))
    return pl.DataFrame(
        rows,
        schema={"network": pl.String, "user_1": pl.String, "user_2": pl.String, "weight": pl.Int64},
        orient="row",
    )


def flagged_at(edges: pl.DataFrame, min_weight: int) -> pl.DataFrame:
    """Accounts in any edge of weight ≥ ``min_weight``, with the networks that link them."""
    kept = edges.filter((pl.col("weight") >= min_weight) & (pl.col("user_1") != pl.col("user_2")))
    sides = pl.concat(
        [
            kept.select(account_id="user_1", network="network"),
            kept.select(account_id="user_2", network="network"),
        ]
    )
    return sides.group_by("account_id").agg(traces=pl.col("network").unique().sort().str.join(","))


def _timed(seconds: dict[str, float], step: str, args: list[str]) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    seconds[step] = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"QUT toolkit step {step} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
