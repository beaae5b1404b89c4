"""``cibwatch bots score | explain | train``: thin client of ``cibwatch.bots``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import polars as pl
import typer
from rich.table import Table

from cibwatch.cli.console import console, file_progress, print_table, step_progress
from cibwatch.errors import ConfigError
from cibwatch.export import write_csv

bots_app = typer.Typer(help="Score accounts as bots or humans, with the reasons.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bots_app, name="bots")


def _write(table: pl.DataFrame, out: Path) -> None:
    suffix = "".join(out.suffixes[-1:]).lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        write_csv(table, out)
    elif suffix in (".parquet", ".pq"):
        table.write_parquet(out)
    else:
        raise ConfigError(f"Can't tell the output format of {out}; end --out with .csv or .parquet")


@bots_app.command("score")
def score_command(
    inputs: list[Path] = typer.Argument(
        ..., help="A case directory, or input files / folders in any supported format."
    ),
    out: Path = typer.Option(..., "--out", help="Output file: .csv or .parquet."),
    model_dir: Path | None = typer.Option(
        None, "--model", help="A model folder (default: the shipped model)."
    ),
    format: str = typer.Option("auto", "--format", help="Input format when INPUTS are files."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score every account in INPUTS and write their scores, labels, types and reasons to --out."""
    from cibwatch.bots import OUTPUT_COLUMNS, BotsParams, load_model, run
    from cibwatch.ingest import ingest
    from cibwatch.store.case import open_case

    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"Can't tell the output format of {out}; end --out with .csv or .parquet")
    params = BotsParams(model=load_model(str(model_dir) if model_dir else None))
    if len(inputs) == 1 and (inputs[0] / "case.json").exists():
        with open_case(inputs[0]) as case:
            with step_progress(enabled=not quiet) as progress:
                report = run(case, params, progress=progress)
            table = case.read("bot_scores")
    else:
        with tempfile.TemporaryDirectory(prefix="cibwatch-score-") as tmp:
            with file_progress(enabled=not quiet) as progress:
                ingest(list(inputs), Path(tmp) / "case", format=format, progress=progress)
            with open_case(Path(tmp) / "case") as case:
                report = run(case, params)
                table = case.read("bot_scores")
    _write(table.select(OUTPUT_COLUMNS), out)
    if not quiet:
        labels = report.labels
        console.print(
            f"Scored {report.tables['bot_scores']:,} accounts ({labels.get('bot', 0):,} labelled bot, "
            f"{labels.get('uncertain', 0):,} uncertain) with {report.model}; wrote {out}"
        )


@bots_app.command("explain")
def explain_command(
    account: str = typer.Argument(..., help="The account id."),
    case_dir: Path = typer.Option(..., "--case", help="The case directory holding the account."),
    model_dir: Path | None = typer.Option(
        None, "--model", help="A model folder (default: the shipped model)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
) -> None:
    """Explain one account's score: every feature that pushed it, with training percentiles."""
    from cibwatch.bots import explain_account, load_model
    from cibwatch.store.case import open_case

    model = load_model(str(model_dir) if model_dir else None)
    with open_case(case_dir) as case:
        result = explain_account(case, account, model=model)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    if result["bot_score"] is None:
        console.print(f"{account}: no profile, and too few posts with text to score")
        return
    name = f"@{result['screen_name']}" if result["screen_name"] else account
    kind = f" ({result['bot_type']})" if result["bot_type"] else ""
    if result["bot_label"] == "uncertain":
        at = (
            f"between the uncertain threshold {result['uncertain_threshold']:.2f} "
            f"and the bot threshold {result['threshold']:.2f}"
        )
    else:
        at = f"at threshold {result['threshold']:.2f}"
    console.print(
        f"[bold]{name}[/]: bot_score {result['bot_score']:.3f} → [bold]{result['bot_label']}[/]{kind} "
        f"{at}; head {result['head']}; model {result['model_version']}"
    )
    if result["input_flags"]:
        console.print(f"[yellow]Input problems:[/] {result['input_flags']}")
    table = Table(title="Why", title_justify="left")
    table.add_column("feature")
    table.add_column("value", justify="right")
    table.add_column("push", justify="right")
    table.add_column("reason")
    for r in result["reasons"]:
        table.add_row(r["feature"], f"{r['value']:.4g}", f"{r['push']:+.2f}", r["sentence"])
    print_table(table)


@bots_app.command("train")
def train_command(
    sets: list[Path] = typer.Argument(
        None, help="Labeled sets (files or folders). Default: the visible sets under ../shared/data/bots."
    ),
    behaviour: list[Path] = typer.Option(
        None,
        "--behaviour",
        help="Labeled timelines for the behaviour head. Default: ../shared/data/io/cresci-2015.",
    ),
    data_root: Path = typer.Option(
        Path("../shared/data"), "--data-root", help="Where the default sets live."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Model folder to write (the shipped one: src/cibwatch/bots/model)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    threads: int = typer.Option(2, "--threads", help="LightGBM threads."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train the bot model reproducibly from labeled sets; write LightGBM text + a JSON card."""
    from cibwatch.bots.training_sets import default_behaviour_sets, default_training_sets, train_from_paths

    sets = sets or default_training_sets(data_root)
    behaviour = behaviour or default_behaviour_sets(data_root)
    with step_progress(enabled=not quiet) as progress:
        model = train_from_paths(sets, behaviour, random_state=seed, n_jobs=threads, progress=progress)
    model.save(out)
    console.print(f"Wrote {model.describe()} to {out}")
    for warning in model.card.get("warnings", []):
        console.print(f"[yellow]Warning:[/] {warning}")
    held_out_by = "collection" if model.card["metrics"]["held_out_by"] == "collections" else "fold"
    for name, m in model.card["metrics"]["profile_held_out"].items():
        auc = f"{m['roc_auc']:.3f}" if m["roc_auc"] is not None else "—"
        fpr = f"{m['human_fpr']:.3f}" if m["human_fpr"] is not None else "—"
        console.print(f"  out of {held_out_by} {name:24s} ROC AUC {auc}  human FPR {fpr}")
