"""``cibwatch coord``: find coordinated accounts in a case or in input files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cibwatch.cli.console import MAP_OPTION, TZ_OPTION, console, print_table, step_progress
from cibwatch.coord.params import CoordParams, check_window
from cibwatch.errors import ConfigError
from cibwatch.export import write_csv

COMPAT_WINDOW_S = 60.0


def register(app: typer.Typer) -> None:
    app.command("coord")(coord_command)


# Shared with `scan`: where the coordination statements run.
ENGINE_OPTION = typer.Option(
    "duckdb",
    "--engine",
    help="Where coordination runs: 'duckdb' (embedded) or 'spark' (the active SparkSession or local; "
    'needs pip install "cibwatch[spark]" and Java 17).',
)


def coord_command(
    inputs: list[Path] | None = typer.Argument(
        None, help="A case directory, or input files to ingest into OUT/case (or --lake)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (accounts.csv, edges.csv, clusters.csv, …)."),
    traces: str = typer.Option("default", "--traces", help="Comma-separated traces, 'default' or 'all'."),
    window: str | None = typer.Option(
        None,
        "--window",
        help="Default: each trace's own window (docs/coordination.md). Seconds or 'auto' (CooRnet) "
        "for all; per trace: 'repost=60,url=auto,default=30'.",
    ),
    compat: str | None = typer.Option(None, "--compat", help="'qut': the QUT toolkit's networks, exactly."),
    time_resolution: str = typer.Option(
        str(CoordParams.time_resolution),
        "--time-resolution",
        help="Floor times to this many seconds; 'auto': coarsest dataset.",
    ),
    alpha: float = typer.Option(
        CoordParams.alpha, "--alpha", help="Flag edges with BH q-value at most this."
    ),
    min_shared: int = typer.Option(
        CoordParams.min_shared, "--min-shared", help="Flag edges resting on at least this many items."
    ),
    max_item_accounts: int = typer.Option(
        CoordParams.max_item_accounts,
        "--max-item-accounts",
        help="Leave out items acted on by more accounts (capped_items.csv).",
    ),
    max_burst_accounts: int = typer.Option(
        CoordParams.max_burst_accounts,
        "--max-burst-accounts",
        help="Leave out bursts: more accounts on one item within a window.",
    ),
    examples: int = typer.Option(
        CoordParams.max_examples, "--examples", help="Evidence rows kept per flagged edge."
    ),
    near_threshold: float = typer.Option(
        CoordParams.near_threshold, "--near-threshold", help="near_text: similarity to confirm."
    ),
    sync_bin: float = typer.Option(CoordParams.sync_bin, "--sync-bin", help="sync: time bin in seconds."),
    null_stratum: float = typer.Option(
        CoordParams.null_stratum, "--null-stratum", help="Null model: time stratum in seconds (a week)."
    ),
    null_passes: int = typer.Option(
        CoordParams.null_passes,
        "--null-passes",
        help="Null model: passes, each without the pairs the last one flagged.",
    ),
    seed: int = typer.Option(CoordParams.seed, "--seed", help="Leiden seed."),
    min_edge_weight: int = typer.Option(
        2, "--min-edge-weight", help="--compat qut: the toolkit's minimum weight."
    ),
    similarity_threshold: float = typer.Option(
        0.8, "--similarity-threshold", help="--compat qut: co_similar_tweet Jaccard threshold."
    ),
    format: str = typer.Option("auto", "--format", help="Input format when INPUT are files."),
    engine: str = ENGINE_OPTION,
    lake: str | None = typer.Option(
        None,
        "--lake",
        help="Read a lake written by `ingest --engine spark` (a path, or a file://, hdfs:// or s3a:// "
        "URL) instead of a case; needs --engine spark.",
    ),
    case_dir: Path | None = typer.Option(
        None, "--case", help="With --lake: the case the coord_* tables are saved in (default OUT/case)."
    ),
    mapping: str | None = MAP_OPTION,
    tz: str = TZ_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Find accounts acting together beyond chance; write tables, a Gephi network and the evidence."""
    from cibwatch.coord import run, write_outputs
    from cibwatch.coord.stage import run_on_lake

    window_value = parse_windows(window)
    if isinstance(window_value, dict) and compat is not None:
        raise ConfigError("--compat qut takes one window in seconds, not one per trace.")
    # The toolkit has one window for every network; without --window, its usual 60 s.
    single_window = window_value if isinstance(window_value, float | str) else COMPAT_WINDOW_S
    if case_dir is not None and lake is None:
        raise ConfigError(
            "--case names where a --lake run saves its tables; without --lake, pass the case as INPUTS."
        )
    source = _open_lake(lake, inputs or [], engine, compat) if lake is not None else None
    if source is not None:
        from cibwatch.store.case import Case

        case = Case.create(case_dir if case_dir is not None else out / "case")
    elif not inputs:
        raise ConfigError("Pass a case directory or input files (or --lake URL with --engine spark).")
    else:
        case = _open_or_ingest(inputs, out, format, quiet or as_json, mapping, tz)
    try:
        if compat is not None:
            run_record = _compat(
                case, compat, single_window, min_edge_weight, similarity_threshold, out, quiet or as_json
            )
        else:
            resolution: float | str = (
                time_resolution if time_resolution == "auto" else _seconds(time_resolution)
            )
            params = CoordParams(
                traces=traces,
                window=window_value,
                time_resolution=resolution,
                alpha=alpha,
                min_shared=min_shared,
                max_item_accounts=max_item_accounts,
                max_burst_accounts=max_burst_accounts,
                max_examples=examples,
                near_threshold=near_threshold,
                sync_bin=sync_bin,
                null_stratum=null_stratum,
                null_passes=null_passes,
                seed=seed,
                engine=engine,
            )
            with step_progress(enabled=not quiet and not as_json) as progress:
                if source is not None:
                    found = run_on_lake(source, params, case, progress=progress)
                else:
                    found = run(case, params, progress=progress)
            write_outputs(found.result, out)
            run_record = found.result.run
    finally:
        case.close()
    if as_json:
        typer.echo(json.dumps(run_record, indent=2, default=str))
    elif compat is None:
        _print_run(run_record, out)
    else:
        console.print(
            f"QUT-compatible networks written to {out / 'edges.csv'} ({run_record['edges']:,} rows)"
        )


