"""What ``watch`` keeps in the case: the follower's offsets, committed with the rows they cover.

``tables/watch_offsets/`` holds one Parquet part per committed batch with the offset of every
file the batch read; a part is published by the same rename as the batch's posts (the ingest
commit's ``before_publish``), so after a crash the offsets and the rows agree: a batch is in the
case with its offsets, or neither is. The newest row of each identity is where following resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch.store.case import Case, PartsCommit
from cibwatch.watch.follow import Offset

OFFSETS_TABLE = "watch_offsets"
# watch's own table, read by no other stage.
WATCH_OFFSETS = pa.schema(
    [
        pa.field("identity", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("head_len", pa.int64(), nullable=False),
        pa.field("head_sha", pa.string(), nullable=False),
        pa.field("batch", pa.int64(), nullable=False),  # increasing: the newest row of an identity wins
        pa.field("committed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def load_offsets(case: Case) -> tuple[dict[str, Offset], int]:
    """The newest committed offset of each followed file, by identity, and the last batch number."""
    parts = case.parts(OFFSETS_TABLE)
    if not parts:
        return {}, 0
    table = pa.concat_tables(pq.read_table(p, schema=WATCH_OFFSETS) for p in parts)
    newest: dict[str, tuple[int, Offset]] = {}
    last_batch = 0
    for row in table.to_pylist():
        batch = row.pop("batch")
        row.pop("committed_at")
        last_batch = max(last_batch, batch)
        if row["identity"] not in newest or newest[row["identity"]][0] < batch:
            newest[row["identity"]] = (batch, Offset(**row))
    return {identity: offset for identity, (_, offset) in newest.items()}, last_batch


def offsets_writer(offsets: list[Offset], batch: int) -> Callable[[PartsCommit], None]:
    """A ``before_publish`` hook that adds the batch's offsets to the ingest commit."""

    def add(commit: PartsCommit) -> None:
        now = datetime.now(UTC)
        rows = [{**asdict(o), "batch": batch, "committed_at": now} for o in offsets]
        path = commit.new_path(OFFSETS_TABLE, f"part-batch-{batch:09d}")
        pq.write_table(pa.Table.from_pylist(rows, schema=WATCH_OFFSETS), path, compression="zstd")
        commit.add(OFFSETS_TABLE, [path])

    return add


def compact_offsets(case: Case) -> None:
    """Replace the offsets' parts by one holding each identity's newest row (at start, under the
    watch lock: no batch is being committed)."""
    parts = case.parts(OFFSETS_TABLE)
    if len(parts) < 2:
        return
    offsets, batch = load_offsets(case)
    now = datetime.now(UTC)
    rows = [{**asdict(o), "batch": batch, "committed_at": now} for o in offsets.values()]
    case.replace_table(OFFSETS_TABLE, pa.Table.from_pylist(rows, schema=WATCH_OFFSETS))
