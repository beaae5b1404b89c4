"""The staging sink: records from readers, as rows in Arrow batches, spilled to staging Parquet.

It counts what readers hand it (units' outcomes, records per table, quarantined ones), drops
profiles unchanged since an account's last one in the run, and quarantines values Arrow refuses.
"""

from __future__ import annotations

import json
import operator
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.errors import BadRecordError
from cibwatch.ingest.registry import SKIPPED, UNIT_USED, Reader
from cibwatch.ingest.report import RECORD_TABLES, FileReport
from cibwatch.ingest.source import Source
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.values import stable_id

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
# Snapshot identity: the normalized profile values, not when they were seen, the raw record
# or provenance; an unchanged profile seen again is a duplicate.
_SNAPSHOT_FIELDS = [
    f.name
    for f in schema.ACCOUNTS
    if f.name not in {"snapshot_id", "raw", "probed_at", "dataset", "reader", "source_file", "ingested_at"}
]
_snapshot_values = operator.itemgetter(*_SNAPSHOT_FIELDS)


class StagingSink:
    """Collects records as rows (tuples in staged-column order) and spills them to staging Parquet."""

    def __init__(
        self, staging: Path, strict: bool, progress: Progress | None, ingested_at: int | None = None
    ) -> None:
        self._staging = staging
        self._strict = strict
        self._progress = progress
        self._writers: dict[str, pq.ParquetWriter] = {}
        tables = (*RECORD_TABLES, "quarantine")
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
        # Epoch ms; given by a run whose parts are read apart (Spark tasks) so that they share it.
        self._ingested_at = int(time.time() * 1000) if ingested_at is None else ingested_at

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

    def post_batch(self, posts: pa.Table, units: int) -> None:
        """Posts as columns of ``schema.POST_ROW`` (``created_at`` in epoch ms), given by ``units``
        input units that were each read whole into them: the columnar fast path of large tables.
        Arrow built the columns, so every value is storable."""
        assert self.source is not None and self.report is not None
        self._flush("posts")  # rows handed over before these keep their place in file order
        self._unit = self.source.units_read
        self.report.units_used += units
        if not posts.num_rows:
            return
        self._handed_over("posts", posts.num_rows)
        types = self._batch_schemas["posts"]
        columns = {
            k: posts.column(k).combine_chunks().cast(types.field(k).type) for k in self._row_fields["posts"]
        }
        self._write("posts", columns, posts.num_rows)

    def account(self, record: dict[str, Any]) -> None:
        """An account snapshot; ``raw`` may be the original record as a dict, serialized only if kept."""
        record.setdefault("platform", self.reader.platform)  # type: ignore[union-attr]
        if self.source.units_read != self._unit:  # type: ignore[union-attr]
            self._unit_gave_records()
        values = _snapshot_key_values(record)
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
        self._handed_over(table, len(rows))
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
        self._write(table, arrays, len(rows))
        rows.clear()
        lines.clear()

    def _write(self, table: str, arrays: dict[str, pa.Array], n: int) -> None:
        """Stage ``n`` records given as columns of the staged schema (provenance may be missing)."""
        assert self.source is not None and self.reader is not None
        batch_schema = self._batch_schemas[table]
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

    def _handed_over(self, table: str, n: int) -> None:
        assert self.source is not None and self.report is not None
        if table != "quarantine":
            self.report.emitted[table] += n  # handed over by the reader: counted here, once
        self._records += n
        if self._progress is not None:
            source = self.source
            self._progress(
                ProgressEvent(
                    "ingest", source.name, source.bytes_read, source.size, "bytes", {"records": self._records}
                )
            )

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


def _snapshot_key_values(record: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return _snapshot_values(record)
    except KeyError:
        return tuple(record.get(k) for k in _SNAPSHOT_FIELDS)


_ACCOUNT_FIELDS = [f.name for f in schema.ACCOUNTS if f.name not in _SINK_COLUMNS]


def account_record(platform: str, **values: Any) -> dict[str, Any]:
    """A snapshot record with every field a reader gives (those not in ``values`` None), which
    ``StagingSink.account`` takes in C rather than field by field.

    >>> account_record("twitter", account_id="1", screen_name="a")["followers"] is None
    True
    """
    record = dict.fromkeys(_ACCOUNT_FIELDS)
    record["platform"] = platform
    record.update(values)
    return record


def profile_fingerprint(record: dict[str, Any]) -> int:
    """The fingerprint ``StagingSink.account`` gives a snapshot record (``platform`` set) by its
    values: a reader that keeps one snapshot for many copies asks ``profile_unchanged`` with it."""
    return hash(_snapshot_key_values(record))


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
