"""Run the real CLI in-process, as the tests that check its messages do."""

from __future__ import annotations

import pytest

from cibwatch.cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """(exit code, stdout, stderr with whitespace collapsed, since rich wraps error messages)."""
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())
