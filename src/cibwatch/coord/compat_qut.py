"""``--compat qut``: the QUT coordination-network-toolkit's networks, reproduced exactly, in DuckDB.

Same input and settings give the same edge rows and weights as the toolkit (1.5.2, CSV preprocess):

- a row per *ordered* pair (user_1, user_2), weight = how many distinct messages of user_1 have a
  matching message of user_2 within ``window`` seconds (inclusive), kept when weight ≥ min weight;
- self-loops (user_1 = user_2) are kept: every message matches itself, as in the toolkit;
- reposts are excluded from co_tweet, co_reply, co_link and co_similar_tweet;
- co_link: a post without links shares the link "" (the toolkit splits an empty ``urls`` field
  into [""]); links are compared as written, not normalized;
- co_tweet: lower-cased text, @mentions removed, whitespace collapsed (its ``message_preprocessor``);
- co_similar_tweet: Jaccard similarity of its word-token sets ≥ the threshold; documents with fewer
  than ``min_document_size`` tokens are similar to nothing (its CLI default, 1).

These quirks are reproduced on purpose so results can be compared; the detector proper
(``cibwatch.coord.detect``) does none of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from cibwatch.coord.params import check_window
from cibwatch.errors import ConfigError
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store.case import Case

NETWORKS = ("co_retweet", "co_tweet", "co_reply", "co_link", "co_similar_tweet")

# The toolkit's str.split() splits on any Unicode whitespace; RE2's \s is ASCII only.
_WS_CHARS = (
    r"\s\x{0b}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{1c}-\x{1f}"
)
_WS = f"[{_WS_CHARS}]+"


def qut_networks(
    case: Case,
    networks: list[str] | tuple[str, ...] = NETWORKS,
    window: float = 1,
    *,
    min_edge_weight: int = 2,
    similarity_threshold: float = 0.8,
    min_document_size: int = 1,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """The toolkit's networks as one frame: network, user_1, user_2, weight.

    >>> qut_networks(open_case("out/case"), ["co_retweet"], window=60)  # doctest: +SKIP
    """
    unknown = [n for n in networks if n not in NETWORKS]
    if unknown:
        raise ConfigError(f"Unknown QUT network {', '.join(unknown)}; choose from {', '.join(NETWORKS)}.")
    if check_window(window) == "auto":
        raise ConfigError(
            "--compat qut needs a fixed window in seconds, as the toolkit does; 'auto' is not one."
        )
    if not isinstance(min_edge_weight, int) or min_edge_weight < 1:
        raise ConfigError(
            f"The 'min_edge_weight' parameter must be a whole number ≥ 1. Got {min_edge_weight!r}."
        )
    from cibwatch.coord.detect import connect

    frames = []
    if not case.has_table("posts"):
        return _empty()
    with tempfile.TemporaryDirectory(prefix="qut-", dir=case.root) as tmp:
        con = connect(Path(tmp), "2GB", 2)
        try:
            con.execute(
                f"""CREATE TABLE edge AS SELECT post_id AS message_id, account_id AS user_id,
                           CASE WHEN kind = 'repost' THEN ref_post_id END AS repost_id,
                           CASE WHEN kind = 'reply' THEN ref_post_id END AS reply_id,
                           coalesce(text, '') AS message, urls,
                           epoch_ms(created_at) / 1000.0 AS ts
                    FROM {case.table_sql("posts")}
                    WHERE created_at IS NOT NULL"""
            )
            for n, name in enumerate(networks):
                if progress:
                    progress(ProgressEvent("coord", "QUT networks", n, len(networks)))
                events = _events(con, name, min_document_size)
                if name == "co_similar_tweet":
                    sql = _similar_sql(float(window), min_edge_weight, similarity_threshold)
                else:
                    sql = _match_sql(events, float(window), min_edge_weight)
                frames.append(con.sql(sql).pl().with_columns(network=pl.lit(name)))
        finally:
            con.close()
    if progress:
        progress(ProgressEvent("coord", "QUT networks", len(networks), len(networks)))
    if not frames:
        return _empty()
    return (
        pl.concat(frames)
        .select("network", "user_1", "user_2", pl.col("weight").cast(pl.Int64))
        .sort("network", "user_1", "user_2")
    )


def _events(con: Any, name: str, min_document_size: int) -> str:
    """A table of (message_id, user_id, key, ts): what two messages must share to match."""
    if name == "co_retweet":
        key = "repost_id"
        where = "repost_id IS NOT NULL"
        source = "edge"
    elif name == "co_reply":
        key, where, source = "reply_id", "repost_id IS NULL AND reply_id IS NOT NULL", "edge"
    elif name == "co_tweet":
        cleaned = f"regexp_replace(lower(message), '@[^{_WS_CHARS}]*', '', 'g')"
        key = (
            f"array_to_string(list_filter(regexp_split_to_array({cleaned}, '{_WS}'), lambda w: w <> ''), ' ')"
        )
        where, source = "repost_id IS NULL", "edge"
    elif name == "co_link":
        # An empty urls field is one empty link in the toolkit's CSV preprocess.
        key, where = "url", "repost_id IS NULL"
        source = (
            "(SELECT DISTINCT message_id, user_id, ts, repost_id, unnest(CASE WHEN len(urls) > 0 "
            "THEN urls ELSE [''] END) AS url FROM edge WHERE repost_id IS NULL)"
        )
    else:
        _tokens(con, min_document_size)
        return "tokens"
    con.execute(
        f"CREATE OR REPLACE TABLE ev_{name} AS SELECT message_id, user_id, {key} AS k, ts FROM {source} s "
        f"WHERE {where} AND {key} IS NOT NULL"
    )
    return f"ev_{name}"


def _match_sql(events: str, window: float, min_weight: int) -> str:
    """Ordered pairs of messages with the same key within the window; the toolkit's weight."""
    width = window if window > 0 else 1.0
    return f"""
        WITH e AS (SELECT *, floor(ts / {width})::BIGINT AS bk FROM {events}),
        n AS (SELECT e.*, e.bk + o.d AS nb FROM e CROSS JOIN (VALUES (-2), (-1), (0), (1), (2)) o(d))
        SELECT n.user_id AS user_1, e2.user_id AS user_2, count(DISTINCT n.message_id) AS weight
        FROM n JOIN e e2 ON e2.k = n.k AND e2.bk = n.nb
        WHERE e2.ts BETWEEN n.ts - {window} AND n.ts + {window}
        GROUP BY n.user_id, e2.user_id HAVING count(DISTINCT n.message_id) >= {min_weight}"""


