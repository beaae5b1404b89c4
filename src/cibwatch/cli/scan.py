"""``cibwatch scan``: the main job, from input files to accounts.csv, campaigns.csv and report.html."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from cibwatch.cli.console import (
    MAP_OPTION,
    TZ_OPTION,
    console,
    err_console,
    file_progress,
    print_table,
    step_progress,
)
from cibwatch.cli.coord import ENGINE_OPTION, parse_windows
from cibwatch.errors import ConfigError, ReconciliationError
from cibwatch.schema import FLAGGED_TIERS

DEMO_SEED = 7


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


def scan_command(
    inputs: list[Path] = typer.Argument(None, help="Input files, or a case directory (omit with --demo)."),
    out: Path = typer.Option(
        ..., "--out", help="Output directory: case/, accounts.csv, campaigns.csv, report.html."
    ),
    demo: bool = typer.Option(
        False, "--demo", help="Run on the bundled simulated demo and score against its truth."
    ),
    format: str = typer.Option("auto", "--format", help="Input format; 'auto' sniffs each file."),
    mapping: str | None = MAP_OPTION,
    tz: str = TZ_OPTION,
    traces: str | None = typer.Option(
        None, "--traces", help="Comma-separated coordination traces (default set)."
    ),
    window: str | None = typer.Option(
        None,
        "--window",
        help="Co-action window: default each trace's own; seconds or 'auto' for all; "
        "per trace 'repost=60,url=auto,default=30'.",
    ),
    policy: Path | None = typer.Option(
        None, "--policy", help="Recommendation policy TOML (default: shipped)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    engine: str = ENGINE_OPTION,
    append: bool = typer.Option(
        False,
        "--append",
        help="Let --out be a folder that is not empty: ingest into its case and rewrite its outputs.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Ingest, score bots, detect coordination, assemble campaigns and write the report, in one go."""
    from cibwatch.scan import output_folder, scan

    if demo == bool(inputs):
        raise ConfigError("Give input files or --demo (not both, not neither).")
    window_value = parse_windows(window)
    trace_list = [t.strip() for t in traces.split(",")] if traces else None
    # Refuses a non-empty --out without --append; a failed run leaves no partial folder behind.
    with output_folder(out, append=append):
        if demo:
            from cibwatch.sim import simulate

            err_console.print("Generating the demo world (simulated platform with planted operations)…")
            simulate("demo", out=out / "demo-input", seed=DEMO_SEED)
            inputs = [p for p in sorted((out / "demo-input").rglob("*.jsonl"))]
        with file_progress(enabled=not quiet) as fprog, step_progress(enabled=not quiet) as sprog:
            result = scan(
                list(inputs),
                out,
                format=format,
                mapping=mapping,
                tz=tz,
                traces=trace_list,
                window=window_value,
                policy=policy,
                report=not no_report,
                engine=engine,
                append=True,  # output_folder has checked --out; the demo's input is in it
                progress=sprog,
                file_progress=fprog,
            )
        if demo:
            from cibwatch.sim import render_scorecard, scorecard

            accounts = pl.read_csv(result.files["accounts"], schema_overrides={"account_id": pl.String})
            flagged = accounts.filter(pl.col("recommendation").is_in(FLAGGED_TIERS))["account_id"]
            card = scorecard(out / "demo-input", flagged)
            (out / "scorecard.md").write_text(render_scorecard(card))
    _summary(result)
    ingested = result.counts.get("ingest")
    if ingested and not ingested["reconciles"]:
        raise ReconciliationError(
            f"ingest does not reconcile ({'; '.join(ingested['imbalances'])}): a record was lost or "
            "counted twice. The outputs were written; please report this (it is a bug in cibwatch)."
        )
    if demo:
        tiers = " or ".join(FLAGGED_TIERS)
        console.print(f"\n[bold]Scorecard against the simulator's truth[/] (flagged = {tiers})")
        console.print(render_scorecard(card, "text"), markup=False, highlight=False)


def _summary(result) -> None:
    table = Table(title=f"Scan written to {result.out}", title_justify="left")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("went through", justify="right")
    table.add_column("per second", justify="right")
    for name, seconds in result.seconds.items():
        rate = result.rate(name)
        if rate is None:
            table.add_row(name, f"{seconds:.1f}", "", "")
        else:
            n, unit = result.sizes[name]
            table.add_row(name, f"{seconds:.1f}", f"{n:,} {unit}", f"{rate:,.0f} {unit}/s")
    print_table(table)
    counts = result.counts
    if "ingest" in counts:
        i = counts["ingest"]
        console.print(
            f"ingest: {i['units_read']:,} units read, {i['records']:,} records: {i['stored']:,} stored, "
            f"duplicates {i['duplicates_in_run']:,} in the run + {i['duplicates_in_case']:,} in the case "
            f"({i['conflicting']:,} conflicting), {i['quarantined']:,} quarantined"
        )
        for problem in i["imbalances"]:
            console.print(f"[bold red]ingest DOES NOT RECONCILE: {escape(problem)}[/]")
    get = counts.get
    console.print(
        f"bot scores: {get('bot_scored', 0):,} accounts · coordination: {get('coord_edges', 0):,} edges, "
        f"{get('coord_accounts', 0):,} accounts, {get('coord_clusters', 0):,} clusters · "
        f"campaigns: {get('campaigns', 0):,}"
    )
    tiers = counts.get("tiers", {})
    console.print("recommendations: " + ", ".join(f"{k} {v:,}" for k, v in tiers.items()))
    for name in ("accounts", "campaigns", "report"):
        if name in result.files:
            console.print(f"  {name}: {result.files[name]}")
