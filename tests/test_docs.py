"""docs/cli.md is generated from the commands' --help; it must not drift."""

from __future__ import annotations

from pathlib import Path

from cibwatch.cli.docs import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_current():
    assert DOC.read_text() == render(), (
        "docs/cli.md is stale: run `python -m cibwatch.cli.docs > docs/cli.md`"
    )
