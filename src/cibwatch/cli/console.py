"""Shared console objects and the rich progress bar that stages' ``progress=`` callbacks feed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

console = Console()
err_console = Console(stderr=True)


@contextmanager
def file_progress(enabled: bool = True) -> Iterator[Any]:
    """A callback for ingest-style progress events (file, bytes_total, bytes_done, records)."""
    if not enabled:
        yield None
        return
    progress = Progress(
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

    def callback(event: dict[str, Any]) -> None:
        name = event["file"]
        if name not in tasks:
            label = name if len(name) < 40 else "…" + name[-39:]
            tasks[name] = progress.add_task(label, total=event.get("bytes_total"), records=0)
        fields = {"completed": event["bytes_done"]} if "bytes_done" in event else {}
        if "records" in event:
            fields["records"] = event["records"]
        progress.update(tasks[name], **fields)

    with progress:
        yield callback


@contextmanager
def step_progress(enabled: bool = True) -> Iterator[Any]:
    """A callback for stage progress events: {"step": name, "done": n, "total": n or None}."""
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
    )
    tasks: dict[str, TaskID] = {}

    def callback(event: dict[str, Any]) -> None:
        step = event["step"]
        if step not in tasks:
            tasks[step] = progress.add_task(step, total=event.get("total"))
        progress.update(tasks[step], completed=event.get("done", 0), total=event.get("total"))

    with progress:
        yield callback
