"""Evaluation on labeled real data: build a time-aligned corpus, score a detector against its truth.

The corpus of docs/benchmarks.md, from the data in ``../shared/data/io`` (case/ and truth.csv):

>>> import polars as pl
>>> from cibwatch.evaluate import build_corpus, coord_metrics, ira_2016_sources, load_truth
>>> corpus = build_corpus(ira_2016_sources("../shared/data/io"), "out/ira-corpus")  # doctest: +SKIP
>>> truth = load_truth(corpus.truth_path)                                        # doctest: +SKIP

Any detector's flagged accounts, and its clusters, are scored against such a truth table:

>>> truth = pl.DataFrame({"account_id": ["a", "b", "c", "d"], "group": ["io", "io", "organic", "organic"]})
>>> clusters = pl.DataFrame({"account_id": ["a", "c"], "cluster_id": ["k1", "k1"]})
>>> metrics = coord_metrics(["a", "c"], truth, clusters)
>>> metrics.precision, metrics.recall, metrics.purity
(0.5, 0.5, 0.5)
"""

from cibwatch.evaluate.corpus import (
    CorpusSource,
    CorpusSummary,
    build_corpus,
    ira_2016_sources,
    load_truth,
    truth_from_case,
)
from cibwatch.evaluate.metrics import CoordMetrics, coord_metrics, leiden_clusters

__all__ = [
    "CoordMetrics",
    "CorpusSource",
    "CorpusSummary",
    "build_corpus",
    "coord_metrics",
    "ira_2016_sources",
    "leiden_clusters",
    "load_truth",
    "truth_from_case",
]
