"""Traces chosen by the data: timing is added when many posts carry nothing else to compare.

Most corpora carry text, reposts, links or tags, and the default traces compare those. Some carry
only who posted when (deleted posts, withheld content, times-only exports): there timing is the
only trace left, and an operation that posts and deletes in lockstep is linked by nothing else.
"""

from __future__ import annotations

from typing import Any

from cibwatch.coord.sqltext import trim_sql
from cibwatch.coord.traces import default_traces
from cibwatch.coord.traces.sync import CONTENT_FREE

# Add timing when at least this share of all posts is content-free …
CONTENT_FREE_SHARE = 0.20
# … or when one dataset (the `dataset` column) is almost all content-free, however small its share.
DATASET_CONTENT_FREE_SHARE = 0.90
# Timing over content-free posts only: a post with content has better traces, and its timing
# only adds the busy minutes of organic conversation (docs/coordination.md, "Traces").
TIMING_TRACE = "sync_bare"


def choose_traces(con: Any, posts_view: str) -> tuple[list[str], dict[str, Any]]:
    """The traces for ``posts_view`` (the detector's ``p`` view) and why, for ``run.json``.

    >>> names, reason = choose_traces(con, "p")  # doctest: +SKIP
    >>> reason["rule"]                            # doctest: +SKIP
    '31% of posts have no content (≥ 20%): sync_bare added'
    """
    rows = con.execute(
        f"""SELECT dataset, count(*),
                   count(*) FILTER (coalesce({trim_sql("p.text")}, '') <> ''),
                   count(*) FILTER (p.ref_post_id IS NOT NULL),
                   count(*) FILTER (len(p.urls) > 0),
                   count(*) FILTER (len(p.hashtags) > 0),
                   count(*) FILTER (len(p.media_hashes) > 0),
                   count(*) FILTER ({CONTENT_FREE})
            FROM {posts_view} p GROUP BY dataset ORDER BY dataset"""
    ).fetchall()
    fields = ("posts", "text", "ref_post_id", "urls", "hashtags", "media", "content_free")
    totals = dict.fromkeys(fields, 0)
    bare_datasets: dict[str, float] = {}
    for dataset, *counts in rows:
        for name, n in zip(fields, counts, strict=True):
            totals[name] += int(n)
        share = counts[-1] / counts[0] if counts[0] else 0.0
        if share >= DATASET_CONTENT_FREE_SHARE:
            bare_datasets[str(dataset)] = round(share, 4)
    n = totals["posts"]
    shares = {f"share_{name}": round(totals[name] / n, 4) if n else 0.0 for name in fields[1:]}
    overall = shares["share_content_free"]
    names = default_traces()
    if overall >= CONTENT_FREE_SHARE:
        rule = f"{overall:.0%} of posts have no content (≥ {CONTENT_FREE_SHARE:.0%}): {TIMING_TRACE} added"
    elif bare_datasets:
        rule = (
            f"{', '.join(bare_datasets)}: ≥ {DATASET_CONTENT_FREE_SHARE:.0%} of the dataset's posts "
            f"have no content: {TIMING_TRACE} added"
        )
    else:
        rule = f"{overall:.0%} of posts have no content (< {CONTENT_FREE_SHARE:.0%}): default traces"
    if overall >= CONTENT_FREE_SHARE or bare_datasets:
        names.append(TIMING_TRACE)
    reason = {
        "source": "chosen by the data",
        "traces": names,
        "rule": rule,
        "posts": n,
        **shares,
        "content_free_datasets": bare_datasets,
        "thresholds": {"share": CONTENT_FREE_SHARE, "dataset_share": DATASET_CONTENT_FREE_SHARE},
    }
    return names, reason
