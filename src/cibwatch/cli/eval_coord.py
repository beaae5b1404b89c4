"""``cibwatch eval build-corpus`` and ``cibwatch eval coord``: coordination scored on labeled data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cibwatch.cli.console import console, print_table, step_progress
from cibwatch.errors import ConfigError


def register(eval_app: typer.Typer) -> None:
    """Add the commands to the ``cibwatch eval`` group."""
    eval_app.command("build-corpus")(build_corpus_command)
    eval_app.command("coord")(coord_command)


def build_corpus_command(
    out: Path = typer.Option(..., "--out", help="Folder for case/, truth.csv and corpus.json."),
    preset: str | None = typer.Option(
        None, "--preset", help="'ira-2016': IRA 2016-06…12 + twitter15-16 + cresci-2015 genuine (FINDINGS)."
    ),
    data: Path = typer.Option(
        Path("../shared/data/io"), "--data", help="With --preset: the folder holding ira-538/, twitter15-16/…"
    ),
    io: list[str] = typer.Option([], "--io", help="[FORMAT:]FILE of the operation's posts (positives)."),
    organic: list[str] = typer.Option([], "--organic", help="[FORMAT:]FILE of organic posts, time-shifted."),
    posts: list[str] = typer.Option([], "--posts", help="[FORMAT:]FILE of posts kept as they are."),
    labels: list[str] = typer.Option(
        [], "--labels", help="[FORMAT:]FILE of account labels (bot = positive)."
    ),
    period: str | None = typer.Option(
        None, "--period", help="START..END (UTC dates); default: busiest stretch."
    ),
    period_days: int = typer.Option(214, "--period-days", help="Length of the automatic period, in days."),
    shift: list[str] = typer.Option([], "--shift", help="DATASET=DAYS: a fixed shift for an organic source."),
    resolution: str = typer.Option("auto", "--resolution", help="Floor times to SECONDS; 'auto': coarsest."),
    as_json: bool = typer.Option(False, "--json", help="Print the corpus summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build a labeled, time-aligned corpus: influence-operation and organic posts in one case."""
    from cibwatch.evaluate.corpus import IRA_2016_PERIOD, build_corpus, ira_2016_sources

    sources = _sources(io, organic, posts, labels, dict(_pair(s) for s in shift))
    chosen_period = _period(period)
    if preset is not None:
        if preset != "ira-2016":
            raise ConfigError(f"Unknown --preset {preset!r}; the only one is 'ira-2016'.")
        sources = ira_2016_sources(data) + sources
        chosen_period = chosen_period or IRA_2016_PERIOD
    if not sources:
        raise ConfigError(
            "Nothing to build from; pass --preset ira-2016 or --io/--organic/--posts/--labels files."
        )
    with step_progress(enabled=not quiet and not as_json) as progress:
        summary = build_corpus(
            sources,
            out,
            period=chosen_period,
            period_days=period_days,
            resolution_s=resolution if resolution == "auto" else _float("resolution", resolution),
            progress=progress,
        )
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    table = Table(title=f"Corpus in {summary.out}", title_justify="left")
    for col in ("dataset", "role", "reader", "shift (days)", "posts stored", "posts kept"):
        table.add_column(col, justify="left" if col in ("dataset", "role", "reader") else "right")
    for s in summary.sources:
        table.add_row(
            s["dataset"],
            s["role"],
            s["reader"] or "",
            f"{s['shift_days']:g}",
            f"{s['posts_stored']:,}",
            f"{s['posts_kept']:,}",
        )
    print_table(table)
    period_text = " … ".join(summary.period) if summary.period else "all times"
    c = summary.counts
    console.print(
        f"period {period_text} · times floored to {summary.resolution_s:g} s · {c['posts']:,} posts · "
        f"{c['io_accounts']:,} io accounts ({c['io_accounts_min5']:,} with ≥ 5 posts) · "
        f"{c['organic_accounts']:,} organic accounts"
    )


