"""``cibwatch export``: a case's outputs to hand to researchers or journalists, accounts pseudonymized."""

from __future__ import annotations

from pathlib import Path

import typer

from cibwatch.cli.console import console, step_progress


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)


def export_command(
    case: Path = typer.Argument(..., help="The case directory (scan's DIR/case)."),
    out: Path = typer.Option(..., "--out", help="A new or empty folder for the export."),
    pseudonymize: bool = typer.Option(
        False,
        "--pseudonymize",
        help="Replace account and post ids by keyed hashes and remove unflagged accounts' names and "
        "texts (docs/export.md). Without it the files hold real ids: share them only within the case team.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace what a non-empty --out holds."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Write a case's accounts.csv, campaigns.csv, coord/ and report.html, and a README.txt of changes."""
    from cibwatch.share import export_case

    with step_progress(enabled=not quiet) as progress:
        result = export_case(
            case, out, pseudonymize=pseudonymize, force=force, report=not no_report, progress=progress
        )
    if result.pseudonymized and result.counts is not None:
        c = result.counts
        console.print(
            f"Pseudonymized export written to [bold]{result.out}[/] with key {result.key_id}: "
            f"{c.accounts:,} accounts and {c.posts:,} posts pseudonymized; {c.flagged:,} flagged accounts "
            f"keep their names and texts ({c.texts_removed:,} other post texts removed).",
            highlight=False,
        )
    else:
        console.print(
            f"Export written to [bold]{result.out}[/] with REAL account ids, names and texts "
            "(pass --pseudonymize to share it outside the case team).",
            highlight=False,
        )
    console.print(f"  what it holds and what was changed: {result.out / 'README.txt'}", highlight=False)
