"""Score coordination detectors on a labeled case: cibwatch's ``coord.detect`` and the QUT toolkit.

Both sides are judged by the same ``coord_metrics`` on the same case and truth table. cibwatch's
clusters are its own (Leiden in ``coord``); the toolkit makes none, so its flagged network is
clustered with the same Leiden modularity (``leiden_clusters``) to measure purity.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from cibwatch.evaluate.metrics import CoordMetrics, coord_metrics, leiden_clusters
from cibwatch.evaluate.qut import QUT_NETWORKS, flagged_at, run_qut
from cibwatch.export import write_csv
from cibwatch.progress import Progress
from cibwatch.store.case import Case


@dataclass
class DetectorRun:
    """One detector's flags on one case, scored."""

    detector: str
    settings: str
    seconds: float
    metrics: CoordMetrics
    flagged: pl.DataFrame  # account_id, traces (","-separated), cluster_id
    details: dict[str, Any] = field(default_factory=dict)


def score_flagged(
    detector: str,
    settings: str,
    flagged: pl.DataFrame,
    truth: pl.DataFrame,
    seconds: float,
    *,
    min_posts: int = 5,
    details: dict[str, Any] | None = None,
) -> DetectorRun:
    """A ``DetectorRun`` from flagged accounts (account_id, traces, cluster_id)."""
    metrics = coord_metrics(
        flagged["account_id"], truth, flagged.select("account_id", "cluster_id"), min_posts=min_posts
    )
    return DetectorRun(detector, settings, seconds, metrics, flagged, details or {})


def run_cibwatch(
    case: Case,
    truth: pl.DataFrame,
    *,
    min_posts: int = 5,
    progress: Progress | None = None,
    **detect_kwargs: Any,
) -> DetectorRun:
    """Run ``cibwatch.coord.detect`` on ``case`` and score its flagged accounts and clusters."""
    from cibwatch.coord import detect

    t0 = time.perf_counter()
    result = detect(case, progress=progress, **detect_kwargs)
    seconds = time.perf_counter() - t0
    # Flagged: what the account decision calls coordinated (crowd and weak accounts are not).
    flagged = result.accounts.filter(pl.col("status") == "coordinated").select(
        "account_id", "traces", "cluster_id"
    )
    params = result.run.get("params", {})
    window = params.get("window")
    if window is None:
        window = "per trace (defaults)"
    elif isinstance(window, dict):
        window = ", ".join(f"{trace} {seconds}" for trace, seconds in window.items())
    settings = f"traces {','.join(params.get('traces', []))}; window {window}; " + (
        f"q ≤ {params.get('alpha')}, ≥ {params.get('min_shared')} items"
    )
    return score_flagged(
        "cibwatch",
        settings,
        flagged,
        truth,
        seconds,
        min_posts=min_posts,
        details={
            "run": result.run,
            "edges": result.edges.height,
            "clusters": result.clusters.height,
            "coordinated": result.accounts.filter(pl.col("status") == "coordinated").select(
                "account_id", "traces", "n_partners"
            ),
        },
    )


def run_qut_eval(
    case: Case,
    truth: pl.DataFrame,
    workdir: str | Path,
    *,
    window: int = 60,
    weights: tuple[int, ...] = (2, 10),
    networks: tuple[str, ...] = QUT_NETWORKS,
    min_posts: int = 5,
) -> list[DetectorRun]:
    """The toolkit once at the lowest weight; one scored run per minimum edge weight in ``weights``."""
    run = run_qut(case, workdir, networks=networks, window=window, min_edge_weight=min(weights))
    seconds = sum(run.seconds.values())
    runs = []
    for weight in weights:
        flagged = flagged_at(run.edges, weight)
        network = run.edges.filter(pl.col("weight") >= weight).select(a="user_1", b="user_2", weight="weight")
        flagged = flagged.join(leiden_clusters(network), on="account_id", how="left")
        runs.append(
            score_flagged(
                "QUT toolkit",
                f"{', '.join(networks)}; window {window} s; edge weight ≥ {weight}",
                flagged,
                truth,
                seconds,
                min_posts=min_posts,
                details={
                    "seconds": run.seconds,
                    "reused": run.reused,
                    "edges": int((run.edges["weight"] >= weight).sum()),
                },
            )
        )
    return runs


