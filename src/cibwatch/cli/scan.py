"""``cibwatch scan``: the main job, from input files to accounts.csv, campaigns.csv and report.html."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.table import Table

from cibwatch.cli.console import console, err_console, file_progress, step_progress
from cibwatch.errors import ConfigError

DEMO_SEED = 7
# What the demo's scorecard counts as flagged: the tiers that put an account before a reviewer.
FLAGGED_TIERS = ("review", "enforce-eligible")


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
    traces: str | None = typer.Option(
        None, "--traces", help="Comma-separated coordination traces (default set)."
    ),
    window: str = typer.Option("60", "--window", help="Co-action window in seconds, or 'auto'."),
    policy: Path | None = typer.Option(
        None, "--policy", help="Recommendation policy TOML (default: shipped)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Ingest, score bots, detect coordination, assemble campaigns and write the report, in one go."""
    from cibwatch.scan import scan

    if demo == bool(inputs):
        raise ConfigError("Give input files or --demo (not both, not neither).")
    window_value: float | str = window if window == "auto" else _seconds(window)
    if demo:
        from cibwatch.sim import simulate

        err_console.print("Generating the demo world (simulated platform with planted operations)…")
        simulate("demo", out=out / "demo-input", seed=DEMO_SEED)
        inputs = [p for p in sorted((out / "demo-input").rglob("*.jsonl"))]
    trace_list = [t.strip() for t in traces.split(",")] if traces else None
    with file_progress(enabled=not quiet) as fprog, step_progress(enabled=not quiet) as sprog:
        result = scan(
            list(inputs),
            out,
            format=format,
            traces=trace_list,
            window=window_value,
            policy=policy,
            report=not no_report,
            progress=sprog,
            file_progress=fprog,
        )
    _summary(result)
    if demo:
        from cibwatch.sim import render_scorecard, scorecard

        accounts = pl.read_csv(result.files["accounts"], schema_overrides={"account_id": pl.String})
        flagged = accounts.filter(pl.col("recommendation").is_in(FLAGGED_TIERS))["account_id"]
        card = scorecard(out / "demo-input", flagged)
        (out / "scorecard.md").write_text(render_scorecard(card))
        tiers = " or ".join(FLAGGED_TIERS)
        console.print(f"\n[bold]Scorecard against the simulator's truth[/] (flagged = {tiers})")
        console.print(render_scorecard(card, "text"), markup=False, highlight=False)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(
            f"The 'window' parameter must be a positive number of seconds or 'auto'. Got {text} instead."
        )
    return value


def _summary(result) -> None:
    table = Table(title=f"Scan written to {result.out}", title_justify="left")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in result.seconds.items():
        table.add_row(name, f"{seconds:.1f}")
    console.print(table)
    counts = result.counts
    if "ingest" in counts:
        i = counts["ingest"]
        console.print(
            f"ingest: {i['records_read']:,} records read = {i['stored']:,} stored "
            f"+ {i['duplicates']:,} duplicates + {i['quarantined']:,} quarantined"
        )
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
