"""``cibwatch serve``: the REST API and web UI of one case, on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from cibwatch.cli.console import console


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def serve_command(
    case: Path = typer.Option(..., "--case", help="The case directory to serve."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. There is no login: keep it local or behind a proxy.",
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the case's review UI and REST API (JSON under /api) until Ctrl-C."""
    import uvicorn

    from cibwatch.api import create_app

    app = create_app(case)  # a wrong --case fails here, before the server starts
    console.print(
        f"Serving {case} at [bold]http://{host}:{port}/[/] (API under /api; Ctrl-C stops)", highlight=False
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
