"""``cibwatch ingest --engine spark``: the registered readers run on Spark's executors, and the
normalized tables are written as a lake (``store/lake.py``: Parquet partitioned by dataset and day).

The work is the embedded ingest's, cut where Spark can share it:

1. On the driver, each input is planned as on one machine (``run.plan_inputs``: the reader sniffed
   or named) and cut into units: a whole file, or for a large uncompressed file whose reader reads
   byte ranges (``Reader.splittable``) ranges of whole lines (``parallel._line_ranges``).
2. Each unit is one task (``mapInArrow``): the registered reader reads it into a ``StagingSink`` on
   the executor's local disk, exactly as a worker process of the embedded ingest does, and the task
   streams what was staged back as Arrow batches, one struct column per table, then one row of the
   unit's counts (units, records handed over, duplicates the sink dropped, quarantined).
3. Each table is deduplicated on Spark by ``schema.DEDUPE_KEYS`` keeping the first row read (file
   order, then range order, then line order: the sink's sequence numbers), and the rows dropped
   there are counted per file in that same step; authors seen only in posts get stub accounts.
4. The tables are written partitioned by dataset and day; the rows stored are counted by reading
   the written lake back, per file, apart from every other count; the manifest is written last.

So the report reconciles as the embedded one does (read = stored + duplicates + quarantined, each
counted where it happens), a bad record is quarantined with its file and line, and ``--strict``
stops at the first one with its file and line.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.errors import BadRecordError, ConfigError, InputFormatError
from cibwatch.ingest.commit import _NOT_CONTENT, AUTHOR_STUB_READER
from cibwatch.ingest.parallel import _gc_paused, _line_ranges, _lines_before_part
from cibwatch.ingest.registry import Reader, get_reader
from cibwatch.ingest.report import RECORD_TABLES, FileReport, IngestReport
from cibwatch.ingest.run import _mapped_reader, expand_inputs, plan_inputs
from cibwatch.ingest.sink import StagingSink, _staged_fields
from cibwatch.ingest.source import Source, compression_of
from cibwatch.store.lake import DAY_OF, PARTITIONS, Lake, has_manifest, table_url, write_manifest
from cibwatch.values import default_zone, zone

# A splittable file larger than this is read as ranges of about this many bytes, one task each.
UNIT_BYTES = 64 << 20
# A staged row's sequence number: file index, then range number, then its place in the range
# (up to 2^19 files, 2^16 ranges of a file, 2^28 rows of a range).
_FILE_SEQ_SHIFT = 44
_PART_SEQ_SHIFT = 28
# Rows per Parquet file of the lake: a busy day of one dataset is several files, written by one task.
MAX_ROWS_PER_FILE = 1_000_000
# Session settings the run relies on (restored after it): days and times in UTC, timestamps
# written as the schema's milliseconds (Spark's default is the legacy INT96).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MILLIS",
}
_TABLES = (*RECORD_TABLES, "quarantine")


def ingest_to_lake(
    inputs: list[str | Path],
    lake: str,
    *,
    session: Any = None,
    format: str = "auto",
    dataset: str | None = None,
    strict: bool = False,
    mapping: str | None = None,
    tz: str = "UTC",
    unit_bytes: int = UNIT_BYTES,
) -> IngestReport:
    """Read ``inputs`` on Spark into a new lake at ``lake`` (a path or a Hadoop URL).

    ``inputs``: files or folders (paths or ``file://`` URLs) that every executor can open: on a
    cluster, a shared file system mounted at the same place. ``session``: a SparkSession (None: the
    active one, or a new local one).

    >>> report = ingest_to_lake(["/data/x.jsonl"], "s3a://bucket/x", session=spark)  # doctest: +SKIP
    >>> report.reconciles                                                            # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    try:
        zone(tz)
    except ValueError as exc:
        raise ConfigError(f"--tz: {exc}") from None
    paths = [p.resolve() for p in expand_inputs([_local_path(i) for i in inputs])]
    chosen: str | type[Reader] = _mapped_reader(mapping, format) if mapping is not None else format
    plan = plan_inputs(paths, chosen, dataset)
    if session is None:
        from cibwatch.coord.spark import default_session

        session = default_session()
    if has_manifest(session, lake):
        raise ConfigError(
            f"{lake} already holds a cibwatch lake; write to a new path (adding to a lake is not "
            "supported yet)"
        )
    report = IngestReport(case=lake)
    report.files = [FileReport(path=s.name, reader=r.name, dataset=s.dataset) for s, r in plan]
    saved = {key: session.conf.get(key, None) for key in SESSION_CONF}
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    try:
        _run(session, plan, report, lake, strict, tz, unit_bytes)
    finally:
        for key, value in saved.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)
    report.seconds = time.perf_counter() - started
    return report


