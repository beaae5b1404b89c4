"""The case as a lakehouse table set: the normalized tables as Parquet partitioned by dataset and
day, at a local folder or any Hadoop-compatible URL (``file://``, ``hdfs://``, ``s3a://``).

Layout (Hive-style partitions, which Spark, DuckDB, Trino and pyarrow read as they are)::

    ROOT/_manifest/part-*.txt                 one JSON line: format, tables and their rows
    ROOT/posts/dataset=NAME/day=YYYY-MM-DD/part-*.parquet      day of created_at (UTC)
    ROOT/accounts/dataset=NAME/day=…/                         day of probed_at, else ingested_at
    ROOT/account_labels/dataset=NAME/day=…/                   day of ingested_at
    ROOT/quarantine/dataset=NAME/day=…/                       day of ingested_at

Every file goes through Spark (the cluster's own credentials and Hadoop settings), the manifest
last: a folder without it is a lake whose writing did not finish, and is refused. ``cibwatch ingest
--engine spark`` writes a lake (``ingest/lake.py``); ``detect(Lake.open(url, spark), engine="spark")``
reads one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cibwatch import schema
from cibwatch.errors import CaseError

LAKE_FORMAT = 1
MANIFEST = "_manifest"
PARTITIONS = ("dataset", "day")
# The day a row of each table is filed under (Spark SQL, UTC).
DAY_OF = {
    "posts": "created_at",
    "accounts": "coalesce(probed_at, ingested_at)",
    "account_labels": "ingested_at",
    "quarantine": "ingested_at",
}


def table_url(root: str, table: str) -> str:
    """``root``/``table``, for a path or a URL."""
    return f"{root.rstrip('/')}/{table}"


@dataclass
class Lake:
    """A written lake: its root and how many rows each table holds (from its manifest).

    >>> lake = Lake.open("s3a://bucket/elections", spark)   # doctest: +SKIP
    >>> lake.read(spark, "posts").count()                   # doctest: +SKIP
    1234567
    """

    root: str
    rows: dict[str, int]

    @classmethod
    def open(cls, root: str, session: Any) -> Lake:
        """The lake at ``root`` (path or URL), or a CaseError saying what is missing."""
        try:
            lines = [r[0] for r in session.read.text(table_url(root, MANIFEST)).collect()]
        except Exception as exc:  # Spark's AnalysisException: no such path
            if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                raise CaseError(
                    f"{root} is not a cibwatch lake (no {MANIFEST}); write one with "
                    "`cibwatch ingest --engine spark --lake URL`, or finish the run that was writing it"
                ) from None
            raise
        if len(lines) != 1:
            raise CaseError(f"{table_url(root, MANIFEST)} is damaged: {len(lines)} lines, expected 1")
        manifest = json.loads(lines[0])
        if manifest.get("format") != LAKE_FORMAT:
            raise CaseError(
                f"{root} is lake format {manifest.get('format')}, this cibwatch reads {LAKE_FORMAT}"
            )
        return cls(root=root, rows={k: int(v) for k, v in manifest["tables"].items()})

    def has_table(self, table: str) -> bool:
        return self.rows.get(table, 0) > 0

    def read(self, session: Any, table: str) -> Any:
        """``table`` as a Spark DataFrame with exactly ``cibwatch.schema``'s columns (empty if absent)."""
        from pyspark.sql.pandas.types import from_arrow_schema

        known = schema.table_schema(table)
        if known is None:
            raise CaseError(f"The lake has no table {table!r}.")
        fields = [f.with_nullable(True) for f in known] + [pa.field("day", pa.string())]
        spark_schema = from_arrow_schema(pa.schema(fields))
        if not self.has_table(table):
            return session.createDataFrame([], spark_schema).select(*known.names)
        # The schema is given: partition values are read as text (a dataset called 2020 stays text).
        return session.read.schema(spark_schema).parquet(table_url(self.root, table)).select(*known.names)


def write_manifest(session: Any, root: str, rows: dict[str, int]) -> None:
    """Mark the lake at ``root`` complete, with its tables' row counts (written last)."""
    line = json.dumps({"format": LAKE_FORMAT, "tool": "cibwatch", "tables": rows}, sort_keys=True)
    frame = session.createDataFrame([(line,)], "value string").coalesce(1)
    frame.write.mode("overwrite").text(table_url(root, MANIFEST))


def has_manifest(session: Any, root: str) -> bool:
    try:
        Lake.open(root, session)
    except CaseError:
        return False
    return True
