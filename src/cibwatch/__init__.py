"""cibwatch: find social bots and coordinated influence operations, with the evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cibwatch.errors import CibwatchError

if TYPE_CHECKING:
    from cibwatch.store.case import Case, open_case

__version__ = "0.1.0"

__all__ = ["Case", "CibwatchError", "__version__", "open_case"]


def __getattr__(name: str) -> Any:
    # The store (DuckDB, polars) is imported on first use: ingest worker processes never need it.
    if name in ("Case", "open_case"):
        from cibwatch.store import case

        return getattr(case, name)
    raise AttributeError(f"module 'cibwatch' has no attribute {name!r}")