def _local_path(item: str | Path) -> Path:
    """A path, or a ``file:`` URL's path (the CLI's ``Path`` makes ``file:///x`` ``file:/x``)."""
    text = str(item)
    url = urlparse(text)
    if url.scheme == "file":
        return Path(unquote(url.path))
    if len(url.scheme) > 1:  # a URL (a Windows drive letter is one letter)
        raise InputFormatError(
            f"{text}: ingest --engine spark reads inputs from paths every executor can open (a local "
            "or shared file system, or file://); copy inputs from other stores there first"
        )
    return Path(text)


def units_of(plan: list[tuple[Source, type[Reader]]], unit_bytes: int = UNIT_BYTES) -> list[dict[str, Any]]:
    """The tasks of ``plan``: each file whole, or in ranges of whole lines of about ``unit_bytes``."""
    units: list[dict[str, Any]] = []
    for index, (source, reader) in enumerate(plan):
        ranges: list[tuple[int, int] | None] = [None]
        if source.size > unit_bytes and compression_of(source.path) is None and reader.splittable(source):
            ranges = list(_line_ranges(source.path, math.ceil(source.size / unit_bytes)))
        for part, rng in enumerate(ranges):
            units.append(
                {
                    "unit": len(units),
                    "file": index,
                    "part": part,
                    "path": str(source.path),
                    "dataset": source.dataset,
                    "reader": reader.name,
                    "settings": json.dumps(reader.settings, sort_keys=True),
                    "start": None if rng is None else rng[0],
                    "end": None if rng is None else rng[1],
                    "seq_base": (index << _FILE_SEQ_SHIFT) + (part << _PART_SEQ_SHIFT),
                }
            )
    return units


# -- on the executors -------------------------------------------------------------------------


def _output_schema() -> pa.Schema:
    """What a task yields: which table a row is of, one struct column per table, the unit's counts."""
    tables = [pa.field(t, pa.struct(_staged_fields(t))) for t in _TABLES]
    return pa.schema([pa.field("_table", pa.string()), *tables, pa.field("_counts", pa.string())])


