"""The co-action join is the same statement on Spark SQL: same rows as DuckDB on the same events."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from cibwatch.coord.window import coaction_sql

pyspark = pytest.importorskip("pyspark", reason="pyspark is the optional 'spark' extra")


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "window_ms"), [(1, 0), (2, 60_000), (3, 7_000)])
def test_spark_and_duckdb_agree(spark, seed: int, window_ms: int) -> None:
    rng = random.Random(seed)
    rows = sorted({(rng.randrange(6), rng.randrange(4), rng.randrange(0, 400_000, 1000)) for _ in range(150)})
    events = [(a, i, t, f"p{n}") for n, (a, i, t) in enumerate(rows)]
    con = duckdb.connect()
    con.register(
        "ev",
        pa.table(
            {
                "a": pa.array([e[0] for e in events], pa.int32()),
                "i": pa.array([e[1] for e in events], pa.int32()),
                "t": pa.array([e[2] for e in events], pa.int64()),
                "post_id": [e[3] for e in events],
            }
        ),
    )
    duck = {
        # a, b, i, (episode), stratum, n_co, gap, first_t, last_t, ex
        (r[0], r[1], r[2], r[4], r[5], r[6], r[7], r[8], r[9]["pa"], r[9]["pb"])
        for r in con.execute(coaction_sql("ev", window_ms, 100_000)).fetchall()
    }
    spark.createDataFrame(events, "a int, i int, t long, post_id string").createOrReplaceTempView("ev")
    got = {
        (r.a, r.b, r.i, r.stratum, r.n_co, r.gap, r.first_t, r.last_t, r.ex.pa, r.ex.pb)
        for r in spark.sql(coaction_sql("ev", window_ms, 100_000, dialect="spark")).collect()
    }
    assert duck and got == duck
