"""Shared fixtures: the real data beside the checkout, skipped with a reason when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or a skip naming what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (tests use ../shared/data beside the checkout)"
        )
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads ../shared/data (it asks for ``shared``) is marked ``slow``."""
    for item in items:
        if "shared" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def shared() -> type:
    """``shared("io", "ira-538")`` returns the path or skips."""
    return shared_path  # type: ignore[return-value]
