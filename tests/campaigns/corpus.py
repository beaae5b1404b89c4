"""A small constructed case that follows cibwatch.schema exactly: one campaign, bystanders, bots.

The stage tables are written by hand, so these tests do not depend on the bots or coord engines.

- op1…op4: core; repost and hashtag with each other (separate posts), created in one burst.
- op5, op6: amplifiers; repost with op1 and op2 only; same burst.
- op7: peripheral; one weak url edge to op1, created years earlier.
- x1, x2: text and url on the SAME posts (one act seen by two traces), in no cluster.
- b1: high bot score, no coordination. h1: middling bot score. o1, o2: one weak repost edge.
- bg00…bg29: ordinary accounts created over years (the case's creation baseline).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from cibwatch import schema
from cibwatch.store.case import Case

T0 = datetime(2016, 9, 1, 12, 0, tzinfo=UTC)
BURST = datetime(2016, 1, 10, tzinfo=UTC)
CORE = ["op1", "op2", "op3", "op4"]
AMPLIFIERS = ["op5", "op6"]
OPS = CORE + AMPLIFIERS
PROVENANCE = {"dataset": "constructed", "reader": "hand@1", "source_file": "corpus.py", "ingested_at": T0}


def table(rows: list[dict[str, Any]], table_schema: pa.Schema) -> pa.Table:
    full = [{f.name: r.get(f.name, PROVENANCE.get(f.name)) for f in table_schema} for r in rows]
    return pa.Table.from_pylist(full, schema=table_schema)


def _accounts() -> list[dict[str, Any]]:
    rows = []
    for i, a in enumerate(OPS):
        rows.append(
            {
                "account_id": a,
                "platform": "twitter",
                "screen_name": f"patriot_jane{i + 1:02d}",
                "name": f"Jane {i}",
                "description": "Proud american. God, guns, country." if i < 4 else f"bio {i}",
                "created_at": BURST + timedelta(hours=7 * i),
                "default_profile_image": True,
                "probed_at": T0,
                "snapshot_id": f"s-{a}",
            }
        )
    extra = {
        "op7": "quiet_reader",
        "x1": "copy_a",
        "x2": "copy_b",
        "b1": "spam_bot_x",
        "h1": "harry",
        "o1": "olga",
        "o2": "oscar",
    }
    for i, (a, name) in enumerate(extra.items()):
        rows.append(
            {
                "account_id": a,
                "platform": "twitter",
                "screen_name": name,
                "created_at": datetime(2011, 3, 1, tzinfo=UTC) + timedelta(days=97 * i),
                "probed_at": T0,
                "snapshot_id": f"s-{a}",
            }
        )
    for i in range(30):
        rows.append(
            {
                "account_id": f"bg{i:02d}",
                "platform": "twitter",
                "screen_name": f"person{i}x",
                "created_at": datetime(2009, 1, 1, tzinfo=UTC) + timedelta(days=71 * i),
                "probed_at": T0,
                "snapshot_id": f"s-bg{i}",
            }
        )
    return rows


def _edge(a: str, b: str, trace: str, n: int, q: float, expected: float = 0.3) -> dict[str, Any]:
    a, b = sorted((a, b))
    return {
        "account_a": a,
        "account_b": b,
        "trace": trace,
        "n_shared": n,
        "weight": 0.8,
        "expected": expected,
        "p_value": q / 10,
        "q_value": q,
        "first_at": T0,
        "last_at": T0 + timedelta(days=2),
        "median_gap_s": 20.0,
    }


def build(root: Path, *, bots: bool = True, coord: bool = True, posts: bool = True) -> Case:
    """Write the constructed corpus into a new case at ``root``."""
    case = Case.create(root)
    case.write_part("accounts", table(_accounts(), schema.ACCOUNTS), "accounts")
    edges, evidence, post_rows = [], [], []

    def post(pid: str, account: str, at: datetime, **kw: Any) -> None:
        post_rows.append(
            {"post_id": pid, "account_id": account, "created_at": at, "platform": "twitter", **kw}
        )

    def evidence_for(edge: dict[str, Any], items: list[str], shared_posts: bool = False) -> None:
        for k, item in enumerate(items):
            at = T0 + timedelta(hours=k)
            pid_a = (
                f"{edge['account_a']}-{item}"
                if shared_posts
                else f"{edge['account_a']}-{edge['trace']}-{item}"
            )
            pid_b = (
                f"{edge['account_b']}-{item}"
                if shared_posts
                else f"{edge['account_b']}-{edge['trace']}-{item}"
            )
            evidence.append(
                {
                    "account_a": edge["account_a"],
                    "account_b": edge["account_b"],
                    "trace": edge["trace"],
                    "item": item,
                    "post_id_a": pid_a,
                    "post_id_b": pid_b,
                    "time_a": at,
                    "time_b": at + timedelta(seconds=12),
                    "gap_s": 12.0,
                }
            )

    for a, b in itertools.combinations(CORE, 2):
        e = _edge(a, b, "repost", 12, 1e-6)
        edges.append(e)
        evidence_for(e, [f"rt{k}" for k in range(12)])
        e = _edge(a, b, "hashtag", 8, 1e-4, expected=0.8)
        edges.append(e)
        evidence_for(e, [f"tag{k}" for k in range(8)])
    for a, b in itertools.product(AMPLIFIERS, ["op1", "op2"]):
        e = _edge(a, b, "repost", 10, 1e-5)
        edges.append(e)
        evidence_for(e, [f"rt{k}" for k in range(10)])
    e = _edge("op7", "op1", "url", 3, 0.03, expected=1.1)
    edges.append(e)
    evidence_for(
        e, ["https://fakenews.example/a1", "https://fakenews.example/a2", "https://fakenews.example/a3"]
    )
    for trace in ("text", "url"):
        e = _edge("x1", "x2", trace, 6, 1e-5)
        edges.append(e)
        evidence_for(e, [f"copy{k}" for k in range(6)], shared_posts=True)
    e = _edge("o1", "o2", "repost", 2, 0.04, expected=0.9)
    edges.append(e)
    evidence_for(e, ["viral1", "viral2"])

    for k in range(12):
        for i, a in enumerate(OPS):
            at = T0 + timedelta(hours=k, seconds=3 * i)
            post(
                f"{a}-repost-rt{k}",
                a,
                at,
                kind="repost",
                ref_post_id=f"rt{k}",
                text=f"RT @source: Vote them out, they lied about number {k} #maga",
                hashtags=["MAGA", "tcot"],
                urls=[f"https://www.fakenews.example/a{k % 3}"],
            )
    for k in range(8):
        for a in CORE:
            post(
                f"{a}-hashtag-tag{k}",
                a,
                T0 + timedelta(days=1, hours=k),
                kind="original",
                text=f"Stop the steal now, day {k % 2}",
                hashtags=["stopthesteal"],
                urls=[""],
            )
    for k in range(6):
        for a in ("x1", "x2"):
            post(
                f"{a}-copy{k}",
                a,
                T0 + timedelta(days=2, hours=k),
                kind="original",
                text=f"Buy cheap pills here {k}",
                urls=[f"https://pills.example/{k}"],
            )

    if coord:
        case.replace_table("coord_edges", table(edges, schema.COORD_EDGES))
        case.replace_table("coord_evidence", table(evidence, schema.COORD_EVIDENCE))
        cluster = [*OPS, "op7"]
        acc_rows = [
            {
                "account_id": a,
                "cluster_id": "k1" if a in cluster else None,
                "coordination_score": 0.9 if a in CORE else 0.6 if a in AMPLIFIERS else 0.3,
                "n_partners": 1,
                "n_shared_items": 3,
                "traces": "repost",
            }
            for a in [*cluster, "x1", "x2", "o1", "o2"]
        ]
        case.replace_table("coord_accounts", table(acc_rows, schema.COORD_ACCOUNTS))
        case.replace_table(
            "coord_clusters",
            table(
                [
                    {
                        "cluster_id": "k1",
                        "size": 7,
                        "traces": "repost,hashtag",
                        "n_items": 20,
                        "first_at": T0,
                        "last_at": T0 + timedelta(days=2),
                        "density": 0.6,
                    }
                ],
                schema.COORD_CLUSTERS,
            ),
        )
    if posts:
        case.write_part("posts", table(post_rows, schema.POSTS), "posts")
    if bots:
        scores = {"op1": 0.95, "op2": 0.5, "b1": 0.97, "h1": 0.65, "bg00": 0.1}
        case.replace_table(
            "bot_scores",
            table(
                [
                    {
                        "account_id": a,
                        "platform": "twitter",
                        "bot_score": s,
                        "bot_label": "bot" if s >= 0.5 else "human",
                        "top_reasons": "default profile image; young account",
                        "head": "profile",
                        "model_version": "bots-0.1",
                    }
                    for a, s in scores.items()
                ],
                schema.BOT_SCORES,
            ),
        )
    return case


def relabel_bot(case: Case, account_id: str, label: str) -> None:
    """Give ``account_id`` another ``bot_label`` in the case's bot_scores (score unchanged)."""
    import polars as pl

    scores = case.read("bot_scores").with_columns(
        pl.when(pl.col("account_id") == account_id)
        .then(pl.lit(label))
        .otherwise(pl.col("bot_label"))
        .alias("bot_label")
    )
    case.replace_table("bot_scores", scores.to_arrow().cast(schema.BOT_SCORES))
