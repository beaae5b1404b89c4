"""The ingest driver: expand the inputs, choose each file's reader, read them into staging
(``parallel``, through the ``sink``), then one deduplicating ``commit`` into the case; the
``IngestReport`` says where every record went (``report``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cibwatch.errors import ConfigError, InputFormatError
from cibwatch.ingest.commit import commit_staged
from cibwatch.ingest.mapping import ColumnMap
from cibwatch.ingest.parallel import read_inputs
from cibwatch.ingest.registry import Reader, get_reader, sniff_format
from cibwatch.ingest.report import FileReport, IngestReport
from cibwatch.ingest.source import Source, dataset_name
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.values import zone

if TYPE_CHECKING:
    from cibwatch.store.case import Case, PartsCommit


def ingest(
    inputs: list[str | Path],
    case_dir: str | Path,
    *,
    format: str = "auto",
    dataset: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    mapping: ColumnMap | str | None = None,
    tz: str = "UTC",
) -> IngestReport:
    """Read ``inputs`` into the case at ``case_dir`` (created if needed).

    ``mapping`` (a ``ColumnMap`` or ``--map`` text, ``field=column,…`` or ``@file.toml``) reads
    every input as a table whose columns it names (``formats/mapped.py``) instead of a known format.
    ``tz``: the zone of dates written without one, for every reader (UTC; a map's own ``tz`` wins).

    Inputs of 64 MB or more are read by ``workers`` processes (default: the number of cores, at
    most 4): file by file, and each large uncompressed JSON Lines file in ranges of whole lines.

    >>> report = ingest(["tweets.jsonl.gz"], "out/case")   # doctest: +SKIP
    >>> report.reconciles                                  # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    paths = expand_inputs(inputs)
    try:
        zone(tz)
    except ValueError as exc:
        raise ConfigError(f"--tz: {exc}") from None
    reader = _mapped_reader(mapping, format) if mapping is not None else None
    from cibwatch.store.case import Case

    new_case = not (Path(case_dir) / "case.json").exists()
    case = Case.create(case_dir)
    try:
        return _ingest_into(case, paths, reader or format, dataset, strict, progress, workers, started, tz)
    except BaseException:
        if new_case:  # a run that fails before its commit leaves no empty case behind
            _remove_if_empty_case(case.root)
        raise


def _ingest_into(
    case: Case,
    paths: list[Path],
    format: str | type[Reader],
    dataset: str | None,
    strict: bool,
    progress: Progress | None,
    workers: int | None,
    started: float,
    tz: str,
) -> IngestReport:
    plan = plan_inputs(paths, format, dataset)
    workers = max(1, workers if workers is not None else min(os.cpu_count() or 1, 4))
    return ingest_sources(
        case, plan, strict=strict, progress=progress, workers=workers, tz=tz, started=started
    )


def plan_inputs(
    paths: list[Path], format: str | type[Reader], dataset: str | None
) -> list[tuple[Source, type[Reader]]]:
    """Each file's ``Source`` and reader: ``format`` (a name, "auto" to sniff, or a reader)."""
    plan: list[tuple[Source, type[Reader]]] = []
    for path in paths:
        source = Source(path=path, dataset=dataset or dataset_name(path))
        if not isinstance(format, str):
            reader = format
        else:
            reader = sniff_format(source) if format == "auto" else get_reader(format)
        plan.append((source, reader))
    return plan


def ingest_sources(
    case: Case,
    plan: list[tuple[Source, type[Reader]]],
    *,
    strict: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
    tz: str = "UTC",
    started: float | None = None,
    before_publish: Callable[[PartsCommit], None] | None = None,
) -> IngestReport:
    """Read each (source, reader) of ``plan`` into ``case`` in one deduplicating commit.

    A source may be a byte range of whole lines (``Source.start``/``end``/``first_line``): how
    ``cibwatch watch`` ingests what a followed file gained. ``before_publish`` may add parts of
    its own to the commit (``PartsCommit.add``), which are published atomically with the rows.

    >>> plan = [(Source(Path("a.jsonl"), "a", start=0, end=4096), get_reader("twitter-v2"))]  # doctest: +SKIP
    >>> ingest_sources(open_case("out/case"), plan).reconciles                                # doctest: +SKIP
    True
    """
    from cibwatch.store.case import crash_point

    started = time.perf_counter() if started is None else started
    report = IngestReport(case=str(case.root))
    report.files = [FileReport(path=s.name, reader=r.name, dataset=s.dataset) for s, r in plan]
    # A folder of the run's own, locked while it lives: the next run removes it if this one dies.
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(case.close)
        staging = cleanup.enter_context(case.run_folder())
        if progress:
            for source, _ in plan:
                progress(ProgressEvent("ingest", source.name, 0, source.size, "bytes"))
        read_inputs(plan, report.files, staging, workers, strict, progress, tz)
        crash_point("read")
        with case.locked():  # one commit at a time; what dead runs left is finished or removed first
            case.recover()
            commit_staged(case, staging, report, before_publish=before_publish)
    report.seconds = time.perf_counter() - started
    return report


def _mapped_reader(mapping: ColumnMap | str, format: str) -> type[Reader]:
    """The mapped reader made with ``mapping``; --format must then be auto or mapped."""
    if format not in ("auto", "mapped"):
        raise InputFormatError(
            f"--map reads any table: leave out --format {format} (or pass --format mapped)"
        )
    column_map = ColumnMap.parse(mapping) if isinstance(mapping, str) else mapping
    return get_reader("mapped").configure(column_map.as_settings())


def _remove_if_empty_case(root: Path) -> None:
    """Remove the case folder this run created if it holds no table part yet."""
    if any((root / "tables").rglob("*.parquet")) or (root / "case.duckdb").exists():
        return
    shutil.rmtree(root, ignore_errors=True)


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """The files to read for ``inputs``: each file as given, and each folder's files (recursively,
    sorted, hidden ones left out).

    Raises ``InputFormatError`` for an input that does not exist, a folder that is a cibwatch
    case (not an input), and inputs that come to no file at all.

    >>> expand_inputs(["tests/data/twitter-v1"])  # doctest: +SKIP
    [PosixPath('tests/data/twitter-v1/sample.jsonl'), ...]
    """
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
