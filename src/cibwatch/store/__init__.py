"""Store: the case directory (Parquet tables + a DuckDB file viewing them)."""

from cibwatch.store.case import Case, open_case

__all__ = ["Case", "open_case"]
