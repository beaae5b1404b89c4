"""The text functions read alike on both engines, and keep DuckDB's meaning."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from cibwatch.coord.sqltext import lower_sql, trim_sql
from cibwatch.coord.traces.builtin import NORMALIZED_TEXT

# Where RE2 and Java, or DuckDB's and Java's string functions, part: no-break and other Unicode
# spaces at the ends, \v, İ and a word-final Σ, "rt" before a non-ASCII letter, a colon, a bang.
TEXTS = [
    "RT: hello world",
    "rt!hello there",
    "rté après",
    "rtx stays",
    "  RT  @bob: hi https://t.co/x",
    "rt::x",
    "rt:x",
    "RT",
    "\xa0Behind the story\xa0 https://t.co/abc\xa0",
    "\u3000wide\u2005spaces\u202f",
    "öfkeli İranlı ΟΔΟΣ ΣΟΦΙΑ",
    "a\x0bb\tc\nd",
    "rt\u00a0x",
    None,
]
# The normalization as it was written for DuckDB alone (before coord/sqltext.py).
DUCKDB_ONLY = r"""trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(p.text),
    'https?://\S+', ' ', 'g'), '@\w+', ' ', 'g'), '^\s*rt\b:?', ' '), '\s+', ' ', 'g'))"""
QUERY = (
    f"SELECT i, {NORMALIZED_TEXT} AS normalized, {lower_sql('p.text')} AS lowered, "
    f"{trim_sql('p.text')} AS trimmed FROM p ORDER BY i"
)


def _texts() -> pa.Table:
    return pa.table({"i": list(range(len(TEXTS))), "text": pa.array(TEXTS, pa.string())})


def test_the_portable_spelling_keeps_duckdbs_meaning() -> None:
    con = duckdb.connect()
    con.register("p", _texts())
    before = con.sql(f"SELECT {DUCKDB_ONLY}, lower(p.text), trim(p.text) FROM p ORDER BY i").fetchall()
    assert con.sql(QUERY.replace("SELECT i, ", "SELECT ")).fetchall() == before


@pytest.mark.slow
def test_text_functions_same_on_both_engines(spark: Any) -> None:
    from cibwatch.coord.spark import to_spark

    con = duckdb.connect()
    con.register("p", _texts())
    duck = con.sql(QUERY).pl()
    spark.createDataFrame(_texts()).createOrReplaceTempView("p")
    try:
        frame = pl.from_arrow(spark.sql(to_spark(QUERY)).toArrow())
    finally:
        spark.catalog.dropTempView("p")
    assert isinstance(frame, pl.DataFrame)
    assert_frame_equal(duck, frame, check_dtypes=False)
