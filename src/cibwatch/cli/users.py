"""``cibwatch users …``: who may use ``cibwatch serve`` and act in the review log, and in which role."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from cibwatch.cli.console import console, open_case_waiting, print_table
from cibwatch.errors import ConfigError
from cibwatch.review import users

app = typer.Typer(
    help="Users of a case: viewers, reviewers, admins and appellants; passwords and API tokens.",
    no_args_is_help=True,
)
CASE = typer.Option(..., "--case", help="The case directory.")
PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin (else prompt)."
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; the newline a pipe or `echo` adds is not part of the password.
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the password on; pipe it in with --password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add_command(
    name: str = typer.Argument(..., help="The user's name, as the review log records it."),
    role: str = typer.Option(..., "--role", help="One of: " + ", ".join(users.ROLES) + "."),
    account: str | None = typer.Option(
        None, "--account", help="An appellant's own account id: the one account it may see and appeal."
    ),
    password_stdin: bool = PASSWORD_STDIN,
    case: Path = CASE,
) -> None:
    """Add a user who signs in to `cibwatch serve` with a password (at least 10 characters)."""
    password = _read_password(password_stdin)
    with open_case_waiting(case) as c:
        user = users.add_user(c, name, role, password=password, account_id=account)
    bound = f" for account {user.account_id}" if user.account_id else ""
    console.print(f"Added {user.role} {user.name!r}{bound}.", highlight=False)


@app.command("list")
def list_command(
    case: Path = CASE, as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")
) -> None:
    """Every user with role, account and state; never a password or token."""
    with open_case_waiting(case) as c:
        everyone = users.list_users(c)
    if as_json:
        rows = [
            {"name": u.name, "role": u.role, "account_id": u.account_id, "active": u.active} for u in everyone
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not everyone:
        console.print(
            f"No users yet; add the first admin with `cibwatch users add NAME --role admin --case {case}`."
        )
        return
    table = Table(title=f"Users of {case}", title_justify="left")
    for col in ("name", "role", "account", "state"):
        table.add_column(col, overflow="fold")
    for u in everyone:
        table.add_row(u.name, u.role, u.account_id or "", "active" if u.active else "disabled")
    print_table(table)


@app.command("disable")
def disable_command(name: str = typer.Argument(..., help="The user to disable."), case: Path = CASE) -> None:
    """Disable a user: its password, API token and open sessions stop working at once."""
    with open_case_waiting(case) as c:
        user = users.disable_user(c, name)
    console.print(f"Disabled {user.name!r}; its sessions and API token no longer work.", highlight=False)


@app.command("enable")
def enable_command(
    name: str = typer.Argument(..., help="The user to enable again."), case: Path = CASE
) -> None:
    """Let a disabled user sign in again with its password (it needs a new API token)."""
    with open_case_waiting(case) as c:
        user = users.enable_user(c, name)
    console.print(f"Enabled {user.name!r}.", highlight=False)


@app.command("password")
def password_command(
    name: str = typer.Argument(..., help="The user whose password to set."),
    password_stdin: bool = PASSWORD_STDIN,
    case: Path = CASE,
) -> None:
    """Set a new password (a forgotten one cannot be recovered); the user's open sessions end."""
    password = _read_password(password_stdin)
    with open_case_waiting(case) as c:
        user = users.set_password(c, name, password)
    console.print(f"New password set for {user.name!r}; its open sessions ended.", highlight=False)


@app.command("token")
def token_command(
    name: str = typer.Argument(..., help="The user the token acts as."), case: Path = CASE
) -> None:
    """Print a new API token for scripts (Authorization: Bearer …); it replaces the user's previous one.

    The token is shown once: the case keeps only its hash.
    """
    with open_case_waiting(case) as c:
        token = users.new_api_token(c, name)
    typer.echo(token)
