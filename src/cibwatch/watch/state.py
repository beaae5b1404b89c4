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
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch import schema
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


# A table's parts are merged in tiers: once FANIN parts of about the same size exist, they become
# one part FANIN times larger, so a long watch keeps a few parts per tier (O(log n) in all) and a
# row is rewritten once per tier, not once per batch.
FANIN = 16
SMALLEST = 256 << 10  # parts below this size count as this size
LARGEST = 512 << 20  # parts at least this large are left alone


def _tier(size: int) -> int:
    tier, bound = 0, SMALLEST * FANIN
    while size >= bound:
        tier, bound = tier + 1, bound * FANIN
    return tier


def compact_parts(case: Case, tables: list[str] | None = None) -> int:
    """Merge each tier of ``FANIN`` or more similar-sized parts of ``tables`` (all of the case's
    tables by default) into one part; returns the parts merged away. Call between batches: merges
    publish like commits (``Case.merge_parts``), so a kill leaves the old parts or the new one.

    >>> compact_parts(open_case("out/case"))  # doctest: +SKIP
    15
    """
    merged = 0
    names = tables if tables is not None else [*schema.TABLES, OFFSETS_TABLE]
    for table in names:
        tiers: dict[int, list[Path]] = {}
        for part in case.parts(table):
            size = part.stat().st_size
            if size < LARGEST:
                tiers.setdefault(_tier(size), []).append(part)
        for parts in tiers.values():
            if len(parts) >= FANIN and case.merge_parts(table, parts) is not None:
                merged += len(parts) - 1
    return merged