def coord_command(
    case: Path | None = typer.Option(None, "--case", help="A case directory (with --truth)."),
    truth: Path | None = typer.Option(
        None, "--truth", help="CSV: account_id, group (io/organic)[, category]."
    ),
    corpus: Path | None = typer.Option(
        None, "--corpus", help="A folder made by `cibwatch eval build-corpus`."
    ),
    inputs: list[str] = typer.Option([], "--inputs", help="[FORMAT:]FILE of posts (with --labels)."),
    labels: list[str] = typer.Option([], "--labels", help="[FORMAT:]FILE of labels; label bot = positive."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and the flagged accounts."),
    qut: bool = typer.Option(True, "--qut/--no-qut", help="Also run the QUT toolkit on the same case."),
    window: int = typer.Option(60, "--window", help="Co-action window in seconds, for both detectors."),
    traces: str = typer.Option("default", "--traces", help="cibwatch traces: comma-separated or 'default'."),
    min_posts: int = typer.Option(
        5, "--min-posts", help="Recall counts io accounts with at least this many."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score cibwatch's coordination detection (beside the QUT toolkit) against known labels."""
    from cibwatch.evaluate.coord import evaluate_coord, metrics_rows, write_report
    from cibwatch.evaluate.corpus import build_corpus, load_truth, read_summary
    from cibwatch.evaluate.qut import toolkit_command
    from cibwatch.store.case import Case

    if sum(x is not None and x != [] for x in (case, corpus, inputs or None)) != 1:
        raise ConfigError(
            "Pass exactly one of --case DIR --truth FILE, --corpus DIR, or --inputs FILE… --labels FILE…."
        )
    if case is not None:
        if truth is None:
            raise ConfigError("--case needs --truth FILE (account_id, group io/organic).")
        case_dir, truth_path = case, truth
    elif corpus is not None:
        summary = read_summary(corpus)
        if summary is None:
            raise ConfigError(f"{corpus} has no corpus.json; build it with `cibwatch eval build-corpus`.")
        case_dir, truth_path = summary.case_path, summary.truth_path
    else:
        if not labels:
            raise ConfigError("--inputs needs --labels FILE… to know which accounts are the operation's.")
        sources = _sources([], [], inputs, labels, {})
        built = build_corpus(sources, out / "corpus")
        case_dir, truth_path = built.case_path, built.truth_path
    if qut:
        toolkit_command()  # fail early, before the long cibwatch run, when the toolkit is missing
    truth_table = load_truth(truth_path)
    with Case.open(case_dir) as opened, step_progress(enabled=not quiet and not as_json) as progress:
        runs = evaluate_coord(
            opened,
            truth_table,
            qut_workdir=out / "qut" if qut else None,
            window=window,
            min_posts=min_posts,
            progress=progress,
            traces=traces,
        )
    path = write_report(runs, truth_table, out)
    if as_json:
        typer.echo(path.read_text())
        return
    headers, rows = metrics_rows(runs)
    # One column per detector run, so the table stays readable in a narrow terminal.
    table = Table(title=f"Coordination against known labels ({case_dir})", title_justify="left")
    table.add_column("metric")
    for n, row in enumerate(rows, start=1):
        table.add_column(f"{n}. {row[0]}", justify="right")
    for k, name in enumerate(headers[2:], start=2):
        table.add_row(name, *(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for row in rows))
    print_table(table)
    for n, row in enumerate(rows, start=1):
        console.print(f"{n}. {row[0]}: {row[1]}", highlight=False)
    console.print(f"Metrics and flagged accounts written to {out}")


def _sources(
    io: list[str], organic: list[str], posts: list[str], labels: list[str], shifts: dict[str, float]
) -> list[Any]:
    from cibwatch.evaluate.corpus import CorpusSource

    found = []
    for role, specs in (("io", io), ("organic", organic), ("posts", posts), ("labels", labels)):
        for spec in specs:
            fmt, path = _format_and_path(spec)
            source = CorpusSource(Path(path), role, fmt)
            found.append(CorpusSource(source.path, role, fmt, shift_days=shifts.pop(source.name, None)))
    if shifts:
        raise ConfigError(
            f"--shift names unknown dataset(s) {', '.join(shifts)}; use an organic file's name."
        )
    return found


def _format_and_path(spec: str) -> tuple[str, str]:
    from cibwatch.ingest import readers

    head, sep, tail = spec.partition(":")
    return (head, tail) if sep and head in readers() else ("auto", spec)


def _pair(spec: str) -> tuple[str, float]:
    name, sep, days = spec.partition("=")
    if not sep:
        raise ConfigError(f"--shift takes DATASET=DAYS, e.g. twitter15-16=280. Got {spec!r} instead.")
    return name, _float("shift", days)


def _period(spec: str | None) -> tuple[datetime, datetime] | None:
    if spec is None:
        return None
    start, sep, end = spec.partition("..")
    try:
        if not sep:
            raise ValueError
        return tuple(datetime.fromisoformat(x.strip()).replace(tzinfo=UTC) for x in (start, end))  # type: ignore[return-value]
    except ValueError:
        raise ConfigError(
            f"--period takes START..END dates, e.g. 2016-06-01..2017-01-01. Got {spec!r}."
        ) from None


def _float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"The '{name}' parameter must be a number. Got {value!r} instead.") from None
