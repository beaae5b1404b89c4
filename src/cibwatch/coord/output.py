"""Write a ``CoordResult`` into the case and to an output folder (CSV, Gephi, Parquet, run.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from cibwatch.coord.detect import CoordResult
from cibwatch.export import network_graph, write_csv
from cibwatch.store.case import Case

CASE_TABLES = {
    "coord_edges": "edges",
    "coord_evidence": "evidence",
    "coord_accounts": "accounts",
    "coord_clusters": "clusters",
}


def save_to_case(result: CoordResult, case: Case) -> None:
    """Replace the case's coord_* tables with this run's (reruns recompute, never append)."""
    for table, attr in CASE_TABLES.items():
        case.replace_table(table, getattr(result, attr))


def write_outputs(result: CoordResult, out_dir: str | Path) -> dict[str, Path]:
    """accounts.csv, edges.csv, clusters.csv, evidence.parquet, network.graphml/.gexf, run.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "accounts": out / "accounts.csv",
        "edges": out / "edges.csv",
        "clusters": out / "clusters.csv",
        "evidence": out / "evidence.parquet",
        "graphml": out / "network.graphml",
        "gexf": out / "network.gexf",
        "capped": out / "capped_items.csv",
        "run": out / "run.json",
    }
    _csv(result.accounts, paths["accounts"])
    _csv(result.edges, paths["edges"])
    _csv(result.clusters, paths["clusters"])
    _csv(result.capped, paths["capped"])
    result.evidence.write_parquet(paths["evidence"], compression="zstd")
    graph = to_networkx(result)
    import networkx as nx

    nx.write_graphml(graph, paths["graphml"])
    nx.write_gexf(graph, paths["gexf"])
    paths["run"].write_text(json.dumps(result.run, indent=2, default=str) + "\n")
    return paths


def to_networkx(result: CoordResult) -> Any:
    """The combined account network: one edge per pair, a weight and n_shared per trace."""
    return network_graph(result.accounts, result.edges)


def _csv(frame: pl.DataFrame, path: Path) -> None:
    write_csv(
        frame.with_columns(
            pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            for c, t in frame.schema.items()
            if t == pl.Datetime
        ),
        path,
    )
