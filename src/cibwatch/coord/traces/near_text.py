"""Near-duplicate text: MinHash LSH candidates, each verified with a real string similarity.

Distinct normalized texts get a 64-permutation MinHash of their word set, computed with numpy over
DuckDB's token hashes (no Python loop per text); LSH (16 bands × 4 rows, candidates from about 0.5
word Jaccard) proposes texts that share a band; rapidfuzz's normalized Indel similarity confirms a
candidate at ``near_threshold``; confirmed pairs are joined into groups (connected components,
checked in vectorized rounds). The item is
the group, named by its first text's hash. Inside one LSH bucket every candidate is checked against
the bucket's first text and, for buckets of up to ``ALL_PAIRS_UP_TO`` texts, against every other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from cibwatch.coord.traces import Trace, register
from cibwatch.coord.traces.builtin import COPYABLE, TEXT_WINDOW_S, prepare_copyable

NUM_PERM = 64
BANDS, ROWS = 16, 4
ALL_PAIRS_UP_TO = 30
_PRIME = np.uint64((1 << 31) - 1)


# The MinHash permutations (a·h + b) mod p, and the band-key multipliers: fixed, so signatures
# are the same on every engine and run.
_PERMUTATIONS = np.random.default_rng(1)
_PERM_A = _PERMUTATIONS.integers(1, int(_PRIME), NUM_PERM, dtype=np.uint64)
_PERM_B = _PERMUTATIONS.integers(0, int(_PRIME), NUM_PERM, dtype=np.uint64)
_BAND_MULTIPLIERS = np.random.default_rng(2).integers(1, 2**63, ROWS, dtype=np.uint64)
_KEY_BLOCK = 16_384  # texts per block of lsh_keys


def lsh_keys(text_ids: np.ndarray, token_hashes: np.ndarray, n_texts: int) -> np.ndarray:
    """(n_texts, BANDS) LSH bucket keys from the texts' token hashes (``text_ids`` sorted, every
    text has a token): texts that share a band's key are candidates. The MinHash signature is
    computed a block of texts and a permutation at a time, in place: whole, four million texts'
    would be 2 GB, and a block's scratch stays in the processor's cache."""
    hashes = token_hashes.astype(np.uint64)
    folded = (hashes >> np.uint64(32)) ^ (hashes & np.uint64(0xFFFFFFFF))
    starts = np.r_[np.flatnonzero(np.r_[True, text_ids[1:] != text_ids[:-1]]), folded.size]
    keys = np.empty((n_texts, BANDS), dtype=np.uint64)
    band = np.empty((_KEY_BLOCK, ROWS), dtype=np.uint64)
    for lo in range(0, n_texts, _KEY_BLOCK):
        hi = min(lo + _KEY_BLOCK, n_texts)
        block = folded[starts[lo] : starts[hi]]
        first = starts[lo:hi] - starts[lo]
        scratch = np.empty_like(block)
        for b in range(BANDS):
            for row in range(ROWS):
                k = b * ROWS + row
                # a < 2^31 and the folded hash < 2^32: the product fits in 64 bits.
                np.multiply(block, _PERM_A[k], out=scratch)
                np.add(scratch, _PERM_B[k], out=scratch)
                np.remainder(scratch, _PRIME, out=scratch)
                band[: hi - lo, row] = np.minimum.reduceat(scratch, first)
            # uint64 arithmetic wraps: the key is a hash of the band's four minima.
            keys[lo:hi, b] = (band[: hi - lo] * _BAND_MULTIPLIERS).sum(axis=1, dtype=np.uint64)
    return keys


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


def near_duplicate_groups(texts: list[str] | np.ndarray, keys: np.ndarray, threshold: float) -> np.ndarray:
    """For each text, the index of the first text of its near-duplicate group (``keys``: lsh_keys).

    The groups are the connected components of the candidate pairs rapidfuzz confirms, each named
    by its smallest index. A pair whose texts are already in one group needs no check, so each
    band's pairs are checked in rounds (``_confirmed_components``): the bucket's first text against
    the others first, which joins a bucket of copies in one round, then what is still apart.
    """
    parent = np.arange(len(texts))
    text_array = np.asarray(texts, dtype=object)
    for band in range(BANDS):
        star, rest = _band_candidates(keys[:, band])
        for first, second in (star, rest):
            _confirmed_components(text_array, first, second, parent, threshold)
    _flatten(parent)
    return parent


def _band_candidates(keys: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """One band's candidate pairs: (each bucket's first text, another member), then for buckets of
    up to ``ALL_PAIRS_UP_TO`` texts the other pairs of members; every pair (lower index, higher)."""
    # Most texts are alone in their bucket: only the others are sorted (polars finds them by hash).
    shared = np.flatnonzero(pl.Series(keys).is_duplicated().to_numpy())
    order = shared[np.argsort(keys[shared], kind="stable")]  # by index in a bucket: its first is its smallest
    sorted_keys = keys[order]
    bounds = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
    starts, sizes = bounds[:-1], np.diff(bounds)
    # The star: every member but the first, against its bucket's first (a bucket of one has none).
    first_of = np.repeat(starts, sizes)
    member = np.arange(len(order)) != first_of
    star = (order[first_of[member]], order[member])
    firsts, seconds = [], []
    for size in np.unique(sizes[sizes <= ALL_PAIRS_UP_TO]):
        if size < 3:
            continue
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        x, y = np.triu_indices(size, 1)
        not_star = x > 0
        firsts.append(members[:, x[not_star]].ravel())
        seconds.append(members[:, y[not_star]].ravel())
    empty = np.zeros(0, dtype=order.dtype)
    rest = (np.concatenate(firsts) if firsts else empty, np.concatenate(seconds) if seconds else empty)
    return star, rest


def _confirmed_components(
    texts: np.ndarray, first: np.ndarray, second: np.ndarray, parent: np.ndarray, threshold: float
) -> None:
    """Join the groups of the confirmed pairs in ``parent`` (a forest: each text points to a
    smaller text of its group, a group's smallest text to itself).

    Round r checks up to 2^r pairs between each two groups still apart (one at first: copies join
    at once; more as checks fail: two groups that stay apart need every pair between them
    checked). A checked pair leaves, and pairs whose groups were joined meanwhile need no check.
    Every pair is thus checked or already joined, so the result is the components of all
    confirmed pairs, in whatever order. Only the groups a round joins are touched, so a round
    costs its pairs, not the number of texts.
    """
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cpdist

    n = len(parent)
    quota = 1
    while len(first):
        lo, hi = _group_of(parent, first), _group_of(parent, second)
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        apart = lo != hi
        first, second, lo, hi = first[apart], second[apart], lo[apart], hi[apart]
        if not len(first):
            break
        between = pl.DataFrame({"g": lo.astype(np.int64) * n + hi})  # the two groups a pair would join
        # Each pair's place, in order, among the pairs between the same two groups (polars groups by hash).
        rank = between.select(pl.int_range(pl.len()).over("g")).to_series().to_numpy()
        pick = np.flatnonzero(rank < quota)
        similarity = cpdist(
            texts[first[pick]], texts[second[pick]], scorer=Indel.normalized_similarity, workers=-1
        )
        joined = similarity >= threshold
        if joined.any():
            _join(parent, lo[pick][joined], hi[pick][joined])
        checked = np.zeros(len(first), dtype=bool)
        checked[pick] = True
        first, second = first[~checked], second[~checked]
        quota *= 2


_DEEPEST = 8  # parent chains longer than this are flattened


def _group_of(parent: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Each node's group: the smallest text it is connected to (the root of its chain)."""
    group = parent[nodes]
    for _ in range(_DEEPEST):
        up = parent[group]
        if np.array_equal(up, group):
            return group
        group = up
    _flatten(parent)
    return parent[nodes]


def _join(parent: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Join the groups ``lo`` and ``hi`` (roots), each joined group under its smallest root."""
    roots, index = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    smallest = _smallest_connected(len(roots), index[: len(lo)], index[len(lo) :])
    parent[roots] = roots[smallest]  # roots are sorted: the smallest index is the smallest root


def _flatten(parent: np.ndarray) -> None:
    """Point every text at its root."""
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return
        parent[:] = up


def _smallest_connected(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """For each node 0 … n-1 of the graph of edges (first, second), the smallest node connected to it."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    _, smallest = np.unique(component, return_index=True)  # a component's first node is its smallest
    return smallest[component]


# The texts to group: each distinct normalized text once, named by its md5.
_TEXTS = f"SELECT DISTINCT h, normalized AS n FROM {COPYABLE}"


def _prepare(con: Any, params: dict[str, Any]) -> None:
    threshold = float(params["near_threshold"])
    prepare_copyable(con, params)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE near_text_texts AS
            SELECT (row_number() OVER (ORDER BY h) - 1)::BIGINT AS id, h, n FROM ({_TEXTS})"""
    )
    tokens = token_hashes(con, "near_text_texts")
    texts_table = con.sql("SELECT h, n FROM near_text_texts ORDER BY id").fetchnumpy()
    hashes, texts = np.asarray(texts_table["h"], dtype=object), np.asarray(texts_table["n"], dtype=object)
    groups = hashes
    if len(texts):
        keys = lsh_keys(np.asarray(tokens["id"]), np.asarray(tokens["th"]), len(texts))
        groups = hashes[near_duplicate_groups(texts, keys, threshold)]
    table = pa.table({"h": pa.array(hashes, pa.string()), "grp": pa.array(groups, pa.string())})
    con.register("near_text_groups_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE near_text_groups AS SELECT * FROM near_text_groups_arrow")
    con.unregister("near_text_groups_arrow")


# -- on Spark: the same signatures, buckets and confirmation, on the executors ---------------
#
# The rounds above yield the connected components of the graph of confirmed candidate pairs
# (a pair they skip is already connected), each named by its smallest text (ids follow h). So Spark
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
        keys = lsh_keys(np.asarray(tokens["id"]), np.asarray(tokens["th"]), batch.num_rows)
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
    names, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    # names are sorted: the smallest code is the smallest name
    return names, names[_smallest_connected(len(names), codes[: len(first)], codes[len(first) :])]


def _prepare_spark(con: Any, params: dict[str, Any]) -> None:
    threshold = float(params["near_threshold"])
    prepare_copyable(con, params)
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
                FROM {COPYABLE} x JOIN near_text_groups g USING (h)""",
    )
)
