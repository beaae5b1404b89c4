"""Near-duplicate text: MinHash LSH candidates, each verified with a real string similarity.

Distinct normalized texts are hashed once (word-set MinHash, datasketch), LSH proposes
candidate pairs, rapidfuzz's normalized Indel similarity confirms them at ``near_threshold``,
and confirmed pairs are joined into groups (union-find). The item is the group.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from cibwatch.coord.traces import Trace, register
from cibwatch.coord.traces.builtin import MIN_TEXT_CHARS, NORMALIZED_TEXT

NUM_PERM = 64


def _prepare(con: Any, params: dict[str, Any]) -> None:
    from datasketch import MinHash, MinHashLSH
    from rapidfuzz.distance import Indel

    threshold = float(params["near_threshold"])
    rows = con.execute(
        f"""SELECT DISTINCT md5(n) AS h, n FROM (SELECT {NORMALIZED_TEXT} AS n FROM p
            WHERE p.kind <> 'repost') WHERE length(n) >= {MIN_TEXT_CHARS} ORDER BY h"""
    ).fetchall()
    hashes = [r[0] for r in rows]
    texts = [r[1] for r in rows]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # The LSH band threshold sits a little below the verification one: LSH only proposes.
    lsh = MinHashLSH(threshold=max(0.1, threshold - 0.2), num_perm=NUM_PERM)
    sketches = MinHash.bulk([[w.encode() for w in set(t.split())] for t in texts], num_perm=NUM_PERM)
    for i, sketch in enumerate(sketches):
        for j in lsh.query(sketch):
            if find(i) != find(j) and Indel.normalized_similarity(texts[i], texts[j]) >= threshold:
                parent[find(i)] = find(j)
        lsh.insert(i, sketch)
    groups = [hashes[find(i)] for i in range(len(texts))]
    table = pa.table({"h": pa.array(hashes, pa.string()), "grp": pa.array(groups, pa.string())})
    con.register("near_text_groups_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE near_text_groups AS SELECT * FROM near_text_groups_arrow")
    con.unregister("near_text_groups_arrow")


register(
    Trace(
        name="near_text",
        description="Near-duplicate text (MinHash LSH, verified at --near-threshold)",
        default=False,
        prepare=_prepare,
        sql=f"""SELECT account_id, g.grp AS item, t, post_id
                FROM (SELECT account_id, t, post_id, md5({NORMALIZED_TEXT}) AS h FROM p
                      WHERE p.kind <> 'repost' AND length({NORMALIZED_TEXT}) >= {MIN_TEXT_CHARS}) x
                JOIN near_text_groups g USING (h)""",
    )
)
