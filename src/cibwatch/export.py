"""Files for people: CSV in which text a spreadsheet would run as a formula is written as text
(``write_csv``), and the coordination network that Gephi opens (``network_graph``).

Excel, LibreOffice Calc and Google Sheets evaluate a cell that begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (CSV or formula injection), and account names,
bios and hashtags come from the people being investigated. Every CSV that cibwatch writes for an
analyst (``scan``'s accounts.csv and campaigns.csv, ``coord``'s tables, ``bots score --out
x.csv``, ``eval coord``'s flagged lists) goes through ``write_csv``, which puts a single quote
before such a text cell, as OWASP recommends: the spreadsheet shows the text, not a result.
Only text columns change; numbers, negative ones included, stay numbers. Read such a file with
a program and a neutralized cell starts with ``'``: strip one leading quote before ``= + - @``,
tab or CR to get the original text back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

# The first characters that make a spreadsheet treat a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START_RE = r"^([=+\-@\t\r])"


def neutralize(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a ``'`` put before every text cell that a spreadsheet would evaluate.

    >>> frame = pl.DataFrame({"name": ["=1+1", "alice", "-1", None], "score": [-1.5, 2.0, 0.0, 1.0]})
    >>> neutralize(frame).rows()
    [("'=1+1", -1.5), ('alice', 2.0), ("'-1", 0.0), (None, 1.0)]
    """
    text = [c for c, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical)]
    return frame.with_columns(pl.col(c).cast(pl.String).str.replace(_FORMULA_START_RE, "'$1") for c in text)


def write_csv(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` (neutralized, see ``neutralize``) to ``path`` atomically: a temporary name, then
    a rename, so a reader never sees half a file.

    >>> write_csv(pl.DataFrame({"screen_name": ["@everyone"]}), "accounts.csv")  # doctest: +SKIP
    PosixPath('accounts.csv')
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        neutralize(frame).write_csv(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def network_graph(accounts: pl.DataFrame, edges: pl.DataFrame) -> Any:
    """The combined account network of ``coord_accounts`` and ``coord_edges`` rows, as a networkx graph.

    One node per account (label, cluster_id, coordination_score, traces) and one edge per pair, with
    the summed ``weight`` and ``weight_<trace>`` / ``n_shared_<trace>`` per trace: what Gephi opens.

    >>> g = network_graph(case.read("coord_accounts"), case.read("coord_edges"))   # doctest: +SKIP
    """
    import networkx as nx

    graph = nx.Graph()
    for row in accounts.iter_rows(named=True):
        graph.add_node(
            row["account_id"],
            label=row["screen_name"] or row["account_id"],
            cluster_id=row["cluster_id"] or "",
            coordination_score=float(row["coordination_score"]),
            traces=row["traces"] or "",
        )
    for row in edges.iter_rows(named=True):
        a, b, trace = row["account_a"], row["account_b"], row["trace"]
        if not graph.has_edge(a, b):
            graph.add_edge(a, b, weight=0.0, traces="")
        data = graph.edges[a, b]
        data["weight"] += float(row["weight"] or 0.0)
        data["traces"] = ",".join(sorted(filter(None, [*data["traces"].split(","), trace])))
        data[f"weight_{trace}"] = float(row["weight"] or 0.0)
        data[f"n_shared_{trace}"] = int(row["n_shared"] or 0)
    return graph
