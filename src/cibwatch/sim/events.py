"""Posts before they are written: one polars frame per batch, one row per post.

References point at the referenced post's ``key`` and time; the writer turns (time, key)
into a snowflake id, so ids never need a lookup table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

ORIGINAL, REPOST, REPLY, QUOTE = 0, 1, 2, 3
KIND_NAMES = ("original", "repost", "reply", "quote")
# Keys of planned posts (tactics and traps) live in their own half of the id's low bits.
PLANNED_KEY_BASE = 1 << 40

SCHEMA: dict[str, Any] = {
    "key": pl.Int64,
    "t": pl.Int64,  # ms since the epoch
    "author": pl.Int64,  # account index in the World
    "kind": pl.Int8,
    "ref_key": pl.Int64,  # -1: none
    "ref_t": pl.Int64,
    "ref_author": pl.Int64,
    "root_key": pl.Int64,  # the conversation's first post
    "root_t": pl.Int64,
    "source": pl.Int64,
    "body": pl.String,  # null for reposts: they repeat the referenced post
    "tag1": pl.String,
    "tag2": pl.String,
    "url": pl.String,
    "mention": pl.Int64,  # an account named in the text (-1: none)
    "last_ref_t": pl.Int64,  # the latest time any post references this one (-1: never)
    "n_rt": pl.Int64,
    "n_reply": pl.Int64,
    "n_quote": pl.Int64,
    "n_like": pl.Int64,
}


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def frame(n: int, **columns: Any) -> pl.DataFrame:
    """A batch of ``n`` posts; missing columns take their neutral value."""
    data: dict[str, Any] = {}
    for name, dtype in SCHEMA.items():
        value = columns.get(name)
        if value is None:
            if dtype == pl.String:
                data[name] = pl.repeat(None, n, dtype=pl.String, eager=True).alias(name)
            else:
                data[name] = np.full(n, 0 if name.startswith("n_") else -1, dtype=np.int64)
        elif isinstance(value, pl.Series):
            data[name] = value.alias(name).cast(dtype)
        elif np.isscalar(value) or isinstance(value, str):
            scalar: Any = value
            data[name] = pl.repeat(scalar, n, dtype=dtype, eager=True).alias(name)
        else:
            data[name] = np.asarray(value)
    return pl.DataFrame(data).cast(pl.Schema(SCHEMA))


def with_likes(posts: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Like counts: a multiple of the reposts, plus a few from people who only like.

    Drawn with the posts rather than when they are written, so a post's JSON is a function of its
    row alone and any window can be written by any worker.
    """
    n = posts.height
    likes = np.floor(posts["n_rt"].to_numpy() * rng.lognormal(1.0, 0.8, n) + rng.poisson(0.8, n))
    return posts.with_columns(n_like=pl.Series(likes.astype(np.int64)))


def link_refs(posts: pl.DataFrame) -> pl.DataFrame:
    """Fill ref time/author, conversation root, reference counts and last reference time.

    Needs every referenced post inside ``posts`` (true for a tactic's whole plan).
    """
    if posts.is_empty():
        return posts
    targets = posts.select(
        pl.col("key").alias("ref_key"),
        pl.col("t").alias("_rt"),
        pl.col("author").alias("_ra"),
        pl.col("root_key").alias("_rk"),
        pl.col("root_t").alias("_rr"),
        pl.col("kind").alias("_kind"),
    )
    posts = posts.join(targets, on="ref_key", how="left", maintain_order="left")
    missing = posts.select(((pl.col("ref_key") >= 0) & pl.col("_rt").is_null()).sum()).item()
    if missing:
        raise RuntimeError(f"{missing} planned posts reference posts that are not planned")
    posts = posts.with_columns(
        ref_t=pl.when(pl.col("ref_key") >= 0).then(pl.col("_rt")).otherwise(-1),
        ref_author=pl.when(pl.col("ref_key") >= 0).then(pl.col("_ra")).otherwise(-1),
        root_key=pl.when(pl.col("kind") == REPLY)
        .then(pl.when(pl.col("_rk") >= 0).then(pl.col("_rk")).otherwise(pl.col("ref_key")))
        .otherwise(pl.col("key")),
        root_t=pl.when(pl.col("kind") == REPLY)
        .then(pl.when(pl.col("_rk") >= 0).then(pl.col("_rr")).otherwise(pl.col("ref_t")))
        .otherwise(pl.col("t")),
    ).drop("_rt", "_ra", "_rk", "_rr", "_kind")
    counts = (
        posts.filter(pl.col("ref_key") >= 0)
        .group_by("ref_key")
        .agg(
            pl.col("t").max().alias("_last"),
            (pl.col("kind") == REPOST).sum().cast(pl.Int64).alias("_rt_n"),
            (pl.col("kind") == REPLY).sum().cast(pl.Int64).alias("_rp_n"),
            (pl.col("kind") == QUOTE).sum().cast(pl.Int64).alias("_q_n"),
        )
        .rename({"ref_key": "key"})
    )
    posts = posts.join(counts, on="key", how="left", maintain_order="left").with_columns(
        last_ref_t=pl.max_horizontal(pl.col("last_ref_t"), pl.col("_last").fill_null(-1)),
        n_rt=pl.col("n_rt") + pl.col("_rt_n").fill_null(0),
        n_reply=pl.col("n_reply") + pl.col("_rp_n").fill_null(0),
        n_quote=pl.col("n_quote") + pl.col("_q_n").fill_null(0),
    )
    return posts.drop("_last", "_rt_n", "_rp_n", "_q_n").select(list(SCHEMA))
