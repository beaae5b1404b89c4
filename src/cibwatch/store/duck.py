"""DuckDB set up one way: every connection cibwatch opens, and the DuckDB names of the tables' Arrow types.

>>> con = connect(threads=1)
>>> con.execute("SELECT current_setting('TimeZone')").fetchone()
('UTC',)
>>> con.close()
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from cibwatch import schema
from cibwatch.store import sql

# The DuckDB type of each Arrow type a raw table's column has (schema.py), for typed NULLs.
DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    schema.TS: "TIMESTAMPTZ",
    schema.STR_LIST: "VARCHAR[]",
}


def connect(
    database: str | Path = ":memory:",
    *,
    temp_directory: Path | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    preserve_insertion_order: bool = True,
    timezone: str | None = "UTC",
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (in memory unless ``database`` names a file) with these settings;
    ``None`` leaves DuckDB's own. The progress bar is always off: DuckDB writes it to stdout,
    into the caller's output.

    >>> con = connect(memory_limit="1GB", threads=2, preserve_insertion_order=False)
    >>> con.execute("SELECT current_setting('threads')").fetchone()
    (2,)
    >>> con.close()
    """
    con = duckdb.connect(str(database))
    try:
        con.execute("SET enable_progress_bar=false")
        if temp_directory is not None:
            con.execute(f"SET temp_directory={sql.literal(temp_directory)}")
        if memory_limit is not None:
            con.execute(f"SET memory_limit={sql.literal(memory_limit)}")
        if threads is not None:
            con.execute(f"SET threads={max(1, int(threads))}")
        if not preserve_insertion_order:
            con.execute("SET preserve_insertion_order=false")
        if timezone is not None:
            con.execute(f"SET TimeZone={sql.literal(timezone)}")
    except BaseException:
        con.close()
        raise
    return con
