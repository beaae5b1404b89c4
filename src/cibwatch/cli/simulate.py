"""``cibwatch simulate``: write a simulated platform with planted operations and its ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cibwatch.cli.console import console, print_table, step_progress
from cibwatch.sim import SCENARIOS, TACTICS, simulate


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)


def simulate_command(
    out: Path = typer.Option(
        ..., "--out", help="Folder to write posts/*.jsonl, truth_*.csv and manifest.json."
    ),
    scenario: str = typer.Option("demo", "--scenario", help=f"One of: {', '.join(SCENARIOS)}."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    accounts: int | None = typer.Option(
        None, "--accounts", help="Organic accounts (default: the scenario's)."
    ),
    days: int | None = typer.Option(None, "--days", help="Days simulated (default: the scenario's)."),
    format: str = typer.Option(
        "v2", "--format", help="v2 (X API v2 pages, as twarc2 writes them) or v1 (v1.1)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Windows written at once (default: one per core, at most 4); the output is the same.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Simulate a platform with influence operations and traps; ground truth in truth_accounts.csv."""
    with step_progress(enabled=not quiet and not as_json) as progress:
        report = simulate(
            scenario,
            out=out,
            seed=seed,
            accounts=accounts,
            days=days,
            format=format,
            workers=workers,
            progress=progress,
        )
    if as_json:
        summary = {k: v for k, v in vars(report).items() if k != "files"}
        typer.echo(json.dumps({**summary, "files": len(report.files)}, indent=2))
        return
    table = Table(
        title=f"Simulated {report.scenario!r} (seed {report.seed}) into {report.out}", title_justify="left"
    )
    table.add_column("posts", justify="right")
    for kind in report.by_kind:
        table.add_column(kind, justify="right")
    table.add_column("accounts", justify="right")
    table.add_column("posts/s", justify="right")
    table.add_row(
        f"{report.posts:,}",
        *(f"{v:,}" for v in report.by_kind.values()),
        f"{report.accounts:,}",
        f"{report.posts_per_second:,.0f}",
    )
    print_table(table)
    console.print(
        f"Tactics and traps: {', '.join(TACTICS)}.\n"
        f"Read it with: [bold]cibwatch ingest {Path(report.out) / 'posts'} --case CASE[/]; "
        f"truth in {Path(report.out) / 'truth_accounts.csv'}"
    )
