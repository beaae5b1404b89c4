"""Near-duplicate text: MinHash LSH candidates, each verified with a real string similarity.

Distinct normalized texts get a 64-permutation MinHash of their word set, computed with numpy over
DuckDB's token hashes (no Python loop per text); LSH (16 bands × 4 rows, candidates from about 0.5
word Jaccard) proposes texts that share a band; rapidfuzz's normalized Indel similarity confirms a
candidate at ``near_threshold``; confirmed pairs are joined into groups (union-find). The item is
the group, named by its first text's hash. Inside one LSH bucket every candidate is checked against
the bucket's first text and, for buckets of up to ``ALL_PAIRS_UP_TO`` texts, against every other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from cibwatch.coord.traces import Trace, register
from cibwatch.coord.traces.builtin import COPYABLE, TEXT_WINDOW_S, prepare_own_site

NUM_PERM = 64
BANDS, ROWS = 16, 4
ALL_PAIRS_UP_TO = 30
_PRIME = np.uint64((1 << 31) - 1)


def minhash_signatures(text_ids: np.ndarray, token_hashes: np.ndarray, n_texts: int) -> np.ndarray:
    """(n_texts, NUM_PERM) MinHash signatures; ``text_ids`` sorted, every text has a token."""
    rng = np.random.default_rng(1)
    a = rng.integers(1, int(_PRIME), NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME), NUM_PERM, dtype=np.uint64)
    h = (token_hashes.astype(np.uint64) >> np.uint64(32)) ^ (
        token_hashes.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    )
    starts = np.flatnonzero(np.r_[True, text_ids[1:] != text_ids[:-1]])
    signatures = np.empty((n_texts, NUM_PERM), dtype=np.uint64)
    for k in range(NUM_PERM):
        # a < 2^31 and h < 2^32: the product fits in 64 bits.
        signatures[:, k] = np.minimum.reduceat((a[k] * h + b[k]) % _PRIME, starts)
    return signatures


def token_hashes(con: Any, texts: str) -> dict[str, np.ndarray]:
    """(id, th): DuckDB's ``hash`` of each distinct word of each text in ``texts`` (id, n), by id.

    Both engines hash with DuckDB (Spark's executors run it in process on each batch), so a
    word's hash, and with it each signature, is the same on both.
    """
    return con.sql(
        f"""SELECT id, hash(tok) AS th FROM (
                SELECT DISTINCT id, unnest(string_split(n, ' ')) AS tok FROM {texts})
            WHERE tok <> '' ORDER BY id"""
    ).fetchnumpy()


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """(n_texts, BANDS) LSH bucket keys: texts that share a band's key are candidates."""
    multipliers = np.random.default_rng(2).integers(1, 2**63, ROWS, dtype=np.uint64)
    bands = signatures.reshape(len(signatures), BANDS, ROWS)
    # uint64 arithmetic wraps: the key is a hash of the band's four minima.
    return (bands * multipliers).sum(axis=2, dtype=np.uint64)


def near_duplicate_groups(texts: list[str], keys: np.ndarray, threshold: float) -> np.ndarray:
    """For each text, the index of the first text of its near-duplicate group (``keys``: band_keys)."""
    from rapidfuzz.distance import Indel

    parent = np.arange(len(texts))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def link(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj and Indel.normalized_similarity(texts[i], texts[j]) >= threshold:
            parent[max(ri, rj)] = min(ri, rj)

    for band in range(BANDS):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        bounds = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
        for lo, hi in pairwise(bounds):
            if hi - lo < 2:
                continue
            members = order[lo:hi].tolist()
            if len(members) <= ALL_PAIRS_UP_TO:
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        link(members[x], members[y])
            else:
                for other in members[1:]:
                    link(members[0], other)
    return np.array([find(i) for i in range(len(texts))])


# The texts to group: each distinct normalized text once, named by its md5.
_TEXTS = f"SELECT DISTINCT md5(normalized) AS h, normalized AS n FROM {COPYABLE}"


def _prepare(con: Any, params: dict[str, Any]) -> None:
    threshold = float(params["near_threshold"])
    prepare_own_site(con, params)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE near_text_texts AS
            SELECT (row_number() OVER (ORDER BY h) - 1)::BIGINT AS id, h, n FROM ({_TEXTS})"""
    )
    tokens = token_hashes(con, "near_text_texts")
    texts_table = con.sql("SELECT h, n FROM near_text_texts ORDER BY id").fetchnumpy()
    hashes = list(texts_table["h"])
    texts = list(texts_table["n"])
    if texts:
        signatures = minhash_signatures(np.asarray(tokens["id"]), np.asarray(tokens["th"]), len(texts))
        roots = near_duplicate_groups(texts, band_keys(signatures), threshold)
        groups = [hashes[r] for r in roots]
    else:
        groups = []
    table = pa.table({"h": pa.array(hashes, pa.string()), "grp": pa.array(groups, pa.string())})
    con.register("near_text_groups_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE near_text_groups AS SELECT * FROM near_text_groups_arrow")
    con.unregister("near_text_groups_arrow")


# -- on Spark: the same signatures, buckets and confirmation, on the executors ---------------
#
# The union-find above yields the connected components of the graph of confirmed candidate pairs
# (a pair it skips is already connected), each named by its smallest text (ids follow h). So Spark
# builds the same candidate pairs, confirms them on the executors and joins only the confirmed
# ones on the driver.


def _band_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """(band, key, h, n) for each text of each batch of (h, n): one row per band."""
    import duckdb

    con = duckdb.connect(config={"threads": 1})
    for batch in batches:
        if not batch.num_rows:
            continue
        con.register("batch", pa.table({"id": np.arange(batch.num_rows), "n": batch.column("n")}))
        tokens = token_hashes(con, "batch")
        con.unregister("batch")
        signatures = minhash_signatures(np.asarray(tokens["id"]), np.asarray(tokens["th"]), batch.num_rows)
        keys = band_keys(signatures)
        texts = np.repeat(np.arange(batch.num_rows), BANDS)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(np.tile(np.arange(BANDS, dtype=np.int32), batch.num_rows)),
                pa.array(keys.reshape(-1).view(np.int64)),  # Spark has no unsigned long
                batch.column("h").take(texts),
                batch.column("n").take(texts),
            ],
            names=["band", "key", "h", "n"],
        )


def _confirm(threshold: float) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def confirmed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from rapidfuzz.distance import Indel

        for batch in batches:
            similar = [
                Indel.normalized_similarity(a, b) >= threshold
                for a, b in zip(batch.column("n1").to_pylist(), batch.column("n2").to_pylist(), strict=True)
            ]
            kept = batch.select(["h1", "h2"]).filter(pa.array(similar, pa.bool_()))
            if kept.num_rows:
                yield kept

    return confirmed


def component_names(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(name, group) for each name in the pairs (first, second): its component's smallest name.

    >>> component_names(np.array(["c", "e"]), np.array(["b", "f"]))
    (array(['b', 'c', 'e', 'f'], dtype='<U1'), array(['b', 'b', 'e', 'e'], dtype='<U1'))
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    names, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    edges = np.ones(len(first), dtype=np.int8)
    graph = coo_matrix((edges, (codes[: len(first)], codes[len(first) :])), shape=(len(names), len(names)))
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max(initial=-1) + 1, len(names))
    np.minimum.at(smallest, labels, np.arange(len(names)))  # names are sorted: smallest code first
    return names, names[smallest[labels]]


def _prepare_spark(con: Any, params: dict[str, Any]) -> None:
    threshold = float(params["near_threshold"])
    prepare_own_site(con, params)
    con.execute(f"CREATE TABLE near_text_texts AS {_TEXTS}")
    session = con.session
    con.table(
        "near_text_bands",
        session.table("near_text_texts").mapInArrow(_band_rows, "band INT, key BIGINT, h STRING, n STRING"),
    )
    con.table(
        "near_text_buckets",
        session.sql(
            """SELECT band, key, count(*) AS m, min(h) AS first_h, min_by(n, h) AS first_n
               FROM near_text_bands GROUP BY band, key HAVING count(*) > 1"""
        ),
    )
    # A large bucket's pairs come one per member row (a join with its bucket's first text, which
    # the aggregate carries), never from a list of the bucket's members in one task.
    candidates = session.sql(
        f"""WITH small AS (
                SELECT b.* FROM near_text_bands b LEFT SEMI JOIN near_text_buckets u
                ON b.band = u.band AND b.key = u.key AND u.m <= {ALL_PAIRS_UP_TO})
            SELECT h1, h2, first(n1) AS n1, first(n2) AS n2 FROM (
                SELECT u.first_h AS h1, u.first_n AS n1, b.h AS h2, b.n AS n2
                FROM near_text_bands b JOIN near_text_buckets u ON b.band = u.band AND b.key = u.key
                WHERE u.m > {ALL_PAIRS_UP_TO} AND b.h <> u.first_h
                UNION ALL
                SELECT x.h, x.n, y.h, y.n FROM small x JOIN small y
                ON x.band = y.band AND x.key = y.key AND x.h < y.h)
            GROUP BY h1, h2"""
    )
    pairs = candidates.mapInArrow(_confirm(threshold), "h1 STRING, h2 STRING").toArrow()
    names, groups = component_names(
        pairs.column("h1").to_numpy(zero_copy_only=False), pairs.column("h2").to_numpy(zero_copy_only=False)
    )
    con.register(
        "near_text_linked",
        pa.table({"h": pa.array(names, pa.string()), "grp": pa.array(groups, pa.string())}),
    )
    con.execute(
        """CREATE TABLE near_text_groups AS SELECT t.h, coalesce(l.grp, t.h) AS grp
           FROM near_text_texts t LEFT JOIN near_text_linked l USING (h)"""
    )
    con.unregister("near_text_linked")
    con.execute("DROP TABLE near_text_bands, near_text_buckets")


register(
    Trace(
        name="near_text",
        description="Near-duplicate text (MinHash LSH, verified at --near-threshold)",
        default_window=TEXT_WINDOW_S,
        prepare=_prepare,
        prepare_spark=_prepare_spark,
        sql=f"""SELECT account_id, g.grp || x.scope AS item, t, post_id
                FROM (SELECT account_id, t, post_id, md5(normalized) AS h, scope FROM {COPYABLE}) x
                JOIN near_text_groups g USING (h)""",
    )
)
