"""``cibwatch serve``: the REST API and web UI of one case, on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from cibwatch.cli.console import console, err_console
from cibwatch.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def serve_command(
    case: Path = typer.Option(..., "--case", help="The case directory to serve."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. There is no TLS: off this machine, put an https proxy in front.",
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    allow_host: list[str] = typer.Option(
        [],
        "--allow-host",
        help="A Host name the server answers to besides 127.0.0.1, localhost and ::1 (repeatable).",
    ),
    max_body: int = typer.Option(
        1_000_000, "--max-body", min=1, help="Largest request body in bytes; larger ones get 413."
    ),
    secure_cookies: bool = typer.Option(
        False,
        "--secure-cookies",
        help="Mark the session cookie Secure: the app is reached over https via a proxy.",
    ),
) -> None:
    """Serve the case's review UI and REST API (JSON under /api) until Ctrl-C; users sign in."""
    import uvicorn

    from cibwatch.api import create_app
    from cibwatch.api.guard import LOOPBACK_HOSTS
    from cibwatch.review import users
    from cibwatch.store.case import open_case

    app = create_app(case, allowed_hosts=allow_host, max_body=max_body, secure_cookies=secure_cookies)
    with open_case(case) as c:  # create_app checked it is a case
        active = [u for u in users.list_users(c) if u.active]
    if not active:
        raise ConfigError(
            f"case {case} has no users, so nobody could sign in; add the first admin with "
            f"`cibwatch users add NAME --role admin --case {case}` (it asks for a password), then serve again"
        )
    if host not in LOOPBACK_HOSTS and not secure_cookies:
        err_console.print(
            f"[bold yellow]Warning:[/] listening on {host} over plain http: passwords and session cookies "
            "cross the network readable by anyone on it. Put an https proxy in front and pass "
            "--secure-cookies, and --allow-host with the name users will type.",
            highlight=False,
        )
    console.print(
        f"Serving {case} at [bold]http://{host}:{port}/[/] (sign in; API under /api with a Bearer token "
        "from `cibwatch users token`; Ctrl-C stops)",
        highlight=False,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
