"""``cibwatch eval bots``: train on some labeled sets, measure on others (or on the shipped model)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cibwatch.cli.console import print_table, step_progress


def register(eval_app: typer.Typer) -> None:
    """Add ``bots`` to the ``cibwatch eval`` group."""
    eval_app.command("bots")(eval_bots_command)


def eval_bots_command(
    test: list[Path] = typer.Option(
        ...,
        "--test",
        help="A labeled set to measure on (repeat for several). NAME=PATH puts PATH in the group NAME: "
        "repeat NAME to measure several sets as one (e.g. every file of a collection).",
    ),
    train: list[Path] = typer.Option(
        None, "--train", help="Labeled sets to train on (repeat); without it, the shipped model is measured."
    ),
    model_dir: Path | None = typer.Option(None, "--model", help="Measure this model folder instead."),
    rounds: int = typer.Option(150, "--rounds", help="Boosting rounds when training with --train."),
    seed: int = typer.Option(0, "--seed", help="Random seed when training."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """ROC AUC, PR AUC, F1, precision/recall and human FPR at the model's threshold, per --test set."""
    from cibwatch.bots import load_model
    from cibwatch.bots.evaluate import evaluate_sets
    from cibwatch.bots.training_sets import train_from_paths

    if train:
        with step_progress(enabled=not quiet and not as_json) as progress:
            model = train_from_paths(train, None, random_state=seed, n_estimators=rounds, progress=progress)
    else:
        model = load_model(str(model_dir) if model_dir else None)
    results = evaluate_sets(model, test)
    if as_json:
        typer.echo(
            json.dumps({"model": model.version, "threshold": model.threshold, "sets": results}, indent=2)
        )
        return
    table = Table(title=f"{model.describe()}", title_justify="left")
    for col in ("test set", "bots", "humans", "ROC AUC", "PR AUC", "F1", "precision", "recall", "human FPR"):
        table.add_column(col, justify="left" if col == "test set" else "right")
    for name, m in results.items():
        table.add_row(
            name,
            str(m["n_bots"]),
            str(m["n_humans"]),
            *[_fmt(m[k]) for k in ("roc_auc", "pr_auc", "f1", "precision", "recall", "human_fpr")],
        )
    print_table(table)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
