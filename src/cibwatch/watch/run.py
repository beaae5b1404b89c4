"""The watch loop: follow the sources, ingest what they gained in micro-batches, re-detect over
the window, alert.

Each batch is one ingest commit that carries the followed files' new offsets (``state``), so a
``watch`` killed at any point and started again reads every line once: nothing lost, nothing
counted twice. Detection runs once the follower has caught up with its sources, or every
``detect_every`` batches while it works off a backlog.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cibwatch.coord import CoordParams
from cibwatch.errors import CaseError, ConfigError, ReconciliationError
from cibwatch.ingest import IngestReport, Reader, Source, get_reader, ingest_sources
from cibwatch.ingest.registry import sniff_format
from cibwatch.ingest.source import dataset_name
from cibwatch.store.case import Case, crash_point
from cibwatch.store.wait import connect_waiting
from cibwatch.watch.alerts import Alerter
from cibwatch.watch.follow import (
    MAX_BATCH_BYTES,
    STDIN,
    Offset,
    Range,
    StdinSpool,
    check_sources,
    expand_sources,
    identity_of,
    pending_range,
)
from cibwatch.watch.state import compact_offsets, compact_parts, load_offsets, offsets_writer
from cibwatch.watch.window import WindowRun, detect_window

WATCH_DIR = "watch"
WATCH_LOCK = "watch.lock"


@dataclass(frozen=True)
class WatchParams:
    """How to watch. ``window``: seconds of posts each detection looks at (event time);
    ``batch_seconds``: the pause between looks at the sources when caught up;
    ``stop_when_idle``: stop once no source gained a line for this many seconds (None: never);
    ``keep_coactions``: carry co-actions between detections (``coord.incremental``)."""

    format: str = "auto"
    window: float = 24 * 3600.0
    batch_seconds: float = 5.0
    stop_when_idle: float | None = None
    detect_every: int = 10
    max_batch_bytes: int = MAX_BATCH_BYTES
    coord: CoordParams = field(default_factory=CoordParams)
    strict: bool = False
    tz: str = "UTC"
    keep_coactions: bool = False

    def validate(self) -> WatchParams:
        if not self.window > 0:
            raise ConfigError(f"--window must be a positive number of seconds. Got {self.window} instead.")
        if self.batch_seconds < 0:
            raise ConfigError(f"--batch-seconds must be 0 or more. Got {self.batch_seconds} instead.")
        if self.stop_when_idle is not None and self.stop_when_idle < 0:
            raise ConfigError(
                f"--stop-when-idle must be 0 or more seconds. Got {self.stop_when_idle} instead."
            )
        if self.detect_every < 1:
            raise ConfigError(f"--detect-every must be 1 or more batches. Got {self.detect_every} instead.")
        if self.format != "auto":
            get_reader(self.format)
        return self


@dataclass(frozen=True)
class BatchReport:
    """One committed batch: its number, the files' line ranges and where their records went."""

    batch: int
    ranges: list[Range]
    ingest: IngestReport


@dataclass
class WatchReport:
    """Totals of a watch, each summed from the batches' own ingest counts."""

    batches: int = 0
    units_read: int = 0
    posts_stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reconciles: bool = True
    detections: int = 0
    alerts: int = 0
    alerts_held: int = 0
    last_window: WindowRun | None = None
    seconds: float = 0.0

    def add(self, report: IngestReport) -> None:
        self.batches += 1
        self.units_read += report.total("units_read")
        self.posts_stored += sum(f.stored["posts"] for f in report.files)
        self.duplicates += report.total("duplicates")
        self.quarantined += report.total("quarantine_stored") + report.total("quarantine_duplicates")
        self.reconciles = self.reconciles and report.reconciles