def _open_lake(lake: str, inputs: list[Path], engine: str, compat: str | None) -> Any:
    """The lake at ``lake``, opened on the Spark session coordination will run on."""
    if inputs:
        raise ConfigError("Pass either --lake or a case or input files, not both.")
    if engine != "spark":
        raise ConfigError("A lake is read by the Spark engine: add --engine spark.")
    if compat is not None:
        raise ConfigError("--compat qut runs on a case; ingest the inputs with `cibwatch ingest` first.")
    from cibwatch.coord.spark import default_session
    from cibwatch.store.lake import Lake

    return Lake.open(lake, default_session())


def _open_or_ingest(
    inputs: list[Path], out: Path, format: str, quiet: bool, mapping: str | None = None, tz: str = "UTC"
) -> Any:
    from cibwatch.cli.console import file_progress
    from cibwatch.ingest import ingest
    from cibwatch.store.case import Case

    cases = [p for p in inputs if (p / "case.json").exists()]
    if cases:
        if len(inputs) > 1:
            raise ConfigError("Pass either one case directory or input files, not both.")
        return Case.open(cases[0])
    with file_progress(enabled=not quiet) as progress:
        ingest(list(inputs), out / "case", format=format, mapping=mapping, tz=tz, progress=progress)
    return Case.open(out / "case")


def _compat(
    case: Any, name: str, window: float | str, min_weight: int, threshold: float, out: Path, quiet: bool
) -> dict[str, Any]:
    from cibwatch.coord.compat_qut import as_edges, qut_networks

    if name != "qut":
        raise ConfigError(f"Unknown --compat {name!r}; the only one is 'qut'.")
    with step_progress(enabled=not quiet) as progress:
        networks = qut_networks(
            case,
            window=window,  # type: ignore[arg-type]
            min_edge_weight=min_weight,
            similarity_threshold=threshold,
            progress=progress,
        )
    out.mkdir(parents=True, exist_ok=True)
    write_csv(as_edges(networks), out / "edges.csv")
    run = {
        "compat": "qut",
        "window_s": window,
        "min_edge_weight": min_weight,
        "similarity_threshold": threshold,
        "edges": networks.height,
        "per_network": {k: v for k, v in networks.group_by("network").len().iter_rows()},
        "quirks": "ordered pairs, self-loops kept, posts without links share the link '' (co_link)",
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    return run


def parse_windows(value: str | None) -> float | str | dict[str, float | str] | None:
    """--window of ``coord`` and ``scan``: None (each trace's own), '60', 'auto', or
    'trace=SECONDS|auto,…' ('default': the others); each window checked by ``check_window``."""
    if value is None:
        return None
    if "=" not in value:
        return check_window(value)
    windows: dict[str, float | str] = {}
    for part in value.split(","):
        name, _, seconds = part.partition("=")
        if not name.strip() or not seconds.strip():
            raise ConfigError(f"Can't read --window {value!r}; write it as 'repost=60,url=auto'.")
        windows[name.strip()] = check_window(seconds.strip())
    return windows


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(
            "The 'time_resolution' parameter must be a positive number of seconds or 'auto'. "
            f"Got {value!r} instead."
        ) from None


def _print_run(run: dict[str, Any], out: Path) -> None:
    table = Table(title=f"Coordination ({run.get('seconds', 0):.1f} s)", title_justify="left")
    for col in ("trace", "window s", "events", "capped items", "tested pairs"):
        table.add_column(col, justify="left" if col == "trace" else "right")
    for name, t in run.get("traces", {}).items():
        table.add_row(
            name,
            f"{t['window_effective_s']:g} ({t['window_source'].split(' ')[0]})",
            f"{t['events']:,}",
            f"{t['capped_items']:,}",
            f"{t['tested_pairs']:,}",
        )
    print_table(table)
    status = run.get("account_status", {})
    others = ", ".join(f"{status[k]:,} {k}" for k in ("crowd", "weak") if status.get(k))
    console.print(
        f"time resolution {run.get('time_resolution_s', 0):g} s · "
        f"[bold]{run.get('flagged_edges', 0):,}[/] edges written · "
        f"[bold]{status.get('coordinated', 0):,}[/] coordinated accounts"
        + (f" (also listed: {others})" if others else "")
        + f" · written to {out}"
    )
