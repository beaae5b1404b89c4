"""A case directory: Parquet tables (zstd) plus a DuckDB file that views them.

Layout::

    DIR/case.json                 format version
    DIR/case.duckdb               views over the tables + small mutable tables of later stages
    DIR/tables/<table>/*.parquet  the normalized tables of ``cibwatch.schema`` and stage outputs

Tables are append-only sets of Parquet parts; each ingest run adds at most one
part per table, already deduplicated against what the case holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.errors import CaseError

CASE_FORMAT = 1


class Case:
    """An open case directory. Create with ``Case.create`` or open with ``open_case``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._con: duckdb.DuckDBPyConnection | None = None

    # -- lifecycle -----------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path) -> Case:
        """Open ``root`` as a case, creating an empty one if it does not exist."""
        root = Path(root)
        marker = root / "case.json"
        if root.exists() and any(root.iterdir()) and not marker.exists():
            raise CaseError(
                f"{root} exists and is not a cibwatch case (no case.json); choose an empty or new directory"
            )
        (root / "tables").mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            marker.write_text(json.dumps({"format": CASE_FORMAT, "tool": "cibwatch"}) + "\n")
        return cls.open(root)

    @classmethod
    def open(cls, root: str | Path) -> Case:
        root = Path(root)
        marker = root / "case.json"
        if not marker.exists():
            raise CaseError(
                f"{root} is not a cibwatch case (no case.json); create one with `cibwatch ingest`"
            )
        try:
            meta = json.loads(marker.read_text())
        except ValueError as exc:
            raise CaseError(f"{marker} is damaged: {exc}") from None
        if meta.get("format") != CASE_FORMAT:
            raise CaseError(f"{root} is case format {meta.get('format')}, this cibwatch reads {CASE_FORMAT}")
        return cls(root)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths and tables ----------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / "case.duckdb"

    def table_dir(self, table: str) -> Path:
        return self.root / "tables" / table

    def parts(self, table: str) -> list[Path]:
        return sorted(self.table_dir(table).glob("*.parquet"))

    def has_table(self, table: str) -> bool:
        return bool(self.parts(table))

    def table_glob(self, table: str) -> str:
        return str(self.table_dir(table) / "*.parquet")

    def write_part(self, table: str, data: pa.Table | pl.DataFrame, name: str) -> Path:
        """Add one Parquet part to ``table`` (a stage's output, or a new normalized part)."""
        if isinstance(data, pl.DataFrame):
            data = data.to_arrow()
        target = self.table_dir(table)
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(data, tmp, compression="zstd")
        tmp.replace(path)
        self._refresh_views()
        return path

    def replace_table(self, table: str, data: pa.Table | pl.DataFrame) -> Path:
        """Replace a derived table (stage output) whole: reruns recompute, never append."""
        for part in self.parts(table):
            part.unlink()
        return self.write_part(table, data, "part-0")

    # -- reading -------------------------------------------------------------------
    def scan(self, table: str) -> pl.LazyFrame:
        """A polars LazyFrame over ``table``; an empty frame of the right schema if absent."""
        if not self.has_table(table):
            known = schema.TABLES.get(table) or schema.STAGE_TABLES.get(table)
            if known is None:
                raise CaseError(f"case {self.root} has no table {table!r}")
            return pl.LazyFrame(pl.from_arrow(known.empty_table()))
        return pl.scan_parquet(self.table_glob(table))

    def read(self, table: str) -> pl.DataFrame:
        return self.scan(table).collect()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The case's DuckDB connection, with a view per table (``posts``, ``accounts``, …)."""
        if self._con is None:
            self._con = duckdb.connect(str(self.db_path))
            self._con.execute("SET enable_progress_bar=false")  # stdout belongs to the caller
            self._refresh_views()
        return self._con

    def sql(self, query: str, params: Iterable[object] | None = None) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query, params=params)  # type: ignore[arg-type]

    def _refresh_views(self) -> None:
        if self._con is None:
            return
        tables_root = self.root / "tables"
        names = set(schema.TABLES) | {p.name for p in tables_root.iterdir() if p.is_dir()}
        for table in sorted(names):
            if self.has_table(table):
                source = f"read_parquet('{self.table_glob(table)}', union_by_name=true)"
            elif table in schema.TABLES:
                source = _empty_select(schema.TABLES[table])
            else:
                continue
            self._con.execute(f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM {source}')
        # The latest snapshot of each account: a real profile before an authorship-only row.
        self._con.execute(
            """CREATE OR REPLACE VIEW accounts_current AS
               SELECT * FROM accounts
               QUALIFY row_number() OVER (
                   PARTITION BY platform, account_id
                   ORDER BY probed_at DESC NULLS LAST, ingested_at DESC, snapshot_id) = 1"""
        )

    def scalar(self, query: str, params: Iterable[object] | None = None) -> object:
        """The single value ``query`` returns."""
        return self.con.execute(query, params).fetchall()[0][0]  # type: ignore[arg-type]

    def summary(self) -> dict[str, int]:
        """Row counts of the core tables and of current accounts."""
        tables = ("posts", "accounts", "accounts_current", "account_labels", "quarantine")
        return {t: int(self.scalar(f'SELECT count(*) FROM "{t}"')) for t in tables}  # type: ignore[arg-type]


def _empty_select(table_schema: pa.Schema) -> str:
    duck_types = {
        pa.string(): "VARCHAR",
        pa.int64(): "BIGINT",
        pa.bool_(): "BOOLEAN",
        schema.TS: "TIMESTAMPTZ",
        schema.STR_LIST: "VARCHAR[]",
    }
    cols = ", ".join(f'CAST(NULL AS {duck_types[f.type]}) AS "{f.name}"' for f in table_schema)
    return f"(SELECT {cols} WHERE false)"


def open_case(root: str | Path) -> Case:
    """Open an existing case directory.

    >>> case = open_case("out/case")                      # doctest: +SKIP
    >>> case.scan("posts").filter(pl.col("kind") == "repost").collect()  # doctest: +SKIP
    """
    return Case.open(root)
