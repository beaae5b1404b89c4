"""The commit: staged rows deduplicated in DuckDB against the case and each other, counted where
they are dropped, written as one new Parquet part per table, with stubs for authors seen only in posts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.ingest.report import IngestReport

if TYPE_CHECKING:
    from cibwatch.ingest.keys import KeyIndex
    from cibwatch.store.case import Case, PartsCommit

# The reader (name@version) of an account row the commit adds for an author seen only in posts:
# no profile, probed_at null.
AUTHOR_STUB_READER = "author-stub@1"


def commit_staged(
    case: Case,
    staging: Path,
    report: IngestReport,
    *,
    before_publish: Callable[[PartsCommit], None] | None = None,
) -> None:
    """Deduplicate staged rows against the case and each other, then add one part per table;
    ``before_publish`` adds parts of its own (a follower's offsets) to the same commit."""
    from cibwatch.ingest.keys import connect_keys
    from cibwatch.store import sql
    from cibwatch.store.duck import connect

    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + staging.name
    commit = case.begin_commit(staging)
    con = connect(
        temp_directory=staging / "duckdb_tmp",
        memory_limit="1GB",
        threads=max(1, min(2, os.cpu_count() or 1)),
        preserve_insertion_order=False,
    )
    try:
        with connect_keys(con, case) as index:
            for table in schema.TABLES:
                staged = sorted(staging.rglob(f"{table}.parquet"))
                if not staged:
                    continue
                # DuckDB streams Parquet within its memory limit, whatever the input's size.
                fresh = sql.read_parquet(staged)
                columns = ", ".join(f'"{f.name}"' for f in schema.TABLES[table])
                keys = schema.DEDUPE_KEYS[table]
                # The first staged row of each key (temp table _firsts) and those already stored
                # (_in_case), made by _count_dedupe before the query runs.
                _count_dedupe(con, index, table, fresh, keys, report)
                where = (
                    "WHERE s._seq IN (SELECT seq FROM _firsts) AND s._seq NOT IN (SELECT seq FROM _in_case)"
                )
                query = f"SELECT {columns} FROM {fresh} s {where}"
                # Written inside the run's folder; published with the other tables' parts at the end.
                tmp = [commit.new_path(table, f"part-{run}-{k}") for k in range(_COMMIT_WRITERS)]
                kept, written = _copy_to_parquet(
                    con,
                    query,
                    tmp,
                    schema.TABLES[table],
                    step=f"write:{table}",
                    batch_rows=_batch_rows(staged),
                )
                commit.add(table, written)
                by_file = {f.path: f for f in report.files}
                for source_file, n in kept.items():  # counted from the rows written
                    if table == "quarantine":
                        by_file[source_file].quarantine_stored += n
                    else:
                        by_file[source_file].stored[table] += n
        _add_author_stubs(commit, con, run)
    finally:
        con.close()
    if before_publish is not None:
        before_publish(commit)
    commit.publish()  # all tables' parts, author stubs included, or (if killed) none until recovery


# Provenance and observation columns: rows that differ only in these are the same record.
_NOT_CONTENT = {"dataset", "reader", "source_file", "ingested_at", "probed_at", "raw", "snapshot_id"}
_CONFLICT_NOUNS = {"posts": "post ids", "account_labels": "account label keys"}


def _count_dedupe(
    con: Any, index: KeyIndex, table: str, fresh: str, keys: tuple[str, ...], report: IngestReport
) -> None:
    """Count, per source file, the staged rows the commit drops as copies of an earlier staged row
    (in the run) and as already stored (in the case), and the kept keys whose copies differ in
    content: counted where the rows are dropped, by their own queries, apart from the rows written.
    Leaves the first staged row of each key in the temp table ``_firsts`` (seq) and those of them
    already stored in ``_in_case`` (seq), for the commit.

    Stored keys are found through the case's key index (``ingest.keys``): a hash join names the
    parts that may hold a staged key, and only those parts are read, keys compared exactly."""
    from cibwatch.store import sql

    key_cols = ", ".join(keys)
    content = [f.name for f in schema.TABLES[table] if f.name not in _NOT_CONTENT and f.name not in keys]
    # Accounts are keyed by a hash of their values (snapshot_id): copies cannot differ.
    # More than one content per key; min != max is far cheaper than a count of distinct values.
    digest = f"hash({', '.join(content)})"
    differ = f"min({digest}) != max({digest})" if content and table != "accounts" else "false"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _firsts AS SELECT min(_seq) AS seq, {differ} AS differ "
        f"FROM {fresh} GROUP BY {key_cols}"
    )
    counts = con.execute(
        "SELECT s.source_file, count(*) FILTER (WHERE f.seq IS NULL), count(*) FILTER (WHERE f.differ) "
        f"FROM {fresh} s LEFT JOIN _firsts f ON s._seq = f.seq GROUP BY s.source_file"
    ).fetchall()
    index.sync(table, keys)
    firsts = f"(SELECT s.* FROM {fresh} s WHERE s._seq IN (SELECT seq FROM _firsts))"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _hits AS SELECT * FROM {index.candidates(table, firsts, keys)}"
    )
    part_ids = [int(p) for (p,) in con.execute("SELECT DISTINCT part_id FROM _hits").fetchall()]
    holding = index.paths(table, part_ids)
    if holding:
        match = " AND ".join(f"e.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
        # A stored copy with the same content, or none: the kept (stored) row differs.
        same = " AND ".join(f"e.{c} IS NOT DISTINCT FROM s.{c}" for c in content)
        differ_case = f"NOT bool_or({same})" if content and table != "accounts" else "false"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _in_case AS SELECT s._seq AS seq, {differ_case} AS differ "
            f"FROM {fresh} s JOIN {sql.read_parquet(holding)} e ON {match} "
            "WHERE s._seq IN (SELECT seq FROM _hits) GROUP BY s._seq"
        )
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _in_case AS SELECT NULL::BIGINT AS seq, false AS differ WHERE false"
        )
    rows = con.execute(
        "SELECT s.source_file, count(*), count(*) FILTER (WHERE c.differ) "
        f"FROM {fresh} s JOIN _in_case c ON s._seq = c.seq GROUP BY s.source_file"
    ).fetchall()
    in_case = {source_file: (n, differ) for source_file, n, differ in rows}
    by_file = {f.path: f for f in report.files}
    for source_file, in_run, differ_run in counts:
        file_report = by_file[source_file]
        case_n, differ_case = in_case.get(source_file, (0, 0))
        if table == "quarantine":
            file_report.quarantine_duplicates += in_run + case_n
            continue
        file_report.duplicates_in_run[table] += in_run
        file_report.duplicates_in_case[table] += case_n
        file_report.conflicting[table] += differ_run + differ_case
        noun = _CONFLICT_NOUNS.get(table, f"{table} keys")
        if differ_run:
            file_report.notes.append(
                f"{noun} seen again in this run with different content: {differ_run:,}; the first was kept"
            )
        if differ_case:
            file_report.notes.append(
                f"{noun} already in the case with different content: {differ_case:,}; the stored one was kept"
            )


