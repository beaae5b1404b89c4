"""Docstring examples in src/cibwatch run under pytest (``--doctest-modules``, see pyproject.toml).

Each runs in a fresh temporary folder, so an example that writes ``sim/demo`` or ``out/`` leaves
nothing in the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _doctests_in_a_temporary_folder(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
