"""``cibwatch watch``: follow growing files into a case, re-detect over a window, alert."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from cibwatch.cli.console import err_console
from cibwatch.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_command)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, option: str) -> float:
    """'90', '90s', '30m', '24h', '7d' → seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if not found or float(found[1]) <= 0:
        raise ConfigError(
            f"{option} must be a positive duration such as 3600, 30m, 24h or 7d. Got {value!r} instead."
        )
    return float(found[1]) * _UNITS[found[2] or "s"]


def watch_command(
    sources: list[str] = typer.Argument(
        ...,
        help="JSON Lines files to follow as they grow, folders of (rotated) files, or - for standard input.",
    ),
    case: Path = typer.Option(..., "--case", help="The case directory (created if needed)."),
    format: str = typer.Option(
        "auto", "--format", help="Input format (default: told from each file's start)."
    ),
    window: str = typer.Option(
        "24h", "--window", help="Posts each detection looks at: the last 24h, 30m, 3600 …"
    ),
    batch_seconds: float = typer.Option(
        5.0, "--batch-seconds", min=0, help="Seconds between looks at the sources once caught up."
    ),
    detect_every: int = typer.Option(
        10, "--detect-every", min=1, help="While working off a backlog, detect every this many batches."
    ),
    max_batch_bytes: int = typer.Option(
        32 << 20, "--max-batch-bytes", min=1024, help="Most bytes of one file taken into one batch."
    ),
    stop_when_idle: float | None = typer.Option(
        None, "--stop-when-idle", min=0, help="Stop once no new line came for this many seconds."
    ),
    alerts: Path | None = typer.Option(
        None, "--alerts", help="Append alerts (JSON Lines) here, not to stdout."
    ),
    webhook: str | None = typer.Option(None, "--webhook", help="Also POST each alert as JSON to this URL."),
    serve_url: str = typer.Option(
        "http://127.0.0.1:8000", "--serve-url", help="Where `cibwatch serve` runs, for the alerts' links."
    ),
    max_alerts: int = typer.Option(10, "--max-alerts-per-minute", min=1, help="Rate limit of alerts."),
    keep_coactions: bool = typer.Option(
        False,
        "--keep-coactions",
        help="Carry co-actions from one detection to the next: only new events are paired (same results).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No batch lines on stderr."),
) -> None:
    """Follow streams (twarc2, Jetstream, Mastodon) into a case; alert on campaigns as they form."""
    from cibwatch.watch import BatchReport, WatchParams, WindowRun, watch
    from cibwatch.watch.alerts import line_writer

    folders = [Path(s).resolve() for s in sources if s != "-" and Path(s).is_dir()]
    if alerts is not None and alerts.resolve().parent in folders:
        raise ConfigError(
            f"--alerts {alerts} is inside a folder being followed, so it would be read as a source; "
            "write the alerts elsewhere"
        )
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise ConfigError(f"--webhook must be an http:// or https:// URL. Got {webhook!r} instead.")
    params = WatchParams(
        format=format,
        window=parse_duration(window, "--window"),
        batch_seconds=batch_seconds,
        stop_when_idle=stop_when_idle,
        detect_every=detect_every,
        max_batch_bytes=max_batch_bytes,
        keep_coactions=keep_coactions,
    )

    def on_batch(b: BatchReport) -> None:
        if not quiet:
            posts = sum(f.stored["posts"] for f in b.ingest.files)
            err_console.print(
                f"batch {b.batch}: {len(b.ranges)} file(s), {b.ingest.total('units_read'):,} lines, "
                f"{posts:,} new posts ({b.ingest.seconds:.1f} s)",
                highlight=False,
            )

    def on_detect(w: WindowRun) -> None:
        if not quiet:
            err_console.print(
                f"window {w.start} – {w.end}: {w.posts:,} posts, {w.flagged:,} coordinated accounts, "
                f"{w.campaigns:,} campaigns ({w.seconds:.1f} s)",
                highlight=False,
            )

    report = watch(
        sources,
        case,
        params,
        alert=line_writer(alerts, lambda line: typer.echo(line)),
        webhook=webhook,
        serve_url=serve_url,
        max_alerts_per_minute=max_alerts,
        on_batch=on_batch,
        on_detect=on_detect,
    )
    if not quiet:
        err_console.print(
            f"stopped: {report.batches:,} batches, {report.units_read:,} lines read, "
            f"{report.posts_stored:,} posts stored, {report.duplicates:,} duplicates, "
            f"{report.quarantined:,} quarantined; {report.detections:,} detections, "
            f"{report.alerts:,} alerts ({report.alerts_held:,} held by the rate limit)",
            highlight=False,
        )
