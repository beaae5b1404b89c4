"""The ``cibwatch`` command: a thin client of the library, one module per command group."""

from __future__ import annotations

import sys

import typer

from cibwatch import __version__
from cibwatch.cli import bots as bots_cli
from cibwatch.cli import campaigns as campaigns_cli
from cibwatch.cli import coord as coord_cli
from cibwatch.cli import eval as eval_bots_cli
from cibwatch.cli import eval_coord as eval_coord_cli
from cibwatch.cli import export as export_cli
from cibwatch.cli import ingest as ingest_cli
from cibwatch.cli import report as report_cli
from cibwatch.cli import review as review_cli
from cibwatch.cli import scan as scan_cli
from cibwatch.cli import serve as serve_cli
from cibwatch.cli import simulate as simulate_cli
from cibwatch.cli import users as users_cli
from cibwatch.cli import watch as watch_cli
from cibwatch.cli.console import err_console
from cibwatch.errors import CibwatchError

app = typer.Typer(
    name="cibwatch",
    help="Find social bots and coordinated influence operations, with the evidence behind every flag.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
scan_cli.register(app)
ingest_cli.register(app)
bots_cli.register(app)
campaigns_cli.register(app)
review_cli.register(app)
users_cli.register(app)
coord_cli.register(app)
report_cli.register(app)
simulate_cli.register(app)
serve_cli.register(app)
export_cli.register(app)
watch_cli.register(app)
# `cibwatch eval …`: each evaluation module adds its commands to this one group.
eval_app = typer.Typer(help="Score detectors against labeled data, reproducibly.", no_args_is_help=True)
eval_coord_cli.register(eval_app)
eval_bots_cli.register(eval_app)
app.add_typer(eval_app, name="eval")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cibwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning cibwatch's own errors into a message and an exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except CibwatchError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        # typer >= 0.29 vendors click as typer._click (its errors are TyperExceptions) and does not
        # install the click package; older typer raises click's own.
        try:
            from click import ClickException
        except ImportError:
            ClickException = typer.exceptions.TyperException  # type: ignore[misc,assignment]
        if isinstance(exc, ClickException | typer.exceptions.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
