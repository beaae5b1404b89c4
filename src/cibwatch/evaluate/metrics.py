"""Coordination metrics against a truth table: recall, precision, organic false positives, cluster purity.

Definitions (the truth table is ``corpus.TRUTH_COLUMNS``; "io" accounts are the positives):

- recall: io accounts with ≥ ``min_posts`` posts that are flagged / io accounts with ≥ ``min_posts`` posts;
- precision: io share of the flagged accounts (flagged accounts missing from the truth count as not io);
- organic per 10k: flagged organic accounts per 10,000 organic accounts in the truth (each posted);
- purity: over clusters of ≥ 2 accounts, the share of clustered accounts in their cluster's majority
  class, a class being the io account's category (RightTroll, NewsFeed…) or "organic";
- category purity: the same over io members only, in clusters with ≥ 2 io members: do clusters
  keep the operation's own account categories apart?
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from cibwatch.errors import ConfigError

ORGANIC_CLASS = "organic"


@dataclass
class CoordMetrics:
    flagged: int
    io_flagged: int
    organic_flagged: int
    unknown_flagged: int
    io_eligible: int
    io_eligible_flagged: int
    organic_active: int
    recall: float | None
    precision: float | None
    organic_per_10k: float | None
    clusters: int
    clustered_accounts: int
    purity: float | None
    category_purity: float | None
    # category -> (flagged, eligible), over io accounts with ≥ min_posts
    recall_by_category: dict[str, tuple[int, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def coord_metrics(
    flagged: Iterable[str],
    truth: pl.DataFrame,
    clusters: pl.DataFrame | None = None,
    *,
    min_posts: int = 5,
) -> CoordMetrics:
    """Score a set of flagged account ids (and their clusters) against ``truth``.

    ``clusters``: columns account_id, cluster_id (null: in no cluster).

    >>> truth = pl.DataFrame({"account_id": ["a", "b", "c"], "group": ["io", "io", "organic"],
    ...                       "category": ["X", "X", None], "n_posts": [9, 9, 9]})
    >>> coord_metrics(["a", "c"], truth).precision
    0.5
    """
    missing = {"account_id", "group"} - set(truth.columns)
    if missing:
        raise ConfigError(f"The truth table needs the columns {', '.join(sorted(missing))}.")
    truth = _complete(truth)
    flagged_ids = pl.DataFrame({"account_id": sorted(set(flagged))}, schema={"account_id": pl.String})
    marked = flagged_ids.join(truth, on="account_id", how="left")
    io_flagged = marked.filter(pl.col("group") == "io").height
    organic_flagged = marked.filter(pl.col("group") == "organic").height
    unknown_flagged = marked.filter(pl.col("group").is_null()).height
    eligible = truth.filter((pl.col("group") == "io") & (pl.col("n_posts").fill_null(min_posts) >= min_posts))
    eligible = eligible.with_columns(
        is_flagged=pl.col("account_id").is_in(flagged_ids["account_id"].implode())
    )
    organic_active = truth.filter(pl.col("group") == "organic").height
    by_category = (
        eligible.group_by(pl.col("category").fill_null("unknown"))
        .agg(hit=pl.col("is_flagged").sum(), total=pl.len())
        .sort("total", descending=True)
    )
    purity, category_purity, n_clusters, clustered = _purity(clusters, truth)
    n_eligible_flagged = int(eligible["is_flagged"].sum())
    return CoordMetrics(
        flagged=flagged_ids.height,
        io_flagged=io_flagged,
        organic_flagged=organic_flagged,
        unknown_flagged=unknown_flagged,
        io_eligible=eligible.height,
        io_eligible_flagged=n_eligible_flagged,
        organic_active=organic_active,
        recall=_ratio(n_eligible_flagged, eligible.height),
        precision=_ratio(io_flagged, flagged_ids.height),
        organic_per_10k=None if organic_active == 0 else 10_000 * organic_flagged / organic_active,
        clusters=n_clusters,
        clustered_accounts=clustered,
        purity=purity,
        category_purity=category_purity,
        recall_by_category={
            c: (int(h), int(t)) for c, h, t in by_category.select("category", "hit", "total").iter_rows()
        },
    )


def purity(labels: Iterable[tuple[str, str]]) -> float | None:
    """Share of items in their cluster's majority class; ``labels`` are (cluster, class) pairs.

    >>> purity([("c1", "A"), ("c1", "A"), ("c1", "B"), ("c2", "B")])
    0.75
    """
    counts: dict[str, dict[str, int]] = {}
    total = 0
    for cluster, cls in labels:
        per = counts.setdefault(cluster, {})
        per[cls] = per.get(cls, 0) + 1
        total += 1
    if total == 0:
        return None
    return sum(max(per.values()) for per in counts.values()) / total


def _purity(
    clusters: pl.DataFrame | None, truth: pl.DataFrame
) -> tuple[float | None, float | None, int, int]:
    if clusters is None or clusters.height == 0:
        return None, None, 0, 0
    members = (
        clusters.select("account_id", "cluster_id")
        .drop_nulls("cluster_id")
        .unique("account_id")
        .join(truth.select("account_id", "group", "category"), on="account_id", how="left")
        .with_columns(
            cls=pl.when(pl.col("group") == "io")
            .then(pl.col("category").fill_null("unknown"))
            .otherwise(pl.lit(ORGANIC_CLASS))
        )
    )
    sizes = members.group_by("cluster_id").len()
    members = members.join(sizes.filter(pl.col("len") >= 2).select("cluster_id"), on="cluster_id")
    all_purity = purity(members.select("cluster_id", "cls").iter_rows())
    io_members = members.filter(pl.col("group") == "io")
    io_sizes = io_members.group_by("cluster_id").len().filter(pl.col("len") >= 2).select("cluster_id")
    io_purity = purity(io_members.join(io_sizes, on="cluster_id").select("cluster_id", "cls").iter_rows())
    return all_purity, io_purity, members["cluster_id"].n_unique(), members.height


def leiden_clusters(edges: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Leiden (modularity) clusters of an undirected weighted network, for tools that give no clusters.

    ``edges``: columns a, b, weight; pairs in both directions and several networks are summed once
    per unordered pair, self-loops dropped. Returns account_id, cluster_id (clusters of ≥ 2 only).
    """
    import igraph as ig
    import leidenalg

    undirected = (
        edges.filter(pl.col("a") != pl.col("b"))
        .with_columns(lo=pl.min_horizontal("a", "b"), hi=pl.max_horizontal("a", "b"))
        .group_by("lo", "hi")
        .agg(weight=pl.col("weight").cast(pl.Float64).sum())
        .sort("lo", "hi")
    )
    if undirected.height == 0:
        return pl.DataFrame(schema={"account_id": pl.String, "cluster_id": pl.String})
    nodes = sorted(set(undirected["lo"]) | set(undirected["hi"]))
    index = {n: i for i, n in enumerate(nodes)}
    graph = ig.Graph(
        n=len(nodes), edges=[(index[a], index[b]) for a, b in undirected.select("lo", "hi").iter_rows()]
    )
    graph.es["weight"] = undirected["weight"].to_list()
    partition = leidenalg.find_partition(
        graph, leidenalg.ModularityVertexPartition, weights="weight", seed=seed, n_iterations=-1
    )
    groups: dict[int, list[str]] = {}
    for node, m in zip(nodes, partition.membership, strict=True):
        groups.setdefault(m, []).append(node)
    ordered = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), min(g)))
    rows = [(member, f"Q{n}") for n, members in enumerate(ordered, start=1) for member in members]
    return pl.DataFrame(rows, schema={"account_id": pl.String, "cluster_id": pl.String}, orient="row")


def _complete(truth: pl.DataFrame) -> pl.DataFrame:
    for column, dtype in (("category", pl.String), ("n_posts", pl.Int64)):
        if column not in truth.columns:
            truth = truth.with_columns(pl.lit(None, dtype).alias(column))
    return truth.unique("account_id", keep="first")


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den
