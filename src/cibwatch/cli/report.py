"""``cibwatch report``."""

from __future__ import annotations

from pathlib import Path

import typer

from cibwatch.cli.console import console, step_progress
from cibwatch.store.case import open_case


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    case: Path = typer.Option(..., "--case", help="The case directory to report on."),
    out: Path | None = typer.Option(
        None, "--out", help="The HTML file to write (default: CASE/report.html)."
    ),
    top: int = typer.Option(200, "--top", min=1, help="Accounts listed in the accounts table."),
    inline_js: bool = typer.Option(
        False, "--inline-js", help="Put plotly.js (~4.6 MB) inside the HTML instead of beside it."
    ),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG figures (faster)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write one HTML report of the case (opens from disk, loads nothing), plus PNG figures for papers."""
    # Imported here: matplotlib and igraph cost every other command a second of start-up.
    from cibwatch.report import Limits, render
    from cibwatch.report.render import files_dir

    with open_case(case) as opened, step_progress(enabled=not quiet) as progress:
        path = render(
            opened,
            out,
            limits=Limits(accounts=top),
            inline_js=inline_js,
            figures=not no_figures,
            progress=progress,
        )
    console.print(f"Wrote [bold]{path}[/] (figures and scripts in {files_dir(path)}/)", highlight=False)