def trace_breakdown(flagged: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Flagged io and organic accounts per trace (an account counts once for each of its traces)."""
    rows = (
        flagged.select("account_id", pl.col("traces").fill_null("").str.split(","))
        .explode("traces")
        .filter(pl.col("traces") != "")
        .join(truth.select("account_id", "group"), on="account_id", how="left")
    )
    return (
        rows.group_by(trace="traces")
        .agg(io=(pl.col("group") == "io").sum(), organic=(pl.col("group") != "io").sum())
        .sort("io", "trace", descending=[True, False])
    )


def metrics_rows(runs: list[DetectorRun]) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the side-by-side table (``—`` where a metric is undefined)."""
    headers = [
        "detector",
        "settings",
        "recall (IO ≥ 5 posts)",
        "precision",
        "IO flagged",
        "organic flagged",
        "organic per 10k",
        "clusters",
        "purity",
        "category purity",
        "seconds",
    ]
    rows = []
    for run in runs:
        m = run.metrics
        rows.append(
            [
                run.detector,
                run.settings,
                _num(m.recall),
                _num(m.precision),
                m.io_flagged,
                m.organic_flagged,
                _num(m.organic_per_10k),
                m.clusters,
                _num(m.purity),
                _num(m.category_purity),
                round(run.seconds, 1),
            ]
        )
    return headers, rows


def _num(value: float | None) -> object:
    return "—" if value is None else round(value, 3)


def evaluate_coord(
    case: Case,
    truth: pl.DataFrame,
    *,
    qut_workdir: str | Path | None = None,
    window: int = 60,
    qut_weights: tuple[int, ...] = (2, 10),
    min_posts: int = 5,
    progress: Progress | None = None,
    **detect_kwargs: Any,
) -> list[DetectorRun]:
    """cibwatch (and, with ``qut_workdir``, the QUT toolkit) on ``case``, scored against ``truth``.

    >>> runs = evaluate_coord(open_case("out/ira/case"), load_truth("out/ira/truth.csv"))  # doctest: +SKIP
    """
    runs = [run_cibwatch(case, truth, min_posts=min_posts, progress=progress, window=window, **detect_kwargs)]
    if qut_workdir is not None:
        runs += run_qut_eval(
            case, truth, qut_workdir, window=window, weights=qut_weights, min_posts=min_posts
        )
    return runs


def write_report(runs: list[DetectorRun], truth: pl.DataFrame, out: str | Path) -> Path:
    """``metrics.json`` and per run a ``flagged-<n>.csv``: account_id, group, category, traces, cluster_id."""

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    records = []
    for n, run in enumerate(runs, start=1):
        name = f"flagged-{n}.csv"
        labels = truth.select("account_id", "group", "category")
        flagged = run.flagged.join(labels, on="account_id", how="left")
        write_csv(flagged.sort("group", "account_id"), target / name)
        records.append(
            {
                "detector": run.detector,
                "settings": run.settings,
                "seconds": round(run.seconds, 3),
                "metrics": run.metrics.as_dict(),
                "flagged_file": name,
                "details": run.details,
            }
        )
    path = target / "metrics.json"
    path.write_text(json.dumps(records, indent=2, default=str) + "\n")
    return path


def organic_placement(flagged: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """Where the flagged organic accounts sit: clusters with no io member, clusters with some, or none.

    Organic-only clusters are groups acting together on their own (possibly real automation in the
    organic data); organic accounts in clusters with io members are mixed in with the operation.
    """
    marked = (
        flagged.select("account_id", "cluster_id")
        .join(truth.select("account_id", "group"), on="account_id", how="left")
        .with_columns(is_io=(pl.col("group") == "io").fill_null(False))
    )
    io_clusters = marked.filter(pl.col("is_io")).get_column("cluster_id").drop_nulls().unique().implode()
    organic = marked.filter(~pl.col("is_io"))
    alone = organic.filter(pl.col("cluster_id").is_not_null() & ~pl.col("cluster_id").is_in(io_clusters))
    sizes = alone.group_by("cluster_id").len().sort("len", descending=True)["len"].to_list()
    return {
        "organic_flagged": organic.height,
        "in_organic_only_clusters": alone.height,
        "in_clusters_with_io": organic.filter(pl.col("cluster_id").is_in(io_clusters)).height,
        "in_no_cluster": organic.filter(pl.col("cluster_id").is_null()).height,
        "organic_only_cluster_sizes": sizes,
    }


def repost_lockstep(case: Case, members: pl.DataFrame, window_s: float) -> pl.DataFrame:
    """How much of each account's reposting its cluster does with it.

    ``members``: account_id, cluster_id. Per account: reposts, reposts of a post that a
    cluster-mate also reposted within ``window_s`` (``in_lockstep``), and the distinct accounts
    reposted (``sources``). An account whose every repost is in lockstep with the same partners,
    amplifying one or two sources, behaves like a retweet bot whatever its label.
    """
    con = case.con
    con.register("members_arrow", members.select("account_id", "cluster_id").to_arrow())
    try:
        return con.sql(
            f"""WITH r AS (
                    SELECT p.post_id, p.account_id, m.cluster_id, p.ref_post_id, p.ref_account_id,
                           epoch_ms(p.created_at) AS t
                    FROM posts p JOIN members_arrow m USING (account_id)
                    WHERE p.kind = 'repost' AND p.ref_post_id IS NOT NULL),
                locked AS (
                    SELECT DISTINCT x.post_id FROM r x JOIN r y
                    ON x.cluster_id = y.cluster_id AND x.ref_post_id = y.ref_post_id
                       AND x.account_id <> y.account_id AND abs(x.t - y.t) <= {float(window_s) * 1000})
                SELECT r.account_id, count(*) AS reposts,
                       count(*) FILTER (l.post_id IS NOT NULL) AS in_lockstep,
                       count(DISTINCT r.ref_account_id) AS sources
                FROM r LEFT JOIN locked l USING (post_id)
                GROUP BY r.account_id ORDER BY r.account_id"""
        ).pl()
    finally:
        con.unregister("members_arrow")


def best_repost_partner(case: Case, accounts: pl.Series, window_s: float) -> pl.DataFrame:
    """Per account: the most posts it reposted within ``window_s`` of one same other account.

    That count is what any pairwise co-repost rule can rest on: below ``min_shared`` no pair of
    the account's can be flagged, whatever the null model.
    """
    con = case.con
    con.register("wanted", pl.DataFrame({"account_id": accounts}).to_arrow())
    try:
        return con.sql(
            f"""WITH r AS (
                    SELECT account_id, ref_post_id, epoch_ms(created_at) AS t
                    FROM posts WHERE kind = 'repost' AND ref_post_id IS NOT NULL),
                mine AS (SELECT r.* FROM r SEMI JOIN wanted USING (account_id)),
                shared AS (
                    SELECT m.account_id, o.account_id AS other, count(DISTINCT m.ref_post_id) AS n
                    FROM mine m JOIN r o ON o.ref_post_id = m.ref_post_id
                         AND o.account_id <> m.account_id AND abs(o.t - m.t) <= {float(window_s) * 1000}
                    GROUP BY ALL)
                SELECT w.account_id, coalesce(max(s.n), 0) AS best_partner_items
                FROM wanted w LEFT JOIN shared s USING (account_id)
                GROUP BY w.account_id ORDER BY w.account_id"""
        ).pl()
    finally:
        con.unregister("wanted")
