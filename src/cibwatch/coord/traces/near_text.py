"""Near-duplicate text: MinHash LSH candidates, each verified with a real string similarity.

Distinct normalized texts get a 64-permutation MinHash of their word set, computed with numpy over
DuckDB's token hashes (no Python loop per text); LSH (16 bands × 4 rows, candidates from about 0.5
word Jaccard) proposes texts that share a band; rapidfuzz's normalized Indel similarity confirms a
candidate at ``near_threshold``; confirmed pairs are joined into groups (union-find). The item is
the group, named by its first text's hash. Inside one LSH bucket every candidate is checked against
the bucket's first text and, for buckets of up to ``ALL_PAIRS_UP_TO`` texts, against every other.
"""

from __future__ import annotations

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


def near_duplicate_groups(texts: list[str], signatures: np.ndarray, threshold: float) -> np.ndarray:
    """For each text, the index of the first text of its near-duplicate group."""
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

    multipliers = np.random.default_rng(2).integers(1, 2**63, ROWS, dtype=np.uint64)
    for band in range(BANDS):
        keys = (signatures[:, band * ROWS : (band + 1) * ROWS] * multipliers).sum(axis=1)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
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


def _prepare(con: Any, params: dict[str, Any]) -> None:
    threshold = float(params["near_threshold"])
    prepare_own_site(con, params)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE near_text_texts AS
            SELECT (row_number() OVER (ORDER BY h) - 1)::BIGINT AS id, h, n FROM (
                SELECT DISTINCT md5(normalized) AS h, normalized AS n FROM {COPYABLE})"""
    )
    tokens = con.sql(
        """SELECT id, hash(tok) AS th FROM (
               SELECT DISTINCT id, unnest(string_split(n, ' ')) AS tok FROM near_text_texts)
           WHERE tok <> '' ORDER BY id"""
    ).fetchnumpy()
    texts_table = con.sql("SELECT h, n FROM near_text_texts ORDER BY id").fetchnumpy()
    hashes = list(texts_table["h"])
    texts = list(texts_table["n"])
    if texts:
        signatures = minhash_signatures(np.asarray(tokens["id"]), np.asarray(tokens["th"]), len(texts))
        roots = near_duplicate_groups(texts, signatures, threshold)
        groups = [hashes[r] for r in roots]
    else:
        groups = []
    table = pa.table({"h": pa.array(hashes, pa.string()), "grp": pa.array(groups, pa.string())})
    con.register("near_text_groups_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE near_text_groups AS SELECT * FROM near_text_groups_arrow")
    con.unregister("near_text_groups_arrow")


register(
    Trace(
        name="near_text",
        description="Near-duplicate text (MinHash LSH, verified at --near-threshold)",
        default_window=TEXT_WINDOW_S,
        prepare=_prepare,
        sql=f"""SELECT account_id, g.grp || x.scope AS item, t, post_id
                FROM (SELECT account_id, t, post_id, md5(normalized) AS h, scope FROM {COPYABLE}) x
                JOIN near_text_groups g USING (h)""",
    )
)
