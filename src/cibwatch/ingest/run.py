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
    UNIT_DUPLICATE,
    UNIT_USED,
    ProgressCallback,
    Reader,
    Source,
    compression_of,
    get_reader,
    sniff_format,
)
from cibwatch.ingest.values import stable_id

if TYPE_CHECKING:
    from cibwatch.store.case import Case, PartsCommit

BATCH_ROWS = 20_000
# A batch is also flushed at this much free text (the columns in _LONG_TEXT): 20,000 rows of
# 1 MB bios would otherwise be held, then converted, at once (gigabytes).
BATCH_TEXT_CHARS = 64 << 20
# The columns whose values can be long (free text and raw records); the rest are short by nature.
_LONG_TEXT = {"posts": ("text",), "accounts": ("description", "raw"), "quarantine": ("raw", "reason")}
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


def _per_table() -> dict[str, int]:
    return dict.fromkeys(_RECORD_TABLES, 0)


@dataclass
class FileReport:
    """What one input file held and where each part of it went, each count taken where it happens.

    Units (non-blank lines, CSV data rows, top-level JSON values) are counted by ``Source`` as it
    parses them; their outcomes by the sink as a unit hands it records or quarantines, or by the
    reader where it merges or drops one (``Sink.unit``). Records are counted per table as readers
    hand them to the sink (``emitted``), where they are dropped (duplicates in the run, by the sink
    and by the commit's deduplication; already in the case; unstorable ones go to quarantine) and
    from the rows the commit wrote (``stored``). ``imbalances`` compares the independent counts.
    """

    path: str
    reader: str
    dataset: str
    units_read: int = 0
    units_used: int = 0
    units_quarantined: int = 0
    # Named outcomes of units that gave no record of their own: "merged", "duplicate", …
    units_other: dict[str, int] = field(default_factory=dict)
    emitted: dict[str, int] = field(default_factory=_per_table)
    stored: dict[str, int] = field(default_factory=_per_table)
    duplicates_in_run: dict[str, int] = field(default_factory=_per_table)
    duplicates_in_case: dict[str, int] = field(default_factory=_per_table)
    # Keys kept whose dropped copies differ in content (provenance aside): within the duplicates.
    conflicting: dict[str, int] = field(default_factory=_per_table)
    unstorable: dict[str, int] = field(default_factory=_per_table)
    quarantined: int = 0  # bad records handed to the sink
    quarantine_stored: int = 0  # quarantine rows the commit wrote
    quarantine_duplicates: int = 0  # quarantine rows already in the case (the file read again) or repeated
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records_emitted(self) -> int:
        return sum(self.emitted.values())

    @property
    def records_stored(self) -> int:
        return sum(self.stored.values())

    @property
    def duplicate_units(self) -> int:
        """Units that were exact copies of an earlier unit (a repeated CSV row), dropped by the reader."""
        return self.units_other.get(UNIT_DUPLICATE, 0)

    @property
    def in_run_duplicates(self) -> int:
        """Duplicates within this run: repeated units, and records dropped as copies of earlier ones."""
        return self.duplicate_units + sum(self.duplicates_in_run.values())

    @property
    def in_case_duplicates(self) -> int:
        return sum(self.duplicates_in_case.values())

    @property
    def conflicting_duplicates(self) -> int:
        return sum(self.conflicting.values())

    @property
    def duplicates(self) -> int:
        return self.in_run_duplicates + self.in_case_duplicates

    def imbalances(self) -> list[str]:
        """The reconciliation equations that do not hold, each with its figures (empty: it reconciles)."""
        problems = []
        accounted = self.units_used + self.units_quarantined + sum(self.units_other.values())
        if self.units_read != accounted:
            other = "".join(f" + {n:,} {name}" for name, n in sorted(self.units_other.items()))
            problems.append(
                f"units: {self.units_read:,} read != {self.units_used:,} gave records + "
                f"{self.units_quarantined:,} quarantined{other}"
            )
        for table in _RECORD_TABLES:
            emitted, stored = self.emitted[table], self.stored[table]
            run, case = self.duplicates_in_run[table], self.duplicates_in_case[table]
            bad = self.unstorable[table]
            if emitted != stored + run + case + bad:
                problems.append(
                    f"{table}: {emitted:,} emitted != {stored:,} stored + {run:,} duplicates in the run + "
                    f"{case:,} already in the case + {bad:,} unstorable"
                )
        if self.quarantined != self.quarantine_stored + self.quarantine_duplicates:
            problems.append(
                f"quarantine: {self.quarantined:,} quarantined != {self.quarantine_stored:,} rows written + "
                f"{self.quarantine_duplicates:,} already in the case"
            )
        return problems

    @property
    def reconciles(self) -> bool:
        return not self.imbalances()

    def sink_counts(self) -> dict[str, Any]:
        """The counts a reading process takes (a worker sends them to the parent)."""
        return {
            "units_read": self.units_read,
            "units_used": self.units_used,
            "units_quarantined": self.units_quarantined,
            "units_other": dict(self.units_other),
            "emitted": dict(self.emitted),
            "duplicates_in_run": dict(self.duplicates_in_run),
            "unstorable": dict(self.unstorable),
            "quarantined": self.quarantined,
        }

    def add_sink_counts(self, counts: dict[str, Any]) -> None:
        for name, value in counts.items():
            if isinstance(value, dict):
                mine = getattr(self, name)
                for key, n in value.items():
                    mine[key] = mine.get(key, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)