def _add_author_stubs(commit: PartsCommit, con: Any, run: str) -> None:
    """Accounts seen only as post authors still get a row (no profile, probed_at null).

    Posts and accounts as they will be once ``commit`` is published: its stubs go with its posts."""
    from cibwatch.store import sql

    posts, accounts = commit.parts("posts"), commit.parts("accounts")
    if not posts:
        return
    known = ""
    if accounts:
        known = (
            f"WHERE NOT EXISTS (SELECT 1 FROM {sql.read_parquet(accounts)} a "
            "WHERE a.platform = p.platform AND a.account_id = p.account_id)"
        )
    names = [f.name for f in schema.ACCOUNTS]
    stub_values = {
        "account_id": "p.account_id",
        "platform": "p.platform",
        "snapshot_id": "'stub'",
        "dataset": "any_value(p.dataset)",
        "reader": sql.literal(AUTHOR_STUB_READER),
        "source_file": "any_value(p.source_file)",
        "ingested_at": "max(p.ingested_at)",
    }
    from cibwatch.store.duck import DUCKDB_TYPES

    types = {f.name: f.type for f in schema.ACCOUNTS}
    select = ", ".join(
        f"{stub_values[n]} AS {n}" if n in stub_values else f"CAST(NULL AS {DUCKDB_TYPES[types[n]]}) AS {n}"
        for n in names
    )
    target = commit.new_path("accounts", f"part-{run}-stubs")
    query = f"SELECT {select} FROM {sql.read_parquet(posts)} p {known} GROUP BY p.platform, p.account_id"
    _, written = _copy_to_parquet(con, query, [target], schema.ACCOUNTS, step="write:stubs")
    commit.add("accounts", written)