def watch(
    sources: Sequence[str | Path],
    case_dir: str | Path,
    params: WatchParams | None = None,
    *,
    alert: Callable[[str], None] = print,
    webhook: str | None = None,
    serve_url: str = "http://127.0.0.1:8000",
    max_alerts_per_minute: int = 10,
    on_batch: Callable[[BatchReport], None] | None = None,
    on_detect: Callable[[WindowRun], None] | None = None,
    stop: threading.Event | None = None,
    stdin: IO[bytes] | None = None,
) -> WatchReport:
    """Follow ``sources`` (files, folders, ``-``) into the case at ``case_dir`` until stopped.

    >>> watch(["stream.jsonl"], "out/case", WatchParams(window=3600, stop_when_idle=30))  # doctest: +SKIP
    WatchReport(batches=12, ...)
    """
    params = (params or WatchParams()).validate()
    check_sources(sources)
    started = time.perf_counter()
    stop = stop or threading.Event()
    case = Case.create(case_dir)
    report = WatchReport()
    with _watch_lock(case):
        compact_offsets(case)
        offsets, batch = load_offsets(case)
        spool_dir = case.root / WATCH_DIR
        spool = StdinSpool(spool_dir, stdin).start() if STDIN in [str(s) for s in sources] else None
        alerter = Alerter(
            case, alert, webhook=webhook, serve_url=serve_url, max_per_minute=max_alerts_per_minute
        )
        readers: dict[str, type[Reader]] = {}
        last_data = time.monotonic()
        since_detect = 0
        dirty = case.has_table("posts")  # a restart re-detects what the case holds
        while not stop.is_set():
            ranges = _pending(sources, spool_dir, offsets, params.max_batch_bytes)
            if ranges:
                batch += 1
                plan = [(_source(r, sources), _reader(r, readers, params.format)) for r in ranges]
                ingested = ingest_sources(
                    case,
                    plan,
                    strict=params.strict,
                    tz=params.tz,
                    before_publish=offsets_writer([r.after for r in ranges], batch),
                )
                crash_point("watch:batch")
                offsets.update({r.after.identity: r.after for r in ranges})
                compact_parts(case)  # a part per batch and table: merged in tiers, reads stay quick
                report.add(ingested)
                if not ingested.reconciles:  # committed with its offsets: a restart goes on after it
                    raise ReconciliationError(
                        f"batch {batch} into {case.root} does not reconcile "
                        f"({'; '.join(ingested.imbalances())}): a record was lost or counted twice. "
                        "The case holds the batch; please report this with the input's format "
                        "(it is a bug in cibwatch)."
                    )
                if on_batch is not None:
                    on_batch(BatchReport(batch, ranges, ingested))
                last_data = time.monotonic()
                since_detect += 1
                dirty = dirty or any(f.stored["posts"] for f in ingested.files)
            behind = any(r.more for r in ranges)
            if dirty and (not behind or since_detect >= params.detect_every):
                # Takes turns with `cibwatch serve` for case.duckdb, and gives it back after.
                connect_waiting(case)
                try:
                    window_run = detect_window(
                        case, params.window, params.coord, keep_coactions=params.keep_coactions
                    )
                    crash_point("watch:detected")
                    report.alerts += len(alerter.check())
                finally:
                    case.close()
                report.detections += 1
                report.last_window = window_run
                report.alerts_held = alerter.held
                if on_detect is not None:
                    on_detect(window_run)
                dirty, since_detect = False, 0
            if ranges:
                continue
            if alerter.waiting:  # alerts the rate limit held: out once it allows, new data or not
                report.alerts += len(alerter.check())
                report.alerts_held = alerter.held
            stdin_ended = spool is not None and spool.done.is_set() and len(sources) == 1
            if stdin_ended and not _pending(sources, spool_dir, offsets, params.max_batch_bytes):
                break  # standard input ended and all of it is in the case
            idle = time.monotonic() - last_data
            if params.stop_when_idle is not None and idle >= params.stop_when_idle:
                break
            stop.wait(params.batch_seconds)
    case.close()
    report.seconds = time.perf_counter() - started
    return report


def _pending(
    sources: Sequence[str | Path], spool_dir: Path, offsets: dict[str, Offset], max_bytes: int
) -> list[Range]:
    ranges = []
    seen: set[str] = set()
    for path in expand_sources(sources, spool_dir):
        try:
            identity = identity_of(path)
        except FileNotFoundError:
            continue
        if identity in seen:  # one file named twice (a file and its folder)
            continue
        seen.add(identity)
        found = pending_range(path, offsets.get(identity), max_bytes)
        if found is not None:
            ranges.append(found)
    # A followed file rotated away from a file source's name (stream.jsonl → stream.jsonl.1): its
    # last lines are read where it now is, in the same folder. Folder sources list it anyway.
    folders = {Path(s).parent for s in sources if str(s) != STDIN and not Path(s).is_dir()}
    for identity, offset in offsets.items():
        if identity in seen or Path(offset.path).parent not in folders:
            continue
        moved_to = _find_rotated(identity, Path(offset.path))
        if moved_to is not None:
            found = pending_range(moved_to, offset, max_bytes)
            if found is not None:
                ranges.append(found)
    return ranges


def _find_rotated(identity: str, last_path: Path) -> Path | None:
    """Where the file ``identity`` last seen at ``last_path`` is now, in the same folder (or None)."""
    try:
        if identity_of(last_path) == identity:
            return last_path
    except FileNotFoundError:
        pass
    with contextlib.suppress(OSError):
        for candidate in last_path.parent.iterdir():
            with contextlib.suppress(OSError):
                if candidate.is_file() and identity_of(candidate) == identity:
                    return candidate
    return None


def _source(r: Range, sources: Sequence[str | Path]) -> Source:
    return Source(
        path=r.path, dataset=_dataset(r.path, sources), start=r.start, end=r.end, first_line=r.first_line
    )


def _dataset(path: Path, sources: Sequence[str | Path]) -> str:
    """The dataset a followed file's rows carry: its folder's name when a folder was given (rotated
    files keep one dataset), else the file's own; ``stdin`` for standard input."""
    for item in sources:
        if str(item) == STDIN:
            continue
        if Path(item).is_dir() and path.parent == Path(item):
            return Path(item).resolve().name
        if path.parent == Path(item).parent and path.name.startswith(Path(item).name):
            return dataset_name(Path(item))  # rotated: stream.jsonl.1 keeps stream.jsonl's dataset
    return "stdin" if path.parent.name == WATCH_DIR else dataset_name(path)


def _reader(r: Range, readers: dict[str, type[Reader]], format: str) -> type[Reader]:
    """The file's reader: --format, or sniffed once from its start and kept for its identity."""
    identity = r.after.identity
    if identity not in readers:
        readers[identity] = get_reader(format) if format != "auto" else sniff_format(Source(r.path, "sniff"))
    return readers[identity]


@contextlib.contextmanager
def _watch_lock(case: Case) -> Iterator[None]:
    """One watch per case: a second one would read the same lines again."""
    folder = case.root / WATCH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / WATCH_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CaseError(
                f"another `cibwatch watch` is following into {case.root}; stop it first"
            ) from None
        yield
    finally:
        os.close(fd)
