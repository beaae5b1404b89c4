"""``cibwatch ingest`` and ``cibwatch formats``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from cibwatch.cli.console import MAP_OPTION, TZ_OPTION, console, file_progress, print_table
from cibwatch.errors import ConfigError, ReconciliationError
from cibwatch.ingest import IngestReport, ingest, readers


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("formats")(formats_command)


def ingest_command(
    inputs: list[Path] = typer.Argument(..., help="Files or folders to read (.gz/.bz2/.xz/.zst are fine)."),
    case: Path | None = typer.Option(None, "--case", help="The case directory to create or add to."),
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
    mapping: str | None = MAP_OPTION,
    tz: str = TZ_OPTION,
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="'duckdb': into the case at --case; 'spark': the readers run on Spark (the active "
        'SparkSession or local) and write the lake at --lake (pip install "cibwatch[spark]").',
    ),
    lake: str | None = typer.Option(
        None,
        "--lake",
        help="--engine spark: a new folder or Hadoop URL (file://, hdfs://, s3a://) for the tables, "
        "as Parquet partitioned by dataset and day (docs/scale.md).",
    ),
) -> None:
    """Read INPUTS into the case at --case (or, on Spark, the lake at --lake): normalized,
    deduplicated, nothing lost."""
    if engine == "spark":
        if lake is None or case is not None:
            raise ConfigError("--engine spark writes a lake: pass --lake URL (and no --case).")
        from cibwatch.ingest.lake import ingest_to_lake

        report = ingest_to_lake(
            [str(p) for p in inputs],
            lake,
            format=format,
            dataset=dataset,
            strict=strict,
            mapping=mapping,
            tz=tz,
        )
    elif engine != "duckdb":
        raise ConfigError(f"Unknown --engine {engine!r}; pass --engine duckdb|spark.")
    elif case is None or lake is not None:
        raise ConfigError("Pass --case DIR (a lake, --lake URL, is written by --engine spark).")
    else:
        with file_progress(enabled=not quiet and not as_json) as progress:
            report = ingest(
                list(inputs),
                case,
                format=format,
                dataset=dataset,
                strict=strict,
                progress=progress,
                workers=workers,
                mapping=mapping,
                tz=tz,
            )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report)
    check_reconciles(report)


def print_report(report: IngestReport) -> None:
    """The summary: what each file held (units: rows, lines, documents) and where its records went."""
    table = Table(title=f"Ingested into {report.case}", title_justify="left")
    columns = ("file", "reader", "units read", "records", "stored", "dup. in run", "dup. in case")
    for col in (*columns, "conflicting", "quarantined"):
        table.add_column(col, justify="left" if col in ("file", "reader") else "right")
    for f in report.files:
        table.add_row(
            Path(f.path).name,
            f.reader,
            f"{f.units_read:,}",
            f"{f.records_emitted:,}",
            f"{f.records_stored:,}",
            f"{f.in_run_duplicates:,}",
            f"{f.in_case_duplicates:,}",
            f"{f.conflicting_duplicates:,}",
            f"{f.quarantined:,}",
        )
    attrs = ("units_read", "records_emitted", "records_stored", "in_run_duplicates", "in_case_duplicates")
    totals = [f"{report.total(a):,}" for a in (*attrs, "conflicting_duplicates", "quarantined")]
    table.add_row("[bold]total", "", *totals)
    print_table(table)
    for f in report.files[:20]:  # where each unit (row, line, document) went
        other = "".join(f" + {n:,} {name}" for name, n in sorted(f.units_other.items()))
        console.print(
            f"{escape(Path(f.path).name)}: {f.units_read:,} units read = {f.units_used:,} gave records + "
            f"{f.units_quarantined:,} quarantined{other}"
        )
    for note in report.notes:
        console.print(f"note: {note}")
    if report.reconciles:
        console.print(
            "every unit read gave records, was quarantined, merged or was a duplicate, and every record "
            f"was stored or dropped as a duplicate: [green]reconciles[/] ({report.seconds:.1f} s)"
        )
    else:
        for problem in report.imbalances():
            console.print(f"[bold red]DOES NOT RECONCILE: {escape(problem)}[/]")
    if report.total("quarantined"):
        console.print("Quarantined records are in the case's [bold]quarantine[/] table with their reasons.")


def check_reconciles(report: IngestReport) -> None:
    """Raise ReconciliationError (non-zero exit) unless the report's counts balance."""
    if not report.reconciles:
        raise ReconciliationError(
            f"ingest into {report.case} does not reconcile ({'; '.join(report.imbalances())}): a record "
            "was lost or counted twice. The case holds what was stored; please report this with the "
            "input's format (it is a bug in cibwatch)."
        )


def formats_command(
    explain_file: Path | None = typer.Option(
        None, "--explain", help="Show how FILE would be read (layout, column map, 5 rows), without ingesting."
    ),
    mapping: str | None = MAP_OPTION,
) -> None:
    """List the input formats cibwatch reads, or (--explain FILE) how one file would be read."""
    if explain_file is not None:
        _print_explanation(explain_file, mapping)
        return
    table = Table()
    table.add_column("format")
    table.add_column("platform")
    table.add_column("what")
    for name, cls in sorted(readers().items()):
        table.add_row(name, cls.platform, cls.description)
    print_table(table)


def _print_explanation(path: Path, mapping: str | None) -> None:
    from cibwatch.ingest.explain import explain, field_help

    result = explain(path, mapping)
    if result.note:
        console.print(escape(result.note), highlight=False)
        console.print("Previewed with the suggested map:", highlight=False)
    console.print(f"[bold]{escape(str(path))}[/]: read as [bold]{result.reader}[/]", highlight=False)
    if result.mapping:
        columns = Table(title="column → field", title_justify="left")
        for name in ("column", "field", "what it holds"):
            columns.add_column(name)
        for name, column in result.mapping.items():
            columns.add_row(escape(column), name, escape(field_help(name)))
        print_table(columns)
        unused = [c for c in result.columns if c.lower() not in {v.lower() for v in result.mapping.values()}]
        if unused:
            console.print(f"columns not read: {escape(', '.join(unused))}", highlight=False)
        console.print(f"--map {escape(result.map_spec)}", highlight=False)
    preview = Table(title=f"first {len(result.rows)} normalized posts", title_justify="left")
    shown = (
        "post_id",
        "account_id",
        "created_at",
        "kind",
        "ref_post_id",
        "ref_account_id",
        "text",
        "hashtags",
    )
    for name in shown:
        preview.add_column(name)
    for row in result.rows:
        values = []
        for name in shown:
            value = row.get(name)
            if name == "created_at" and value is not None:
                value = datetime.fromtimestamp(value / 1000, UTC).isoformat().replace("+00:00", "Z")
            text = "" if value is None else str(value)
            values.append(escape(text if len(text) <= 40 else text[:39] + "…"))
        preview.add_row(*values)
    print_table(preview)
    for line, reason in result.quarantined:
        console.print(f"would quarantine line {line}: {escape(reason)}", highlight=False)