def _tokens(con: Any, min_document_size: int) -> None:
    """Each non-repost message's token set, with the toolkit's own tokenizer rules."""
    try:
        import regex
    except ImportError:  # pragma: no cover - regex ships with the toolkit and with most stacks
        raise ConfigError(
            "co_similar_tweet compatibility needs the 'regex' package: pip install 'cibwatch[qut]'"
        ) from None
    word = regex.compile(r"\b\p{Word_Break=WSegSpace}*'?", flags=regex.WORD | regex.UNICODE | regex.V1)
    mention = regex.compile(r"@.*?(?=(?:\s|$))")
    rows = con.execute("SELECT message_id, user_id, message, ts FROM edge WHERE repost_id IS NULL").fetchall()
    token_sets = []
    for _, _, message, _ in rows:
        # The toolkit stores the sorted set joined by spaces and compares its .split(): same here.
        joined = " ".join(sorted({t for t in word.split(mention.sub("", message.lower())) if t}))
        tokens = sorted(set(joined.split()))
        token_sets.append(tokens if len(tokens) >= max(min_document_size, 1) else None)
    table = pa.table(
        {
            "message_id": pa.array([r[0] for r in rows], pa.string()),
            "user_id": pa.array([r[1] for r in rows], pa.string()),
            "tokens": pa.array(token_sets, pa.list_(pa.string())),
            "ts": pa.array([r[3] for r in rows], pa.float64()),
        }
    )
    con.register("tokens_arrow", table)
    con.execute("CREATE OR REPLACE TABLE tokens AS SELECT * FROM tokens_arrow")
    con.unregister("tokens_arrow")


def _similar_sql(window: float, min_weight: int, threshold: float) -> str:
    width = window if window > 0 else 1.0
    return f"""
        WITH e AS (SELECT *, floor(ts / {width})::BIGINT AS bk FROM tokens WHERE tokens IS NOT NULL),
        n AS (SELECT e.*, e.bk + o.d AS nb FROM e CROSS JOIN (VALUES (-2), (-1), (0), (1), (2)) o(d))
        SELECT n.user_id AS user_1, e2.user_id AS user_2, count(DISTINCT n.message_id) AS weight
        FROM n JOIN e e2 ON e2.bk = n.nb
        WHERE e2.ts BETWEEN n.ts - {window} AND n.ts + {window}
          AND len(list_intersect(n.tokens, e2.tokens))::DOUBLE
              / len(list_distinct(list_concat(n.tokens, e2.tokens))) >= {threshold}
        GROUP BY n.user_id, e2.user_id HAVING count(DISTINCT n.message_id) >= {min_weight}"""


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"network": pl.String, "user_1": pl.String, "user_2": pl.String, "weight": pl.Int64}
    )


def as_edges(networks: pl.DataFrame) -> pl.DataFrame:
    """The toolkit's rows in the ``coord_edges`` layout: trace = network, n_shared = weight = its weight."""
    from cibwatch import schema

    frame = networks.select(
        account_a=pl.col("user_1"),
        account_b=pl.col("user_2"),
        trace=pl.col("network"),
        n_shared=pl.col("weight"),
        weight=pl.col("weight").cast(pl.Float64),
    )
    empty = pl.DataFrame(schema.COORD_EDGES.empty_table())
    return pl.concat([empty, frame], how="diagonal_relaxed").select(empty.columns)
