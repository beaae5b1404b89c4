"""Reading the inputs into staging: in this process, or by a pool of worker processes, file by
file and each large uncompressed JSON Lines file in byte ranges of whole lines.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from cibwatch.errors import BadRecordError
from cibwatch.ingest.registry import Reader, get_reader
from cibwatch.ingest.report import FileReport
from cibwatch.ingest.sink import StagingSink
from cibwatch.ingest.source import Source, compression_of
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.values import default_zone

# A staged row's sequence number: file index, then part number, then the row's place in the part.
_FILE_SEQ_SHIFT = 40
_PART_SEQ_SHIFT = 34
# Inputs of at least this many bytes in all are read by worker processes; a file this large, split.
PARALLEL_MIN_BYTES = 64 << 20


def read_inputs(
    plan: list[tuple[Source, type[Reader]]],
    files: list[FileReport],
    staging: Path,
    workers: int,
    strict: bool,
    progress: Progress | None,
    tz: str = "UTC",
) -> None:
    """Read each (source, reader) of ``plan`` into ``staging``, counting into its ``files`` report:
    by a pool of ``workers`` processes when there is enough input to share, else in this process.
    Dates without a zone are read in ``tz`` (``values.default_zone``)."""
    parts = _parts(plan, workers)
    if workers > 1 and len(parts) > 1 and sum(s.size for s, _ in plan) >= PARALLEL_MIN_BYTES:
        _read_in_workers(plan, parts, files, staging, workers, strict, progress, tz)
    else:
        with default_zone(tz):
            _read_here(plan, files, staging, strict, progress)


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
    progress: Progress | None,
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
            progress(ProgressEvent("ingest", source.name, source.size, source.size, "bytes"))
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
    reader_settings: dict[str, Any],
    rng: tuple[int, int] | None,
    staging: str,
    seq_base: int,
    strict: bool,
    slot: int,
    tz: str,
) -> dict[str, Any]:
    """One part of the input, read in a worker process into its own staging folder."""
    counter = _worker_progress[slot]

    def progress(event: ProgressEvent) -> None:
        counter.value = event.done

    # A range's line numbers count from its start; the parent makes them the file's if it needs them.
    source = (
        Source(path=Path(path), dataset=dataset, start=rng[0], end=rng[1])
        if rng
        else Source(path=Path(path), dataset=dataset)
    )
    reader = get_reader(reader_name).configure(reader_settings)
    report = FileReport(path=path, reader=reader_name, dataset=dataset)
    sink = StagingSink(Path(staging), strict, progress)
    sink.start(source, reader, report, seq_base=seq_base)
    with _gc_paused(), default_zone(tz):
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
    progress: Progress | None,
    tz: str,
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
                args = (
                    source.name,
                    source.dataset,
                    reader.name,
                    reader.settings,
                    rng,
                    part_staging,
                    seq_base,
                    strict,
                    k,
                    tz,
                )
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
                        source = plan[index][0]
                        progress(ProgressEvent("ingest", source.name, source.size, source.size, "bytes"))
            if progress:
                done_bytes = [0] * len(plan)
                for k, (index, _, _) in enumerate(parts):
                    done_bytes[index] += counters[k].value
                for index, (source, _) in enumerate(plan):
                    if left[index]:
                        progress(
                            ProgressEvent("ingest", source.name, done_bytes[index], source.size, "bytes")
                        )
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


def _shift_quarantine_lines(part_staging: Path, lines_before: int) -> None:
    """A worker numbers lines from its range's start: make its quarantine rows name the file's lines."""
    path = part_staging / "quarantine.parquet"
    table = pq.read_table(path)
    line = table.column("line")
    table = table.set_column(table.schema.get_field_index("line"), "line", pc.add(line, lines_before))
    pq.write_table(table, path, compression="none")


# Process-wide state a read changes, each restored by its context manager however the read ends.


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Spawned processes re-import the parent's ``__main__`` (for the ``cibwatch`` command, the
    whole CLI: half a second each) unless it names no module and no file. Ingest workers need
    none of it."""
    main = sys.modules["__main__"]
    saved: dict[str, Any] = {
        name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__
    }
    try:
        main.__dict__["__spec__"] = None
        main.__dict__.pop("__file__", None)
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading.

    Readers allocate millions of short-lived containers and the sink holds batches of them;
    the collector's passes over those cost about half the read time, and records hold no cycles.
    """
    was_enabled = gc.isenabled()
    try:
        gc.disable()
        yield
    finally:
        if was_enabled:
            gc.enable()
