"""Small constructed corpora: posts tables written straight into a case."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cibwatch import schema
from cibwatch.store.case import Case

T0 = 1_467_331_200  # 2016-07-01T00:00:00Z


def post(account: str, seconds: float, kind: str = "original", ref: str | None = None, **fields: Any) -> dict:
    """One post by ``account`` at T0 + ``seconds``."""
    return {"account_id": account, "seconds": seconds, "kind": kind, "ref_post_id": ref, **fields}


def make_case(root: Path, posts: list[dict], dataset: str = "test") -> Case:
    """A case whose posts table holds ``posts`` (post ids p0, p1, … unless given)."""
    case = Case.create(root)
    case.write_part("posts", posts_table(posts, dataset), "part-0")
    return case


def posts_table(posts: list[dict], dataset: str = "test") -> pa.Table:
    n = len(posts)
    now = datetime.now(UTC)
    columns: dict[str, list[Any]] = {f.name: [] for f in schema.POSTS}
    for k, p in enumerate(posts):
        row = {
            "post_id": p.get("post_id", f"p{k}"),
            "account_id": p["account_id"],
            "created_at": round((T0 + p["seconds"]) * 1000),
            "kind": p.get("kind", "original"),
            "ref_post_id": p.get("ref_post_id"),
            "ref_account_id": p.get("ref_account_id"),
            "text": p.get("text"),
            "lang": None,
            "source_app": None,
            "hashtags": p.get("hashtags"),
            "urls": p.get("urls"),
            "mentions": p.get("mentions"),
            "media_hashes": p.get("media_hashes"),
            "platform": "twitter",
            "dataset": p.get("dataset", dataset),
            "reader": "test@1",
            "source_file": "constructed",
            "ingested_at": now,
        }
        for name, value in row.items():
            columns[name].append(value)
    arrays = []
    for f in schema.POSTS:
        if f.name == "created_at":
            arrays.append(pa.array(columns[f.name], pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(columns[f.name], f.type))
    assert all(len(a) == n for a in arrays)
    return pa.Table.from_arrays(arrays, schema=schema.POSTS)


def random_reposts(
    rng: np.random.Generator, n_accounts: int, n_items: int, per_account: int, span_s: float
) -> list[dict]:
    """Independent activity: each account reposts popular-skewed items at uniform random times."""
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    posts = []
    for a in range(n_accounts):
        items = rng.choice(n_items, size=per_account, p=popularity)
        times = rng.uniform(0, span_s, size=per_account)
        for item, t in zip(items, times, strict=True):
            posts.append(post(f"u{a:04d}", float(round(t)), "repost", f"item{item}"))
    return posts
