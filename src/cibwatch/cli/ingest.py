"""``cibwatch ingest`` and ``cibwatch formats``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cibwatch.cli.console import console, file_progress
from cibwatch.ingest import IngestReport, ingest, readers


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("formats")(formats_command)


def ingest_command(
    inputs: list[Path] = typer.Argument(..., help="Files or folders to read (.gz/.bz2/.xz/.zst are fine)."),
    case: Path = typer.Option(..., "--case", help="The case directory to create or add to."),
    format: str = typer.Option("auto", "--format", help="Input format; 'auto' sniffs each file."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset name (default: each file's name)."),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Stop at the first bad record (exit code 2); records kept aside on purpose "
        "('skipped: …', e.g. Bluesky likes) are not bad.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes for inputs of 64 MB or more (default: cores, ≤ 4)."
    ),
) -> None:
    """Read INPUTS into the case at --case: normalized, deduplicated, nothing lost."""
    with file_progress(enabled=not quiet and not as_json) as progress:
        report = ingest(
            list(inputs),
            case,
            format=format,
            dataset=dataset,
            strict=strict,
            progress=progress,
            workers=workers,
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report)


def print_report(report: IngestReport) -> None:
    table = Table(title=f"Ingested into {report.case}", title_justify="left")
    for col in ("file", "reader", "read", "stored", "duplicates", "quarantined"):
        table.add_column(col, justify="left" if col in ("file", "reader") else "right")
    for f in report.files:
        name = Path(f.path).name
        table.add_row(
            name,
            f.reader,
            f"{f.records_read:,}",
            f"{f.records_stored:,}",
            f"{f.duplicates:,}",
            f"{f.quarantined:,}",
        )
    table.add_row(
        "[bold]total",
        "",
        f"{report.total('records_read'):,}",
        f"{report.total('records_stored'):,}",
        f"{report.total('duplicates'):,}",
        f"{report.total('quarantined'):,}",
    )
    console.print(table)
    verdict = "[green]reconciles[/]" if report.reconciles else "[red]DOES NOT reconcile[/]"
    console.print(f"read = stored + duplicates + quarantined: {verdict} ({report.seconds:.1f} s)")
    if report.total("quarantined"):
        console.print("Quarantined records are in the case's [bold]quarantine[/] table with their reasons.")


def formats_command() -> None:
    """List the input formats cibwatch reads."""
    table = Table()
    table.add_column("format")
    table.add_column("platform")
    table.add_column("what")
    for name, cls in sorted(readers().items()):
        table.add_row(name, cls.platform, cls.description)
    console.print(table)