def read_units(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``: read each unit with its registered reader (see the module's docstring)."""
    for batch in batches:
        for unit in batch.to_pylist():
            yield from _read_unit(unit)


def _read_unit(unit: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    rng = None if unit["start"] is None else (unit["start"], unit["end"])
    path = Path(unit["path"])
    source = (
        Source(path=path, dataset=unit["dataset"], start=rng[0], end=rng[1])
        if rng
        else Source(path=path, dataset=unit["dataset"])
    )
    reader = get_reader(unit["reader"]).configure(json.loads(unit["settings"]))
    report = FileReport(path=source.name, reader=reader.name, dataset=source.dataset)
    error: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="cibwatch-unit-") as staging:
        sink = StagingSink(Path(staging), unit["strict"], None, ingested_at=unit["ingested_at"])
        sink.start(source, reader, report, seq_base=unit["seq_base"])
        try:
            with _gc_paused(), default_zone(unit["tz"]):
                reader().read(source, sink)
                sink.finish_file()
        except BadRecordError as exc:  # --strict: the driver raises the input's first one
            error = {"line": exc.line, "reason": exc.reason}
        staged = sink.close()
        report.units_read = source.units_read
        # A range numbers its lines from its start: make quarantine rows name the file's lines.
        lines_before = _lines_before_part(source, rng) if report.quarantined or error else 0
        if error is None:
            for table in staged:
                for batch in pq.ParquetFile(Path(staging) / f"{table}.parquet").iter_batches(20_000):
                    if table == "quarantine" and lines_before:
                        lines = pc.add(batch.column("line"), lines_before)
                        batch = batch.set_column(batch.schema.get_field_index("line"), "line", lines)
                    yield _as_output(table, batch)
    if error is not None and error["line"] is not None:
        error["line"] += lines_before
    counts = {"file": unit["file"], "part": unit["part"], "counts": report.sink_counts(), "error": error}
    yield _as_output("_counts", None, json.dumps(counts))


def _as_output(table: str, batch: pa.RecordBatch | None, counts: str | None = None) -> pa.RecordBatch:
    output = _output_schema()
    n = 1 if batch is None else batch.num_rows
    columns: list[pa.Array] = [pa.array([table] * n)]
    for name in _TABLES:
        struct_type = output.field(name).type
        if name == table and batch is not None:
            columns.append(pa.StructArray.from_arrays(batch.columns, fields=list(struct_type)))
        else:
            columns.append(pa.nulls(n, struct_type))
    columns.append(pa.array([counts] * n, pa.string()))
    # Spark takes timestamps in microseconds.
    return pa.RecordBatch.from_arrays(columns, schema=output).cast(_spark_arrow_schema())


def _spark_arrow_schema() -> pa.Schema:
    output = _output_schema()
    fields = []
    for field in output:
        if pa.types.is_struct(field.type):
            inner = [
                f.with_type(pa.timestamp("us", tz="UTC")) if f.type == schema.TS else f for f in field.type
            ]
            field = field.with_type(pa.struct(inner))
        fields.append(field)
    return pa.schema(fields)


# -- on the driver ------------------------------------------------------------------------------


def _run(
    session: Any,
    plan: list[tuple[Source, type[Reader]]],
    report: IngestReport,
    lake: str,
    strict: bool,
    tz: str,
    unit_bytes: int,
) -> None:
    from pyspark import StorageLevel
    from pyspark.sql.pandas.types import from_arrow_schema

    units = units_of(plan, unit_bytes)
    ingested_at = int(time.time() * 1000)
    for unit in units:
        unit.update(strict=strict, tz=tz, ingested_at=ingested_at)
    unit_schema = (
        "unit long, file long, part long, path string, dataset string, reader string, settings string, "
        "start long, end long, seq_base long, strict boolean, tz string, ingested_at long"
    )
    rows = [tuple(u[k.split()[0]] for k in unit_schema.split(", ")) for u in units]
    # One slice per unit: each unit is one task, scheduled wherever a core is free.
    frame = session.sparkContext.parallelize(rows, max(1, len(rows))).toDF(unit_schema)
    staged = frame.mapInArrow(read_units, from_arrow_schema(_output_schema()))
    # Kept for the tables' passes (spilled to disk if need be); tasks are deterministic if redone.
    staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        _merge_counts(staged, plan, report)
        kept = {}
        for table in _TABLES:
            rows_of = staged.where(f"_table = '{table}'").select(f"`{table}`.*")
            kept[table] = _deduplicate(rows_of, table, report)
        kept["accounts"] = kept["accounts"].unionByName(_author_stubs(kept["posts"], kept["accounts"]))
        for table in _TABLES:
            day = f"date_format({DAY_OF[table]}, 'yyyy-MM-dd')"
            (
                kept[table]
                .selectExpr(*[f"`{n}`" for n in schema.TABLES[table].names], f"{day} AS day")
                .repartition(*PARTITIONS)
                .write.mode("overwrite")
                .option("maxRecordsPerFile", MAX_ROWS_PER_FILE)
                .partitionBy(*PARTITIONS)
                .parquet(table_url(lake, table))
            )
    finally:
        staged.unpersist()
    totals = _count_stored(session, lake, report)
    write_manifest(session, lake, totals)


def _merge_counts(staged: Any, plan: list[tuple[Source, type[Reader]]], report: IngestReport) -> None:
    """Add each unit's counts to its file's report; under --strict, raise the input's first bad record."""
    errors = []
    for (text,) in staged.where("_table = '_counts'").select("_counts").collect():
        unit = json.loads(text)
        report.files[unit["file"]].add_sink_counts(unit["counts"])
        if unit["error"] is not None:
            errors.append((unit["file"], unit["part"], unit["error"]))
    if errors:
        index, _, first = min(errors, key=lambda e: e[:2])
        raise BadRecordError(plan[index][0].name, first["line"], first["reason"])


def _deduplicate(rows: Any, table: str, report: IngestReport) -> Any:
    """The first row read of each key (``schema.DEDUPE_KEYS``, as the embedded commit keeps), with
    the rows dropped counted per file here, and the kept keys whose copies differ in content."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = schema.DEDUPE_KEYS[table]
    content = [f.name for f in schema.TABLES[table] if f.name not in _NOT_CONTENT and f.name not in keys]
    by_key = Window.partitionBy(*keys)
    annotated = rows.withColumn("_first", F.min("_seq").over(by_key))
    if content and table not in ("accounts", "quarantine"):  # accounts are keyed by their values' hash
        digest = F.hash(*content)
        annotated = annotated.withColumn("_differ", F.min(digest).over(by_key) != F.max(digest).over(by_key))
    else:
        annotated = annotated.withColumn("_differ", F.lit(False))
    counts = (
        annotated.groupBy("source_file")
        .agg(
            F.count_if(F.col("_seq") != F.col("_first")).alias("dropped"),
            F.count_if((F.col("_seq") == F.col("_first")) & F.col("_differ")).alias("differ"),
        )
        .collect()
    )
    by_file = {f.path: f for f in report.files}
    for source_file, dropped, differ in counts:
        file_report = by_file[source_file]
        if table == "quarantine":
            file_report.quarantine_duplicates += dropped
            continue
        file_report.duplicates_in_run[table] += dropped
        file_report.conflicting[table] += differ
        if differ:
            file_report.notes.append(
                f"{table} keys seen again in this run with different content: {differ:,}; the first was kept"
            )
    return annotated.where(F.col("_seq") == F.col("_first")).drop("_first", "_differ", "_seq")


def _author_stubs(posts: Any, accounts: Any) -> Any:
    """An account row for each post author without a profile (as the embedded commit adds)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_type

    authors = posts.groupBy("platform", "account_id").agg(
        F.min("dataset").alias("dataset"),
        F.min("source_file").alias("source_file"),
        F.max("ingested_at").alias("ingested_at"),
    )
    given = {"snapshot_id": F.lit("stub"), "reader": F.lit(AUTHOR_STUB_READER)}
    columns = [
        given.get(f.name, F.col(f.name) if f.name in authors.columns else F.lit(None))
        .cast(from_arrow_type(f.type))
        .alias(f.name)
        for f in schema.ACCOUNTS
    ]
    return authors.join(accounts, ["platform", "account_id"], "left_anti").select(*columns)


def _count_stored(session: Any, lake: str, report: IngestReport) -> dict[str, int]:
    """Rows per table as written, read back from the lake; each file's stored rows (stubs apart)."""
    from pyspark.sql import functions as F

    written = Lake(root=lake, rows=dict.fromkeys(_TABLES, 1))
    by_file = {f.path: f for f in report.files}
    totals = {}
    for table in _TABLES:
        frame = written.read(session, table)
        own = F.col("reader") != F.lit(AUTHOR_STUB_READER)
        rows = frame.groupBy("source_file").agg(F.count_if(own).alias("n"), F.count("*").alias("all"))
        totals[table] = 0
        for source_file, n, every in rows.collect():
            totals[table] += every
            if table == "quarantine":
                by_file[source_file].quarantine_stored += n
            elif source_file in by_file:
                by_file[source_file].stored[table] += n
    return totals
