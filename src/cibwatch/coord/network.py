"""One account network from all traces, Leiden clusters, coordination scores, cluster statistics."""

from __future__ import annotations

import polars as pl


def cluster(edges: pl.DataFrame, seed: int = 0) -> dict[str, str | None]:
    """Leiden clusters of the network all traces' flagged edges make: account → C1, C2, … or None."""
    if edges.height == 0:
        return {}
    combined = edges.group_by("account_a", "account_b").agg(weight=pl.col("weight").sum())
    nodes = sorted(set(combined["account_a"]) | set(combined["account_b"]))
    return _name_clusters(nodes, _leiden(nodes, combined, seed))


def build(
    edges: pl.DataFrame,
    evidence: pl.DataFrame,
    cluster_of: dict[str, str | None],
    shared_items: pl.DataFrame,
    cluster_items: pl.DataFrame,
    screen_names: dict[str, str],
    decisions: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The accounts and clusters tables.

    ``decisions``: account_id, status, account_q, n_tested, reason, trace_overlap (the account
    decision, ``cibwatch.coord.decide``);
    ``evidence``: the ranked examples per edge (rank 1 is quoted in ``top_evidence``);
    ``shared_items``: account_id, n_shared_items (distinct trace and item over all its edges);
    ``cluster_items``: cluster_id, n_items, top_items (over edges inside the cluster), which the
    caller computes where the co-acted items are, since they can run to many millions.
    """
    if edges.height == 0:
        return _no_accounts(), _no_clusters()
    accounts = _accounts(edges, evidence, shared_items, cluster_of, screen_names, decisions)
    clusters = _clusters(edges, cluster_items, cluster_of)
    return accounts, clusters


def _leiden(nodes: list[str], combined: pl.DataFrame, seed: int) -> list[int]:
    import igraph as ig
    import leidenalg

    index = {n: i for i, n in enumerate(nodes)}
    graph = ig.Graph(
        n=len(nodes),
        edges=[
            (index[a], index[b]) for a, b in zip(combined["account_a"], combined["account_b"], strict=True)
        ],
    )
    # Modularity needs positive weights; a flagged edge with idf-zero items still counts a little.
    graph.es["weight"] = [max(w, 1e-6) for w in combined["weight"]]
    partition = leidenalg.find_partition(
        graph, leidenalg.ModularityVertexPartition, weights="weight", seed=seed, n_iterations=-1
    )
    return list(partition.membership)


def _name_clusters(nodes: list[str], membership: list[int]) -> dict[str, str | None]:
    """Cluster ids C1, C2, … by size (then first member); lone accounts are in no cluster."""
    groups: dict[int, list[str]] = {}
    for node, m in zip(nodes, membership, strict=True):
        groups.setdefault(m, []).append(node)
    ordered = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), min(g)))
    names: dict[str, str | None] = dict.fromkeys(nodes)
    for n, members in enumerate(ordered, start=1):
        for member in members:
            names[member] = f"C{n}"
    return names


def _both_sides(frame: pl.DataFrame) -> pl.DataFrame:
    a = frame.rename({"account_a": "account_id", "account_b": "partner"})
    b = frame.rename({"account_b": "account_id", "account_a": "partner"})
    return pl.concat([a, b.select(a.columns)])


def _accounts(
    edges: pl.DataFrame,
    evidence: pl.DataFrame,
    shared: pl.DataFrame,
    cluster_of: dict[str, str | None],
    screen_names: dict[str, str],
    decisions: pl.DataFrame,
) -> pl.DataFrame:
    sides = _both_sides(edges.select("account_a", "account_b", "trace", "weight", "n_shared"))
    per = sides.group_by("account_id").agg(
        n_partners=pl.col("partner").n_unique().cast(pl.Int64),
        strength=pl.col("weight").sum(),
        traces=pl.col("trace").unique().sort().str.join(","),
    )
    top = _top_evidence(sides, evidence)
    return (
        per.join(shared, on="account_id", how="left")
        .join(top, on="account_id", how="left")
        .join(
            decisions.select("account_id", "status", "account_q", "n_tested", "reason", "trace_overlap"),
            on="account_id",
            how="left",
        )
        .with_columns(
            screen_name=pl.col("account_id").replace_strict(
                screen_names, default=None, return_dtype=pl.String
            ),
            cluster_id=pl.col("account_id").replace_strict(cluster_of, default=None, return_dtype=pl.String),
            # Saturating sum of TF-IDF similarities to flagged partners: many strong partners → near 1.
            coordination_score=1.0 - (-pl.col("strength")).exp(),
        )
        # A crowd or a weak account is not scored as coordinated, however many edges it has.
        .with_columns(
            coordination_score=pl.when(pl.col("status") == "coordinated")
            .then(pl.col("coordination_score"))
            .otherwise(0.0)
        )
        .sort(["coordination_score", "account_id"], descending=[True, False])
        .select(
            "account_id",
            "screen_name",
            "cluster_id",
            "coordination_score",
            "n_partners",
            "n_shared_items",
            "traces",
            "top_evidence",
            "status",
            "account_q",
            "n_tested",
            "reason",
            "trace_overlap",
        )
    )


def _top_evidence(sides: pl.DataFrame, evidence: pl.DataFrame) -> pl.DataFrame:
    """One sentence per account: its strongest edge and that edge's closest co-action."""
    best = (
        sides.sort(["weight", "n_shared", "partner"], descending=[True, True, False])
        .group_by("account_id", maintain_order=True)
        .first()
    )
    first_item = evidence.filter(pl.col("rank") == 1).select(
        "trace", "account_a", "account_b", "item", "time_a", "time_b", "gap_s"
    )
    example = _both_sides(first_item)
    joined = best.join(example, on=["account_id", "partner", "trace"], how="left")
    return joined.select(
        "account_id",
        top_evidence=pl.format(
            "{} with {}: {} shared items, e.g. {} ({}s apart at {})",
            "trace",
            "partner",
            "n_shared",
            "item",
            pl.col("gap_s").round(1),
            pl.col("time_a").dt.strftime("%Y-%m-%d %H:%M:%S"),
        ),
    )


def _clusters(
    edges: pl.DataFrame, cluster_items: pl.DataFrame, cluster_of: dict[str, str | None]
) -> pl.DataFrame:
    def in_cluster(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            ca=pl.col("account_a").replace_strict(cluster_of, default=None, return_dtype=pl.String),
            cb=pl.col("account_b").replace_strict(cluster_of, default=None, return_dtype=pl.String),
        ).filter(pl.col("ca").is_not_null() & (pl.col("ca") == pl.col("cb")))

    inner = in_cluster(edges)
    if inner.height == 0:
        return _no_clusters()
    sizes = (
        pl.DataFrame({"cluster_id": list(cluster_of.values())})
        .drop_nulls()
        .group_by("cluster_id")
        .agg(size=pl.len().cast(pl.Int64))
    )
    stats = inner.group_by("ca").agg(
        traces=pl.col("trace").unique().sort().str.join(","),
        first_at=pl.col("first_at").min(),
        last_at=pl.col("last_at").max(),
        n_pairs=pl.struct("account_a", "account_b").n_unique(),
    )
    return (
        stats.rename({"ca": "cluster_id"})
        .join(sizes, on="cluster_id")
        .join(cluster_items, on="cluster_id", how="left")
        .with_columns(density=pl.col("n_pairs") / (pl.col("size") * (pl.col("size") - 1) / 2))
        .with_columns(_cluster_number())
        .sort("_n")
        .select("cluster_id", "size", "traces", "n_items", "first_at", "last_at", "density", "top_items")
    )


def _cluster_number() -> pl.Expr:
    return pl.col("cluster_id").str.slice(1).cast(pl.Int64).alias("_n")


def _no_accounts() -> pl.DataFrame:
    from cibwatch import schema

    return pl.from_arrow(schema.COORD_ACCOUNTS.empty_table())  # type: ignore[return-value]


def _no_clusters() -> pl.DataFrame:
    from cibwatch import schema

    return pl.from_arrow(schema.COORD_CLUSTERS.empty_table())  # type: ignore[return-value]
