"""The ingest driver: readers write into a staging sink, then one deduplicating commit.

Every record a reader emits is counted, and each lands in exactly one of: stored,
duplicate (already in the case, or earlier in this run), quarantined. The
``IngestReport`` carries those counts per file so they reconcile.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import operator
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.errors import BadRecordError, InputFormatError
from cibwatch.ingest.base import (
    SKIPPED,
    ProgressCallback,
    Reader,
    Source,
    compression_of,
    get_reader,
    sniff_format,
)
from cibwatch.ingest.values import stable_id

if TYPE_CHECKING:
    from cibwatch.store.case import Case

BATCH_ROWS = 20_000
# Accounts whose last profile a sink remembers: bounds its memory on inputs with millions of them.
PROFILES_KEPT = 1_000_000
# Columns the sink fills in; readers may give a record's own dataset.
_SINK_COLUMNS = ("reader", "source_file", "ingested_at", "_seq")
_RECORD_TABLES = ("posts", "accounts", "account_labels")
# Snapshot identity: the normalized profile values, not when they were seen, the raw record
# or provenance; an unchanged profile seen again is a duplicate.
_SNAPSHOT_FIELDS = [
    f.name
    for f in schema.ACCOUNTS
    if f.name not in {"snapshot_id", "raw", "probed_at", "dataset", "reader", "source_file", "ingested_at"}
]
_snapshot_values = operator.itemgetter(*_SNAPSHOT_FIELDS)


@dataclass
class FileReport:
    path: str
    reader: str
    dataset: str
    read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_RECORD_TABLES, 0))
    stored: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_RECORD_TABLES, 0))
    quarantined: int = 0
    seconds: float = 0.0

    @property
    def records_read(self) -> int:
        return sum(self.read.values()) + self.quarantined

    @property
    def records_stored(self) -> int:
        return sum(self.stored.values())

    @property
    def duplicates(self) -> int:
        return sum(self.read.values()) - self.records_stored


@dataclass
class IngestReport:
    case: str
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def reconciles(self) -> bool:
        return all(f.records_read == f.records_stored + f.duplicates + f.quarantined for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "seconds": round(self.seconds, 3),
            "records_read": self.total("records_read"),
            "stored": self.total("records_stored"),
            "duplicates": self.total("duplicates"),
            "quarantined": self.total("quarantined"),
            "files": [
                {
                    "path": f.path,
                    "reader": f.reader,
                    "dataset": f.dataset,
                    "read": f.read,
                    "stored": f.stored,
                    "duplicates": f.duplicates,
                    "quarantined": f.quarantined,
                    "seconds": round(f.seconds, 3),
                }
                for f in self.files
            ],
        }


class StagingSink:
    """Collects records as rows (tuples in staged-column order) and spills them to staging Parquet."""

    def __init__(self, staging: Path, strict: bool, progress: ProgressCallback | None) -> None:
        self._staging = staging
        self._strict = strict
        self._progress = progress
        self._writers: dict[str, pq.ParquetWriter] = {}
        tables = (*_RECORD_TABLES, "quarantine")
        # Staged as int64 (epoch ms) and cast once per batch: cheaper than datetime objects.
        self._batch_schemas = {
            t: pa.schema([f.with_type(pa.int64()) if f.type == schema.TS else f for f in _staged_fields(t)])
            for t in tables
        }
        # What a reader gives, in column order; the sink adds the rest of the provenance and _seq.
        self._row_fields = {
            t: [n for n in self._batch_schemas[t].names if n not in _SINK_COLUMNS] for t in tables
        }
        self._row_of = {t: operator.itemgetter(*names) for t, names in self._row_fields.items()}
        self._rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables}
        # The source line of each row: a row Arrow refuses is quarantined with it.
        self._lines: dict[str, list[int | None]] = {t: [] for t in tables}
        self._post_rows, self._post_lines = self._rows["posts"], self._lines["posts"]
        # Last profile seen per account in this run: an unchanged one is a duplicate, dropped early.
        self._last_profile: dict[tuple[str, str], int] = {}
        # Dedupe keeps a key's first staged row: sequence numbers follow file order, then part order.
        self._next_seq = dict.fromkeys(tables, 0)
        self._records = 0
        self.source: Source | None = None
        self.reader: type[Reader] | None = None
        self.report: FileReport | None = None
        self._ingested_at = int(time.time() * 1000)

    def start(self, source: Source, reader: type[Reader], report: FileReport, seq_base: int) -> None:
        self.source, self.reader, self.report = source, reader, report
        self._next_seq = dict.fromkeys(self._next_seq, seq_base)

    # -- the Sink protocol ---------------------------------------------------------
    def post(self, record: dict[str, Any]) -> None:
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        self._add("posts", record)

    def post_rows(self, rows: list[tuple[Any, ...]], line: int | None) -> None:
        """Posts as tuples in ``schema.POST_ROW`` order, from one source line: the fast path."""
        staged = self._post_rows
        staged += rows
        self._post_lines += [line] * len(rows)
        if len(staged) >= BATCH_ROWS:
            self._flush("posts")

    def account(self, record: dict[str, Any]) -> None:
        """An account snapshot; ``raw`` may be the original record as a dict, serialized only if kept."""
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        try:
            values = _snapshot_values(record)
        except KeyError:
            values = tuple(record.get(k) for k in _SNAPSHOT_FIELDS)
        key = (record["platform"], record["account_id"])
        fingerprint = record.pop("_fingerprint", None)
        if fingerprint is None:
            fingerprint = hash(values)
        if self._last_profile.get(key) == fingerprint:
            self.report.read["accounts"] += 1  # type: ignore[union-attr]
            return
        if len(self._last_profile) >= PROFILES_KEPT:
            self._last_profile.clear()  # the commit's deduplication catches what this misses
        self._last_profile[key] = fingerprint
        record["snapshot_id"] = stable_id(*["\x00" if v is None else str(v) for v in values])
        raw = record.get("raw")
        if raw is not None and not isinstance(raw, str):
            record["raw"] = raw.decode() if isinstance(raw, bytes) else _dump_raw(raw)
        self._add("accounts", record)

    def profile_unchanged(self, platform: str, account_id: str, fingerprint: int) -> bool:
        return self._last_profile.get((platform, account_id)) == fingerprint

    def duplicate(self, table: str, n: int = 1) -> None:
        self.report.read[table] += n  # type: ignore[union-attr]

    def label(self, record: dict[str, Any]) -> None:
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        self._add("account_labels", record)

    def quarantine(
        self,
        reason: str,
        raw: str | bytes | None,
        line: int | None = None,
        byte_offset: int | None = None,
    ) -> None:
        assert self.source is not None and self.report is not None
        if self._strict and not reason.startswith(SKIPPED):
            raise BadRecordError(self.source.name, line, reason)
        reason = reason.encode("utf-8", errors="backslashreplace").decode("utf-8")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="backslashreplace")
        elif isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
        self.report.quarantined += 1
        row = {"line": line, "byte_offset": byte_offset, "reason": reason, "raw": raw, "dataset": None}
        self._add("quarantine", row)

    # -- internals -----------------------------------------------------------------
    def _add(self, table: str, record: dict[str, Any]) -> None:
        try:  # the common case: readers give every field; itemgetter keeps it in C
            row = self._row_of[table](record)
        except KeyError:
            row = tuple(record.get(k) for k in self._row_fields[table])
        rows = self._rows[table]
        rows.append(row)
        self._lines[table].append(record.get("_line"))
        if len(rows) >= BATCH_ROWS:
            self._flush(table)

    def _flush(self, table: str) -> None:
        rows, lines = self._rows[table], self._lines[table]
        if not rows:
            return
        assert self.source is not None and self.reader is not None and self.report is not None
        if table != "quarantine":
            self.report.read[table] += len(rows)  # less any refused below
        self._records += len(rows)
        if self._progress is not None:
            source = self.source
            self._progress({"file": source.name, "bytes_done": source.bytes_read, "records": self._records})
        batch_schema = self._batch_schemas[table]
        names = self._row_fields[table]
        try:
            arrays = _columns(rows, names, batch_schema)
        except (pa.ArrowException, TypeError, ValueError, UnicodeError):
            # A value Arrow refuses (e.g. text with a lone surrogate from a "\ud800" escape):
            # find the rows, quarantine them with the reason, keep the rest.
            kept = self._quarantine_unstorable(table, rows, lines, names, batch_schema)
            rows.clear()
            lines.clear()
            if not kept:
                return
            rows.extend(kept)
            arrays = _columns(rows, names, batch_schema)
        n = len(rows)
        seq = self._next_seq[table]
        self._next_seq[table] = seq + n
        arrays["_seq"] = pa.array(np.arange(seq, seq + n, dtype=np.int64))
        provenance = {
            "dataset": self.source.dataset,
            "reader": self.reader.tag(),
            "source_file": self.source.name,
            "ingested_at": self._ingested_at,
        }
        for name, value in provenance.items():
            column = arrays.get(name)
            if column is None or column.null_count == n:
                arrays[name] = pa.repeat(value, n).cast(batch_schema.field(name).type)
            elif column.null_count:
                arrays[name] = pc.fill_null(column, value)
        batch = pa.Table.from_arrays([arrays[k] for k in batch_schema.names], schema=batch_schema)
        batch = batch.cast(pa.schema(_staged_fields(table)))
        writer = self._writers.get(table)
        if writer is None:
            self._staging.mkdir(parents=True, exist_ok=True)
            path = self._staging / f"{table}.parquet"
            # Staging is read once, by the commit: plain encoding is cheaper to write than compression.
            writer = self._writers[table] = pq.ParquetWriter(
                path, batch.schema, compression="none", use_dictionary=False, write_statistics=False
            )
        writer.write_table(batch)
        rows.clear()
        lines.clear()

    def _quarantine_unstorable(
        self,
        table: str,
        rows: list[tuple[Any, ...]],
        lines: list[int | None],
        names: list[str],
        batch_schema: pa.Schema,
    ) -> list[tuple[Any, ...]]:
        kept = []
        for row, line in zip(rows, lines, strict=True):
            try:
                _columns([row], names, batch_schema)
            except (pa.ArrowException, TypeError, ValueError, UnicodeError) as exc:
                if table != "quarantine":
                    self.report.read[table] -= 1  # type: ignore[union-attr]
                record = {k: v for k, v in zip(names, row, strict=True) if v is not None}
                self.quarantine(f"unstorable {table} record: {exc}", json.dumps(record, default=str), line)
            else:
                kept.append(row)
        return kept

    def finish_file(self) -> None:
        # Batches carry the file name, so flush at each file boundary.
        for table in self._rows:
            self._flush(table)

    def close(self) -> list[str]:
        for writer in self._writers.values():
            writer.close()
        return list(self._writers)


def _dump_raw(raw: Any) -> str:
    try:
        return orjson.dumps(raw).decode()
    except TypeError:  # a lone surrogate or a huge integer: json escapes both, Arrow can store it
        return json.dumps(raw, default=str)


def _columns(rows: list[tuple[Any, ...]], names: list[str], batch_schema: pa.Schema) -> dict[str, pa.Array]:
    # Transposed in C (zip), then one Arrow conversion a column: cheaper than rows of dicts.
    columns = zip(*rows, strict=True)
    return {k: pa.array(col, batch_schema.field(k).type) for k, col in zip(names, columns, strict=True)}


def _staged_fields(table: str) -> list[pa.Field]:
    fields = [f.with_nullable(True) for f in schema.TABLES[table]]
    return [*fields, pa.field("_seq", pa.int64())]


def ingest(
    inputs: list[str | Path],
    case_dir: str | Path,
    *,
    format: str = "auto",
    dataset: str | None = None,
    strict: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Read ``inputs`` into the case at ``case_dir`` (created if needed).

    Inputs of 64 MB or more are read by ``workers`` processes (default: the number of cores, at
    most 4): file by file, and each large uncompressed JSON Lines file in ranges of whole lines.

    >>> report = ingest(["tweets.jsonl.gz"], "out/case")   # doctest: +SKIP
    >>> report.reconciles
    True
    """
    started = time.perf_counter()
    paths = _expand(inputs)
    from cibwatch.store.case import Case

    case = Case.create(case_dir)
    report = IngestReport(case=str(case.root))
    plan: list[tuple[Source, type[Reader]]] = []
    for path in paths:
        source = Source(path=path, dataset=dataset or dataset_name(path))
        reader = sniff_format(source) if format == "auto" else get_reader(format)
        plan.append((source, reader))
    staging = case.root / ".staging" / uuid.uuid4().hex[:12]
    staging.mkdir(parents=True)
    workers = max(1, workers if workers is not None else min(os.cpu_count() or 1, 4))
    report.files = [FileReport(path=s.name, reader=r.name, dataset=s.dataset) for s, r in plan]
    try:
        if progress:
            for source, _ in plan:
                progress({"file": source.name, "bytes_total": source.size, "bytes_done": 0, "start": True})
        parts = _parts(plan, workers)
        if workers > 1 and len(parts) > 1 and sum(s.size for s, _ in plan) >= PARALLEL_MIN_BYTES:
            _read_in_workers(plan, parts, report.files, staging, workers, strict, progress)
        else:
            _read_here(plan, report.files, staging, strict, progress)
        _commit(case, staging, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_empty(staging.parent)
        case.close()
    report.seconds = time.perf_counter() - started
    return report


def dataset_name(path: Path) -> str:
    """'ira/tweets_2016.csv.xz' -> 'tweets_2016'."""
    name = path.name
    for ext in (
        ".gz",
        ".bz2",
        ".xz",
        ".zst",
        ".json",
        ".jsonl",
        ".ndjson",
        ".csv",
        ".tsv",
        ".txt",
        ".dat",
    ):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name or path.name


def _expand(inputs: list[str | Path]) -> list[Path]:
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if (path / "case.json").exists():
                raise InputFormatError(
                    f"{path} is a cibwatch case, not an input file; pass the files to read"
                )
            paths.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            paths.append(path)
        else:
            raise InputFormatError(f"{path} does not exist")
    if not paths:
        raise InputFormatError("no input files given")
    return paths


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading.

    Readers allocate millions of short-lived containers and the sink holds batches of them;
    the collector's passes over those cost about half the read time, and records hold no cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _commit(case: Case, staging: Path, report: IngestReport) -> None:
    """Deduplicate staged rows against the case and each other, then add one part per table."""
    import duckdb

    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + staging.name
    con = duckdb.connect()
    con.execute(f"SET temp_directory='{staging / 'duckdb_tmp'}'")
    con.execute("SET memory_limit='1GB'")
    con.execute(f"SET threads={max(1, min(2, os.cpu_count() or 1))}")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")  # it writes to stdout, into --json output
    try:
        for table in schema.TABLES:
            staged = sorted(str(p) for p in staging.rglob(f"{table}.parquet"))
            if not staged:
                continue
            # DuckDB streams Parquet within its memory limit, whatever the input's size.
            fresh = "read_parquet([" + ", ".join(f"'{p}'" for p in staged) + "])"
            columns = ", ".join(f'"{f.name}"' for f in schema.TABLES[table])
            keys = schema.DEDUPE_KEYS.get(table, ("source_file", "line", "byte_offset", "reason"))
            key_cols = ", ".join(keys)
            # The first staged row of each key: a hash aggregate, cheaper than a window function.
            where = f"WHERE s._seq IN (SELECT min(_seq) FROM {fresh} GROUP BY {key_cols})"
            if case.has_table(table):
                match = " AND ".join(f"e.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
                stored = f"read_parquet('{case.table_glob(table)}')"
                where += f" AND NOT EXISTS (SELECT 1 FROM {stored} e WHERE {match})"
            out = case.table_dir(table)
            out.mkdir(parents=True, exist_ok=True)
            query = f"SELECT {columns} FROM {fresh} s {where}"
            tmp = [staging / f"{table}.committed-{k}.parquet" for k in range(_COMMIT_WRITERS)]
            kept, written = _copy_to_parquet(con, query, tmp, schema.TABLES[table])
            for k, path in enumerate(written):
                shutil.move(path, out / f"part-{run}-{k}.parquet")
            if table in _RECORD_TABLES:
                by_file = {f.path: f for f in report.files}
                for source_file, n in kept.items():
                    by_file[source_file].stored[table] += n
        _add_author_stubs(case, con, run)
    finally:
        con.close()


def _add_author_stubs(case: Case, con: Any, run: str) -> None:
    """Accounts seen only as post authors still get a row (no profile, probed_at null)."""
    if not case.has_table("posts"):
        return
    known = ""
    if case.has_table("accounts"):
        known = (
            f"WHERE NOT EXISTS (SELECT 1 FROM read_parquet('{case.table_glob('accounts')}') a "
            "WHERE a.platform = p.platform AND a.account_id = p.account_id)"
        )
    names = [f.name for f in schema.ACCOUNTS]
    stub_values = {
        "account_id": "p.account_id",
        "platform": "p.platform",
        "snapshot_id": "'stub'",
        "dataset": "any_value(p.dataset)",
        "reader": "'author-stub@1'",
        "source_file": "any_value(p.source_file)",
        "ingested_at": "max(p.ingested_at)",
    }
    types = {f.name: f.type for f in schema.ACCOUNTS}
    duck = {
        pa.string(): "VARCHAR",
        pa.int64(): "BIGINT",
        pa.bool_(): "BOOLEAN",
        schema.TS: "TIMESTAMPTZ",
    }
    select = ", ".join(
        f"{stub_values[n]} AS {n}" if n in stub_values else f"CAST(NULL AS {duck[types[n]]}) AS {n}"
        for n in names
    )
    target = case.table_dir("accounts") / f"part-{run}-stubs.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    query = (
        f"SELECT {select} FROM read_parquet('{case.table_glob('posts')}') p {known} "
        "GROUP BY p.platform, p.account_id"
    )
    _copy_to_parquet(con, query, [target], schema.ACCOUNTS)


# Parts written at once by a commit: Parquet encoding and compression release the GIL.
_COMMIT_WRITERS = 2
# Columns with few distinct values: dictionary pages make them smaller; on ids and text the
# writer would only try and give up.
_DICTIONARY_COLUMNS = {"kind", "lang", "source_app", "platform", "dataset", "reader", "source_file", "label"}


def _copy_to_parquet(
    con: Any, query: str, paths: list[Path], table_schema: pa.Schema
) -> tuple[dict[str, int], list[Path]]:
    """Stream ``query`` into ``paths`` (batches dealt in turn, each file by its own thread) with
    the exact Arrow schema. Returns the rows written per source file and the files written."""
    from concurrent.futures import Future, ThreadPoolExecutor

    counts: dict[str, int] = {}
    writers: list[pq.ParquetWriter | None] = [None] * len(paths)
    dictionary = [name for name in table_schema.names if name in _DICTIONARY_COLUMNS]
    batches = con.sql(query).to_arrow_reader(65_536)
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
    finally:
        for pool in pools:
            pool.shutdown()
        for writer in writers:
            if writer is not None:
                writer.close()
    return counts, [path for path, writer in zip(paths, writers, strict=True) if writer is not None]


_FILE_SEQ_SHIFT = 40
_PART_SEQ_SHIFT = 34
PARALLEL_MIN_BYTES = 64 << 20


def _can_split(source: Source, reader: type[Reader]) -> bool:
    return (
        compression_of(source.path) is None
        and source.size >= PARALLEL_MIN_BYTES
        and reader.splittable(source)
    )


def _line_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """(start, end) of ``parts`` byte ranges of whole lines covering ``path``."""
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            fh.seek(size * k // parts)
            fh.readline()  # move to the start of the next whole line
            cuts.append(min(max(fh.tell(), cuts[-1]), size))
    cuts.append(size)
    return [(start, end) for start, end in itertools.pairwise(cuts) if end > start]


def _lines_before(path: Path, offset: int) -> int:
    """Newlines in the first ``offset`` bytes of ``path``."""
    count = 0
    buffer = bytearray(16 << 20)
    with open(path, "rb") as fh:
        while offset > 0:
            n = fh.readinto(memoryview(buffer)[: min(offset, len(buffer))])
            if not n:
                break
            count += buffer.count(b"\n", 0, n)
            offset -= n
    return count


def _read_here(
    plan: list[tuple[Source, type[Reader]]],
    files: list[FileReport],
    staging: Path,
    strict: bool,
    progress: ProgressCallback | None,
) -> None:
    """Read every file in this process, into one sink (it drops profiles repeated across files)."""
    sink = StagingSink(staging / "main", strict, progress)
    for index, ((source, reader), file_report) in enumerate(zip(plan, files, strict=True)):
        t0 = time.perf_counter()
        sink.start(source, reader, file_report, seq_base=index << _FILE_SEQ_SHIFT)
        with _gc_paused():
            reader().read(source, sink)
            sink.finish_file()
        file_report.seconds = time.perf_counter() - t0
        if progress:
            progress({"file": source.name, "bytes_done": source.size, "done": True})
    sink.close()


# A part of the input: (file index, part number, byte range of whole lines, or None for all of it).
Part = tuple[int, int, tuple[int, int] | None]


def _parts(plan: list[tuple[Source, type[Reader]]], workers: int) -> list[Part]:
    parts: list[Part] = []
    for index, (source, reader) in enumerate(plan):
        if _can_split(source, reader):
            parts += [(index, k, rng) for k, rng in enumerate(_line_ranges(source.path, workers))]
        else:
            parts.append((index, 0, None))
    return parts


_worker_progress: list[Any] = []


def _init_worker(counters: list[Any]) -> None:
    _worker_progress[:] = counters


def _read_part(
    path: str,
    dataset: str,
    reader_name: str,
    rng: tuple[int, int] | None,
    staging: str,
    seq_base: int,
    strict: bool,
    slot: int,
) -> dict[str, Any]:
    """One part of the input, read in a worker process into its own staging folder."""
    counter = _worker_progress[slot]

    def progress(event: dict[str, Any]) -> None:
        counter.value = event["bytes_done"]

    # A range's line numbers count from its start; the parent makes them the file's if it needs them.
    source = Source(path=Path(path), dataset=dataset, **({"start": rng[0], "end": rng[1]} if rng else {}))
    reader = get_reader(reader_name)
    report = FileReport(path=path, reader=reader_name, dataset=dataset)
    sink = StagingSink(Path(staging), strict, progress)
    sink.start(source, reader, report, seq_base=seq_base)
    with _gc_paused():
        reader().read(source, sink)
        sink.finish_file()
    sink.close()
    counter.value = source.size if rng is None else rng[1] - rng[0]
    return {"read": report.read, "quarantined": report.quarantined}


def _read_in_workers(
    plan: list[tuple[Source, type[Reader]]],
    parts: list[Part],
    files: list[FileReport],
    staging: Path,
    workers: int,
    strict: bool,
    progress: ProgressCallback | None,
) -> None:
    """Read the parts in a pool of worker processes, largest first; merge their counts per file."""
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor, wait

    # spawn: the parent may hold DuckDB or Arrow threads, which fork would copy half-way.
    context = multiprocessing.get_context("spawn")
    counters = [context.Value("q", 0) for _ in parts]
    left = [0] * len(plan)
    for index, _, _ in parts:
        left[index] += 1

    def size(k: int) -> int:
        index, _, rng = parts[k]
        return plan[index][0].size if rng is None else rng[1] - rng[0]

    started = time.perf_counter()
    errors: list[tuple[int, int, tuple[int, int] | None, BadRecordError]] = []
    with ProcessPoolExecutor(
        min(workers, len(parts)), mp_context=context, initializer=_init_worker, initargs=(counters,)
    ) as pool:
        futures: dict[Future[dict[str, Any]], int] = {}
        with _main_module_hidden():  # the workers start at submit
            for k in sorted(range(len(parts)), key=size, reverse=True):
                index, part, rng = parts[k]
                source, reader = plan[index]
                seq_base = (index << _FILE_SEQ_SHIFT) + (part << _PART_SEQ_SHIFT)
                part_staging = str(staging / f"file{index}-part{part}")
                args = (source.name, source.dataset, reader.name, rng, part_staging, seq_base, strict, k)
                futures[pool.submit(_read_part, *args)] = k
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5)
            for future in done:
                if future.cancelled():
                    continue
                index, part, rng = parts[futures[future]]
                try:
                    result = future.result()
                except BadRecordError as exc:  # --strict: later parts need not be read
                    errors.append((index, part, rng, exc))
                    for other in pending:
                        if parts[futures[other]][:2] > (index, part):
                            other.cancel()
                    continue
                _merge_part(result, plan[index][0], rng, files[index], staging / f"file{index}-part{part}")
                left[index] -= 1
                if left[index] == 0:
                    files[index].seconds = time.perf_counter() - started
                    if progress:
                        progress(
                            {"file": plan[index][0].name, "bytes_done": plan[index][0].size, "done": True}
                        )
            if progress:
                done_bytes = [0] * len(plan)
                for k, (index, _, _) in enumerate(parts):
                    done_bytes[index] += counters[k].value
                for index, (source, _) in enumerate(plan):
                    if left[index]:
                        progress({"file": source.name, "bytes_done": done_bytes[index]})
    if errors:  # the first bad record of the input, with the line of its whole file
        index, _, rng, exc = min(errors, key=lambda e: e[:2])
        source = plan[index][0]
        line = None if exc.line is None else exc.line + _lines_before_part(source, rng)
        raise BadRecordError(source.name, line, exc.reason)


def _merge_part(
    result: dict[str, Any], source: Source, rng: tuple[int, int] | None, file_report: FileReport, staged: Path
) -> None:
    for table, n in result["read"].items():
        file_report.read[table] += n
    file_report.quarantined += result["quarantined"]
    if result["quarantined"] and rng is not None and rng[0]:
        _shift_quarantine_lines(staged, _lines_before_part(source, rng))


def _lines_before_part(source: Source, rng: tuple[int, int] | None) -> int:
    """Lines of ``source`` before the part ``rng`` (a worker numbers its lines from there)."""
    return _lines_before(source.path, rng[0]) if rng is not None and rng[0] else 0


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Spawned processes re-import the parent's ``__main__`` (for the ``cibwatch`` command, the
    whole CLI: half a second each) unless it names no module and no file. Ingest workers need
    none of it."""
    main = sys.modules["__main__"]
    saved = {name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _shift_quarantine_lines(part_staging: Path, lines_before: int) -> None:
    """A worker numbers lines from its range's start: make its quarantine rows name the file's lines."""
    path = part_staging / "quarantine.parquet"
    table = pq.read_table(path)
    line = table.column("line")
    table = table.set_column(table.schema.get_field_index("line"), "line", pc.add(line, lines_before))
    pq.write_table(table, path, compression="none")
