"""Shared console objects and the rich progress bar that stages' ``progress=`` callbacks feed.

Output that is not a terminal (a pipe, a file, a test runner) is not wrapped: rich would fold it at
80 columns and split words and paths (``decis ion``). Tables go through ``print_table``, which prints
the title on a line of its own, since rich wraps a title to its table's width.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store.case import Case, open_case
from cibwatch.store.wait import LOCK_WAIT_ENV, connect_waiting

# The width of output that is not a terminal: wide enough that no line of ours is ever folded.
UNWRAPPED_WIDTH = 1_000_000


class _Console(Console):
    """A rich console that wraps at the terminal's width, and not at all when it is not a terminal.

    "Not a terminal" is the output file's own answer (``isatty``): rich also counts ``FORCE_COLOR``
    or ``TTY_COMPATIBLE`` output as a terminal and takes ``COLUMNS`` as the width, which would fold
    a pipe or a CI log again. Only a ``width=`` given in code is kept.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_width = kwargs.get("width") is not None

    def _to_a_terminal(self) -> bool:
        isatty = getattr(self.file, "isatty", None)
        try:
            return bool(isatty is not None and isatty())
        except ValueError:  # a closed file, at the end of a test run
            return False

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if not self._fixed_width and not self._to_a_terminal():
            return ConsoleDimensions(UNWRAPPED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console: Console = _Console()
err_console: Console = _Console(stderr=True)


def print_table(table: Table, to: Console | None = None) -> None:
    """Print ``table`` with its title (plain text, never markup) on a line of its own, unwrapped."""
    title, table.title = table.title, None
    target = to or console
    if title:
        target.print(Text(str(title), style="table.title"), soft_wrap=True)
    target.print(table)


@contextmanager
def file_progress(enabled: bool = True) -> Iterator[Progress | None]:
    """A callback for ingest's progress events: a bar per file (the step) with its bytes and records."""
    if not enabled:
        yield None
        return
    progress = RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]:>10,} records"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def callback(event: ProgressEvent) -> None:
        name = event.step
        if name not in tasks:
            label = name if len(name) < 40 else "…" + name[-39:]
            tasks[name] = progress.add_task(label, total=event.total, records=0)
        fields: dict[str, Any] = {"completed": event.done}
        if "records" in event.detail:
            fields["records"] = event.detail["records"]
        progress.update(tasks[name], **fields)

    with progress:
        yield callback


@contextmanager
def step_progress(enabled: bool = True) -> Iterator[Progress | None]:
    """A callback for stages' progress events: a bar per step, at ``done`` of ``total``."""
    if not enabled:
        yield None
        return
    progress = RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
    )
    tasks: dict[str, TaskID] = {}
    summaries: set[str] = set()

    def callback(event: ProgressEvent) -> None:
        if event.step not in tasks:
            tasks[event.step] = progress.add_task(event.step, total=event.total)
        phase = event.detail.get("phase")
        description = f"{event.step}: {phase}" if phase else event.step
        progress.update(tasks[event.step], completed=event.done, total=event.total, description=description)
        summary = event.detail.get("summary")
        if summary and summary not in summaries:  # a finished part's figures, printed once
            summaries.add(str(summary))
            progress.console.print(f"  {summary}", highlight=False, markup=False)

    with progress:
        yield callback


@contextmanager
def open_case_waiting(case_dir: Path) -> Iterator[Case]:
    """The case, connected; waits politely while another process (the server) holds it."""

    def tell(seconds: float) -> None:
        err_console.print(
            f"waiting for the case… (another process holds {case_dir}; up to {seconds:g} s, "
            f"set {LOCK_WAIT_ENV} to change)",
            highlight=False,
        )

    with open_case(case_dir) as c:
        connect_waiting(c, on_wait=tell)
        yield c


# ``--map`` of every command that reads input files (ingest, scan, coord).
MAP_OPTION = typer.Option(
    None,
    "--map",
    help="Read any CSV/TSV/JSON Lines/Parquet table by naming its columns: "
    "'account=COL,time=COL[,text=COL,post=COL,…]' or '@mapping.toml' (docs/csv-formats.md).",
)

# ``--tz`` of the same commands: the zone of dates written without one.
TZ_OPTION = typer.Option(
    "UTC", "--tz", help="Zone of dates written without one, for every reader: UTC, Europe/Berlin, +05:30."
)