@dataclass
class IngestReport:
    case: str
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def reconciles(self) -> bool:
        """Whether every file's independently taken counts balance (see ``FileReport.imbalances``)."""
        return all(f.reconciles for f in self.files)

    def imbalances(self) -> list[str]:
        return [f"{f.path}: {problem}" for f in self.files for problem in f.imbalances()]

    @property
    def notes(self) -> list[str]:
        return [f"{Path(f.path).name}: {note}" for f in self.files for note in f.notes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "seconds": round(self.seconds, 3),
            "reconciles": self.reconciles,
            "units_read": self.total("units_read"),
            "records": self.total("records_emitted"),
            "stored": self.total("records_stored"),
            "duplicates_in_run": self.total("in_run_duplicates"),
            "duplicates_in_case": self.total("in_case_duplicates"),
            "conflicting": self.total("conflicting_duplicates"),
            "quarantined": self.total("quarantined"),
            "imbalances": self.imbalances(),
            "notes": self.notes,
            "files": [
                {
                    "path": f.path,
                    "reader": f.reader,
                    "dataset": f.dataset,
                    "units": {
                        "read": f.units_read,
                        "gave_records": f.units_used,
                        "quarantined": f.units_quarantined,
                        **f.units_other,
                    },
                    "emitted": f.emitted,
                    "stored": f.stored,
                    "duplicates_in_run": f.duplicates_in_run,
                    "duplicate_units": f.duplicate_units,
                    "duplicates_in_case": f.duplicates_in_case,
                    "conflicting": f.conflicting,
                    "unstorable": f.unstorable,
                    "quarantined": f.quarantined,
                    "quarantine_stored": f.quarantine_stored,
                    "quarantine_duplicates": f.quarantine_duplicates,
                    "reconciles": f.reconciles,
                    "imbalances": f.imbalances(),
                    "notes": f.notes,
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
        self._long_text = {t: [self._row_fields[t].index(c) for c in _LONG_TEXT.get(t, ())] for t in tables}
        self._post_text = self._row_fields["posts"].index("text")
        self._text_chars = dict.fromkeys(tables, 0)
        # Last profile seen per account in this run: an unchanged one is a duplicate, dropped early.
        self._last_profile: dict[tuple[str, str], int] = {}
        # Dedupe keeps a key's first staged row: sequence numbers follow file order, then part order.
        self._next_seq = dict.fromkeys(tables, 0)
        self._records = 0
        # Unit outcomes: the Source's count of units read when the last one got its outcome. A
        # unit's outcome is its first: it gave records, was quarantined, or was named (``unit``).
        self._unit = 0
        self._bad_place: tuple[int, int | None, int | None, str] | None = None
        self._bad_count = 0
        self.source: Source | None = None
        self.reader: type[Reader] | None = None
        self.report: FileReport | None = None
        self._ingested_at = int(time.time() * 1000)

    def start(self, source: Source, reader: type[Reader], report: FileReport, seq_base: int) -> None:
        self.source, self.reader, self.report = source, reader, report
        self._next_seq = dict.fromkeys(self._next_seq, seq_base)
        self._unit = source.units_read
        self._bad_place = None

    def _unit_gave_records(self) -> None:
        """The unit being read gave a record, its first outcome."""
        self._unit = self.source.units_read  # type: ignore[union-attr]
        self.report.units_used += 1  # type: ignore[union-attr]

    # -- the Sink protocol ---------------------------------------------------------
    def post(self, record: dict[str, Any]) -> None:
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        if self.source.units_read != self._unit:  # type: ignore[union-attr]
            self._unit_gave_records()
        self._add("posts", record)

    def post_rows(self, rows: list[tuple[Any, ...]], line: int | None) -> None:
        """Posts as tuples in ``schema.POST_ROW`` order, from one source line: the fast path."""
        if self.source.units_read != self._unit:  # type: ignore[union-attr]
            self._unit_gave_records()
        staged = self._post_rows
        staged += rows
        self._post_lines += [line] * len(rows)
        text = self._post_text
        self._text_chars["posts"] += sum([len(row[text] or "") for row in rows])
        if len(staged) >= BATCH_ROWS or self._text_chars["posts"] >= BATCH_TEXT_CHARS:
            self._flush("posts")

    def account(self, record: dict[str, Any]) -> None:
        """An account snapshot; ``raw`` may be the original record as a dict, serialized only if kept."""
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        if self.source.units_read != self._unit:  # type: ignore[union-attr]
            self._unit_gave_records()
        try:
            values = _snapshot_values(record)
        except KeyError:
            values = tuple(record.get(k) for k in _SNAPSHOT_FIELDS)
        key = (record["platform"], record["account_id"])
        fingerprint = record.pop("_fingerprint", None)
        if fingerprint is None:
            fingerprint = hash(values)
        if self._last_profile.get(key) == fingerprint:  # an in-run duplicate, dropped here
            self.report.emitted["accounts"] += 1  # type: ignore[union-attr]
            self.report.duplicates_in_run["accounts"] += 1  # type: ignore[union-attr]
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
        """``n`` records a reader knows to be in-run duplicates without building them."""
        if not n:
            return
        if self.source.units_read != self._unit:  # type: ignore[union-attr]
            self._unit_gave_records()
        self.report.emitted[table] += n  # type: ignore[union-attr]
        self.report.duplicates_in_run[table] += n  # type: ignore[union-attr]

    def unit(self, outcome: str) -> None:
        """The outcome of the unit being read, which hands the sink nothing now (see ``Sink.unit``)."""
        if outcome == UNIT_USED:
            if self.source.units_read != self._unit:  # type: ignore[union-attr]
                self._unit_gave_records()
            return
        if self.source.units_read == self._unit:  # type: ignore[union-attr]
            return  # it already has an outcome
        self._unit = self.source.units_read  # type: ignore[union-attr]
        other = self.report.units_other  # type: ignore[union-attr]
        other[outcome] = other.get(outcome, 0) + 1

    def label(self, record: dict[str, Any]) -> None:
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        if self.source.units_read != self._unit:  # type: ignore[union-attr]
            self._unit_gave_records()
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
        units = self.source.units_read
        if units != self._unit:  # a unit with no outcome yet: quarantined
            self._unit = units
            self.report.units_quarantined += 1
        # Bad records of one unit (a page of tweets) share its line and offset: one with the reason
        # of an earlier one there is numbered, so each is its own quarantine row (the commit
        # deduplicates on file, line, offset and reason).
        place = (units, line, byte_offset, reason)
        if place == self._bad_place:
            self._bad_count += 1
            reason = f"{reason} (bad record #{self._bad_count} at this place)"
        else:
            self._bad_place, self._bad_count = place, 1
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
        for k in self._long_text[table]:
            value = row[k]
            if value.__class__ is str:
                self._text_chars[table] += len(value)
        if len(rows) >= BATCH_ROWS or self._text_chars[table] >= BATCH_TEXT_CHARS:
            self._flush(table)

    def _flush(self, table: str) -> None:
        rows, lines = self._rows[table], self._lines[table]
        if not rows:
            return
        self._text_chars[table] = 0
        assert self.source is not None and self.reader is not None and self.report is not None
        if table != "quarantine":
            self.report.emitted[table] += len(rows)  # handed over by the reader: counted here, once
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
                    self.report.unstorable[table] += 1  # type: ignore[union-attr]
                record = {k: v for k, v in zip(names, row, strict=True) if v is not None}
                # Its unit gave this record: the quarantine row is counted, the unit's outcome stays.
                unit, self._unit = self._unit, self.source.units_read  # type: ignore[union-attr]
                self.quarantine(f"unstorable {table} record: {exc}", json.dumps(record, default=str), line)
                self._unit = unit
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
    >>> report.reconciles                                  # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    paths = _expand(inputs)
    from cibwatch.store.case import Case

    new_case = not (Path(case_dir) / "case.json").exists()
    case = Case.create(case_dir)
    try:
        return _ingest_into(case, paths, format, dataset, strict, progress, workers, started)
    except BaseException:
        if new_case:  # a run that fails before its commit leaves no empty case behind
            _remove_if_empty_case(case.root)
        raise


def _ingest_into(
    case: Case,
    paths: list[Path],
    format: str,
    dataset: str | None,
    strict: bool,
    progress: ProgressCallback | None,
    workers: int | None,
    started: float,
) -> IngestReport:
    from cibwatch.store.case import crash_point

    report = IngestReport(case=str(case.root))
    plan: list[tuple[Source, type[Reader]]] = []
    for path in paths:
        source = Source(path=path, dataset=dataset or dataset_name(path))
        reader = sniff_format(source) if format == "auto" else get_reader(format)
        plan.append((source, reader))
    workers = max(1, workers if workers is not None else min(os.cpu_count() or 1, 4))
    report.files = [FileReport(path=s.name, reader=r.name, dataset=s.dataset) for s, r in plan]
    # A folder of the run's own, locked while it lives: the next run removes it if this one dies.
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(case.close)
        staging = cleanup.enter_context(case.run_folder())
        if progress:
            for source, _ in plan:
                progress({"file": source.name, "bytes_total": source.size, "bytes_done": 0, "start": True})
        parts = _parts(plan, workers)
        if workers > 1 and len(parts) > 1 and sum(s.size for s, _ in plan) >= PARALLEL_MIN_BYTES:
            _read_in_workers(plan, parts, report.files, staging, workers, strict, progress)
        else:
            _read_here(plan, report.files, staging, strict, progress)
        crash_point("read")
        with case.locked():  # one commit at a time; what dead runs left is finished or removed first
            case.recover()
            _commit(case, staging, report)
    report.seconds = time.perf_counter() - started
    return report


def _remove_if_empty_case(root: Path) -> None:
    """Remove the case folder this run created if it holds no table part yet."""
    if any((root / "tables").rglob("*.parquet")) or (root / "case.duckdb").exists():
        return
    shutil.rmtree(root, ignore_errors=True)


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


def _commit(case: Case, staging: Path, report: IngestReport) -> None:
    """Deduplicate staged rows against the case and each other, then add one part per table."""
    import duckdb

    from cibwatch.store import sql

    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + staging.name
    commit = case.begin_commit(staging)
    con = duckdb.connect()
    con.execute(f"SET temp_directory={sql.literal(staging / 'duckdb_tmp')}")
    con.execute("SET memory_limit='1GB'")
    con.execute(f"SET threads={max(1, min(2, os.cpu_count() or 1))}")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")  # it writes to stdout, into --json output
    try:
        for table in schema.TABLES:
            staged = sorted(staging.rglob(f"{table}.parquet"))
            if not staged:
                continue
            # DuckDB streams Parquet within its memory limit, whatever the input's size.
            fresh = sql.read_parquet(staged)
            columns = ", ".join(f'"{f.name}"' for f in schema.TABLES[table])
            keys = schema.DEDUPE_KEYS.get(table, ("source_file", "line", "byte_offset", "reason"))
            # The first staged row of each key: a hash aggregate, cheaper than a window function,
            # made once by _count_dedupe (below, before the query runs) as the temp table _firsts.
            where = "WHERE s._seq IN (SELECT seq FROM _firsts)"
            if case.has_table(table):
                match = " AND ".join(f"e.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
                stored = case.table_sql(table, union_by_name=False)
                where += f" AND NOT EXISTS (SELECT 1 FROM {stored} e WHERE {match})"
            _count_dedupe(con, table, fresh, keys, stored if case.has_table(table) else None, report)
            query = f"SELECT {columns} FROM {fresh} s {where}"
            # Written inside the run's folder; published with the other tables' parts at the end.
            tmp = [commit.new_path(table, f"part-{run}-{k}") for k in range(_COMMIT_WRITERS)]
            kept, written = _copy_to_parquet(
                con, query, tmp, schema.TABLES[table], step=f"write:{table}", batch_rows=_batch_rows(staged)
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
    commit.publish()  # all tables' parts, author stubs included, or (if killed) none until recovery


# Provenance and observation columns: rows that differ only in these are the same record.
_NOT_CONTENT = {"dataset", "reader", "source_file", "ingested_at", "probed_at", "raw", "snapshot_id"}
_CONFLICT_NOUNS = {"posts": "post ids", "account_labels": "account label keys"}


def _count_dedupe(
    con: Any, table: str, fresh: str, keys: tuple[str, ...], stored: str | None, report: IngestReport
) -> None:
    """Count, per source file, the staged rows the commit drops as copies of an earlier staged row
    (in the run) and as already stored (in the case), and the kept keys whose copies differ in
    content: counted where the rows are dropped, by their own queries, apart from the rows written.
    Leaves the first staged row of each key in the temp table ``_firsts`` (seq), for the commit."""
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
    in_case: dict[str, tuple[int, int]] = {}
    if stored is not None:
        match = " AND ".join(f"e.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
        same = "".join(f" AND e.{c} IS NOT DISTINCT FROM s.{c}" for c in content)
        conflict = (
            f"count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {stored} e WHERE {match}{same}))"
            if content and table != "accounts"
            else "0"
        )
        rows = con.execute(
            f"SELECT s.source_file, count(*), {conflict} FROM {fresh} s "
            f"WHERE s._seq IN (SELECT seq FROM _firsts) AND EXISTS (SELECT 1 FROM {stored} e WHERE {match}) "
            "GROUP BY s.source_file"
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
        file_report.units_read += source.units_read
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
    source = (
        Source(path=Path(path), dataset=dataset, start=rng[0], end=rng[1])
        if rng
        else Source(path=Path(path), dataset=dataset)
    )
    reader = get_reader(reader_name)
    report = FileReport(path=path, reader=reader_name, dataset=dataset)
    sink = StagingSink(Path(staging), strict, progress)
    sink.start(source, reader, report, seq_base=seq_base)
    with _gc_paused():
        reader().read(source, sink)
        sink.finish_file()
    sink.close()
    counter.value = source.size if rng is None else rng[1] - rng[0]
    report.units_read = source.units_read
    return report.sink_counts()


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
        index, _, rng, first = min(errors, key=lambda e: e[:2])
        source = plan[index][0]
        line = None if first.line is None else first.line + _lines_before_part(source, rng)
        raise BadRecordError(source.name, line, first.reason)


def _merge_part(
    result: dict[str, Any], source: Source, rng: tuple[int, int] | None, file_report: FileReport, staged: Path
) -> None:
    file_report.add_sink_counts(result)
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
    saved: dict[str, Any] = {
        name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__
    }
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