# Parts written at once by a commit: Parquet encoding and compression release the GIL.
_COMMIT_WRITERS = 2
# Columns with few distinct values: dictionary pages make them smaller; on ids and text the
# writer would only try and give up.
_DICTIONARY_COLUMNS = {"kind", "lang", "source_app", "platform", "dataset", "reader", "source_file", "label"}


# Rows of a commit batch: as many as fit in about this many bytes, at most COMMIT_BATCH_ROWS.
COMMIT_BATCH_BYTES = 64 << 20
COMMIT_BATCH_ROWS = 65_536


def _batch_rows(staged: list[Path]) -> int:
    """Rows per commit batch for these staged files: a batch of rows of their average size fills
    about ``COMMIT_BATCH_BYTES``, so rows of 1 MB bios are written a few dozen at a time."""
    rows = size = 0
    for path in staged:
        metadata = pq.ParquetFile(path).metadata  # staging is uncompressed: sizes are the data's
        rows += metadata.num_rows
        size += sum(metadata.row_group(k).total_byte_size for k in range(metadata.num_row_groups))
    if not rows:
        return COMMIT_BATCH_ROWS
    return max(1, min(COMMIT_BATCH_ROWS, COMMIT_BATCH_BYTES * rows // max(size, 1)))


def _copy_to_parquet(
    con: Any,
    query: str,
    paths: list[Path],
    table_schema: pa.Schema,
    step: str = "",
    batch_rows: int = COMMIT_BATCH_ROWS,
) -> tuple[dict[str, int], list[Path]]:
    """Stream ``query`` into ``paths`` (batches of ``batch_rows`` dealt in turn, each file by its
    own thread) with the exact Arrow schema. Returns the rows written per source file and the
    files written.

    ``step`` names the write for the crash tests (``CIBWATCH_CRASH_AT``): the process dies with
    every batch written and the files not closed (no Parquet footer)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from cibwatch.store.case import crash_point

    counts: dict[str, int] = {}
    writers: list[pq.ParquetWriter | None] = [None] * len(paths)
    dictionary = [name for name in table_schema.names if name in _DICTIONARY_COLUMNS]
    batches = con.sql(query).to_arrow_reader(batch_rows)
    pools = [ThreadPoolExecutor(1, thread_name_prefix="cibwatch-commit") for _ in paths]
    pending: list[Future[None]] = []
    try:
        for k, batch in enumerate(b for b in batches if b.num_rows):
            table = pa.Table.from_batches([batch]).cast(table_schema)
            slot = k % len(paths)
            if writers[slot] is None:
                writers[slot] = pq.ParquetWriter(
                    paths[slot], table_schema, compression="zstd", use_dictionary=dictionary
                )
            pending.append(pools[slot].submit(writers[slot].write_table, table))  # type: ignore[union-attr]
            grouped = table.group_by("source_file").aggregate([("source_file", "count")])
            for row in grouped.to_pylist():
                counts[row["source_file"]] = counts.get(row["source_file"], 0) + row["source_file_count"]
            while len(pending) > 2 * len(paths):  # bounded memory: a few batches in flight
                pending.pop(0).result()
        for future in pending:
            future.result()
        crash_point(step)
    finally:
        for pool in pools:
            pool.shutdown()
        for writer in writers:
            if writer is not None:
                writer.close()
    return counts, [path for path, writer in zip(paths, writers, strict=True) if writer is not None]
