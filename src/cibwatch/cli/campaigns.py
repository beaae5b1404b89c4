"""``cibwatch campaigns``: assemble campaigns and recommendations from the case's stage tables."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cibwatch.campaigns import CampaignsParams, load_policy, run
from cibwatch.cli.console import console, print_table, step_progress
from cibwatch.store.case import open_case


def register(app: typer.Typer) -> None:
    app.command("campaigns")(campaigns_command)


def campaigns_command(
    case: Path = typer.Option(..., "--case", help="The case directory (after `cibwatch coord`)."),
    policy: Path | None = typer.Option(
        None, "--policy", help="A policy TOML file (default: the shipped one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Assemble campaigns from coordination clusters and give every flagged account a policy tier."""
    params = CampaignsParams(policy=load_policy(policy))  # a bad policy is told before the case is opened
    with open_case(case) as c, step_progress(enabled=not quiet and not as_json) as progress:
        report = run(c, params, progress=progress).result
        campaigns = c.read("campaigns").sort("suspicion_score", descending=True)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    table = Table(title=f"Campaigns in {case} (policy {report.policy_version})", title_justify="left")
    for col in ("campaign", "size", "core/amp/per", "traces", "suspicion", "summary"):
        table.add_column(col, overflow="fold")
    for r in campaigns.head(20).iter_rows(named=True):
        table.add_row(
            r["campaign_id"],
            str(r["size"]),
            f"{r['n_core']}/{r['n_amplifier']}/{r['n_peripheral']}",
            r["traces"] or "",
            f"{r['suspicion_score']:.2f}",
            r["summary"] or "",
        )
    print_table(table)
    tiers = ", ".join(f"{t} {n:,}" for t, n in report.tiers.items())
    console.print(f"{report.n_campaigns} campaign(s), {report.n_members} member(s); recommendations: {tiers}")
    if campaigns.height > 20:
        console.print(f"(top 20 of {campaigns.height} by suspicion; all are in the case's campaigns table)")
