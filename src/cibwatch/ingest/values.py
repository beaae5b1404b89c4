"""Moved to ``cibwatch.values`` (bots read raw fields too); this name re-exports it."""

# kept until the ingest split lands; remove then (ingest/run.py still imports stable_id from here).

from cibwatch.values import (
    MAX_INT,
    MAX_TIME_MS,
    MIN_INT,
    MIN_TIME_MS,
    any_date_ms,
    count,
    epoch_ms,
    flag,
    hashtags_in,
    iso_date_ms,
    mentions_in,
    normalize_text,
    shown,
    source_app,
    stable_id,
    text_or_none,
    time_ms,
    twitter_date_ms,
    urls_in,
)

__all__ = [
    "MAX_INT",
    "MAX_TIME_MS",
    "MIN_INT",
    "MIN_TIME_MS",
    "any_date_ms",
    "count",
    "epoch_ms",
    "flag",
    "hashtags_in",
    "iso_date_ms",
    "mentions_in",
    "normalize_text",
    "shown",
    "source_app",
    "stable_id",
    "text_or_none",
    "time_ms",
    "twitter_date_ms",
    "urls_in",
]
