"""Evaluation on labeled real data: build a time-aligned corpus, score a detector against its truth.

>>> from cibwatch.evaluate import build_corpus, ira_2016_sources        # doctest: +SKIP
>>> corpus = build_corpus(ira_2016_sources("../shared/data/io"), "out/ira-corpus")  # doctest: +SKIP
>>> coord_metrics(flagged, clusters, load_truth(corpus.truth_path))      # doctest: +SKIP
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
