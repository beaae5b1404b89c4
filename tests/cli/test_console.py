"""Output that is not a terminal is not wrapped: piped tables keep words, paths and titles whole."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from cibwatch.cli import console as console_module
from cibwatch.cli.main import app
from cibwatch.store.case import Case
from tests.review.people import add_people

# Colour and style codes, which FORCE_COLOR in the environment turns on even for a pipe.
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REASON = "core of camp-k1: 12 co-reposts within seconds of /data/exports/2016/ira/tweets-part-0007.jsonl"


@pytest.fixture
def long_case(case: Case, tmp_path: Path) -> Path:
    """The review corpus, with its users, behind a path far wider than 80 columns."""
    add_people(case)
    case.close()
    deep = tmp_path / ("an-investigation-folder-with-a-long-descriptive-name-" * 2).strip("-")
    deep.mkdir()
    (deep / "case").symlink_to(case.root, target_is_directory=True)
    return deep / "case"


def _text(buffer: io.StringIO) -> str:
    return ANSI.sub("", buffer.getvalue())


def _invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return ANSI.sub("", result.output)


def test_piped_history_keeps_words_and_paths_whole(long_case: Path) -> None:
    _invoke("review", "decide", "op1", "--action", "suspend", "--reviewer", "ana", "--reason", REASON,
            "--case", long_case)  # fmt: skip
    out = _invoke("review", "history", "op1", "--case", long_case)
    lines = out.splitlines()
    header = next(line for line in lines if "seq" in line)
    columns = ("seq", "time", "event", "actor", "action", "reason", "evidence", "tier", "policy", "model")
    for column in columns:
        assert f" {column} " in header, f"column {column!r} is broken in {header!r}"
    row = next(line for line in lines if "suspend" in line)
    assert " decision " in row and " ana " in row
    assert REASON in row, "the reason was folded over several lines"
    assert "Decision history" in lines


def test_piped_table_titles_keep_long_paths_whole(long_case: Path) -> None:
    out = _invoke("review", "queue", "--case", long_case)
    assert f"Review queue of {long_case}" in out.splitlines()


def test_titles_are_text_not_markup() -> None:
    buffer = io.StringIO()
    target = console_module._Console(file=buffer)
    table = Table(title="Scan written to out/[bold]g[1][/bold]")
    table.add_column("step")
    console_module.print_table(table, to=target)
    assert _text(buffer).splitlines()[0] == "Scan written to out/[bold]g[1][/bold]"


def test_a_terminal_still_wraps_at_its_width() -> None:
    buffer = io.StringIO()
    terminal = console_module._Console(file=buffer, force_terminal=True, width=30, color_system=None)
    terminal.print("word " * 20)
    assert max(len(line) for line in _text(buffer).splitlines()) <= 30


def test_rich_alone_would_have_folded_the_same_table() -> None:
    """The check above can fail: rich's own console, not a terminal, folds at 80 columns."""
    buffer = io.StringIO()
    plain = Console(file=buffer)
    table = Table()
    for column in ("seq", "time", "event", "actor", "action", "reason"):
        table.add_column(column, overflow="fold")
    table.add_row("1", "2026-11-30T12:00:00Z", "decision", "ana", "suspend", REASON)
    plain.print(table)
    assert REASON not in _text(buffer)
    buffer = io.StringIO()
    console_module._Console(file=buffer).print(table)
    assert REASON in _text(buffer)


@pytest.mark.parametrize(
    "env", [{"COLUMNS": "80"}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1", "COLUMNS": "60"}]
)
def test_environment_does_not_fold_a_pipe(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """CI logs often set COLUMNS or FORCE_COLOR; a file or a pipe is still not a terminal."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    buffer = io.StringIO()
    piped = console_module._Console(file=buffer)
    piped.print("word " * 40 + REASON)
    assert len(_text(buffer).splitlines()) == 1
