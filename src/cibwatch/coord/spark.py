"""``detect`` on Apache Spark: the same statements as the embedded engine, run by Spark SQL.

The detector drives its work through a handful of DuckDB connection calls (``execute``, ``sql``,
``register``). ``SparkSQL`` answers those calls with a SparkSession: each statement is translated
from DuckDB's SQL to Spark's (sqlglot) and run there, so the traces, the co-action join, the caps,
the null model and its passes are one set of statements for both engines. A ``CREATE TABLE … AS``
becomes a persisted DataFrame under a temporary view. Two steps that the embedded engine does by
streaming every tested pair through numpy (p-values, each account's chance support) run on the
executors instead (``mapInArrow`` over the same ``stats`` functions); only their small results, the
pairs with p ≤ alpha and per-account sums, come back to the driver, where the account decision,
evidence, weights and clusters run as they do on DuckDB. A trace whose preparation is more than SQL
brings its own Spark form (``Trace.prepare_spark``: near_text's MinHash, on the executors).

Work is partitioned by Spark's shuffles on the join keys: (item, time bucket) for the co-action
join, (a, b) for the per-pair counts; a viral item is capped before the join (``max_item_accounts``,
``max_burst_accounts``), so no task holds more than one window-wide bucket of one item's pairs.
See docs/scale.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from cibwatch import schema
from cibwatch.coord.stats import conditional_poisson_p, support_chance
from cibwatch.errors import ConfigError
from cibwatch.store.lake import Lake

if TYPE_CHECKING:
    from cibwatch.coord.traces import Prepare, Trace
    from cibwatch.store.case import Case

INSTALL_HINT = 'pip install "cibwatch[spark]"'
# Session settings the translation relies on: x / 0 is NULL and size(NULL) is NULL, as on DuckDB;
# every time in UTC. Set for the run and restored after it.
SESSION_CONF = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.sql.session.timeZone": "UTC",
}


def require_pyspark() -> Any:
    """The ``pyspark.sql`` module, or a ConfigError saying how to install it."""
    try:
        import pyspark.sql
    except ImportError as exc:
        raise ConfigError(
            f"The Spark engine needs pyspark and sqlglot; install them with: {INSTALL_HINT}"
        ) from exc
    try:
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"The Spark engine needs sqlglot; install it with: {INSTALL_HINT}") from exc
    return pyspark.sql


def default_session() -> Any:
    """The active SparkSession, or a new one (``spark-submit``'s settings, else local mode)."""
    sql = require_pyspark()
    return sql.SparkSession.builder.appName("cibwatch").getOrCreate()


_LIST_LEN = re.compile(r"\blen\(")
_GROUP = re.compile(r"\\(\d)")


def to_spark(statement: str) -> str:
    """``statement`` (DuckDB SQL) in Spark SQL.

    >>> to_spark("SELECT t // 60 AS bk, epoch_ms(created_at) AS ms FROM p WHERE len(urls) > 0")
    'SELECT t DIV 60 AS bk, UNIX_MILLIS(created_at) AS ms FROM p WHERE SIZE(urls) > 0'
    """
    import sqlglot
    from sqlglot import exp

    # The detector spells a list's length len() and a string's length(); Spark has size() for lists.
    tree = sqlglot.parse_one(_LIST_LEN.sub("array_length(", statement), read="duckdb")

    def fix(node: exp.Expression) -> exp.Expression:
        # DuckDB's epoch_ms(timestamp) is the timestamp's milliseconds (epoch_ms(bigint) the reverse).
        if isinstance(node, exp.UnixToTime) and str(node.args.get("scale")) == "3":
            return exp.Anonymous(this="UNIX_MILLIS", expressions=[node.this])
        if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_ms":
            return exp.Anonymous(this="UNIX_MILLIS", expressions=node.expressions)
        # A group in a replacement is \1 to RE2 and $1 to Java.
        if isinstance(node, exp.RegexpReplace) and isinstance(node.args.get("replacement"), exp.Literal):
            node.set("replacement", exp.Literal.string(_GROUP.sub(r"$\1", node.args["replacement"].this)))
            return node
        # DuckDB computes a MATERIALIZED common table once; Spark has no such hint.
        if isinstance(node, exp.CTE) and node.args.get("materialized"):
            node.set("materialized", None)
            return node
        # 1000.0 is a DECIMAL on Spark, and gap / 1000.0 a decimal; DuckDB's division gives a double.
        if isinstance(node, exp.Literal) and node.is_number and "." in node.this:
            return exp.Literal.number(node.this + "D")
        return node

    return tree.transform(fix).sql(dialect="spark")


class SparkResult:
    """The answer to one statement: a Spark DataFrame, read the ways the detector reads DuckDB's."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.frame.collect()] if self.frame is not None else []

    def arrow(self) -> pa.Table:
        return self.frame.toArrow()

    def pl(self) -> pl.DataFrame:
        frame = pl.from_arrow(self.arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        table = self.arrow()
        return {name: table.column(name).to_numpy() for name in table.column_names}


class SparkSQL:
    """The DuckDB connection calls the detector makes, answered by ``session``.

    >>> con = SparkSQL(spark)                                       # doctest: +SKIP
    >>> con.execute("CREATE TABLE t AS SELECT 1 AS x").fetchall()   # doctest: +SKIP
    []
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.tables: dict[str, Any] = {}  # name → the checkpointed DataFrame behind the view
        self.saved = {key: session.conf.get(key, None) for key in SESSION_CONF}
        for key, value in SESSION_CONF.items():
            session.conf.set(key, value)

    def execute(self, statement: str) -> SparkResult:
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(_LIST_LEN.sub("array_length(", statement), read="duckdb")
        if isinstance(tree, exp.Create) and tree.kind in ("TABLE", "VIEW"):
            name = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
            if tree.args.get("exists") and name in self.tables:  # IF NOT EXISTS: shared by traces
                return SparkResult(None)
            if tree.expression is None:  # CREATE TABLE name (columns): an empty table to insert into
                columns = ", ".join(col.sql(dialect="spark") for col in tree.this.expressions)
                frame = self.session.createDataFrame([], columns)
            else:
                frame = self.session.sql(to_spark(tree.expression.sql(dialect="duckdb")))
            self._define(name, frame, materialize=tree.kind == "TABLE")
            return SparkResult(None)
        if isinstance(tree, exp.Insert):
            name = tree.this.name
            added = self.session.sql(to_spark(tree.expression.sql(dialect="duckdb")))
            base = self.tables[name]
            self._define(name, base.union(added.toDF(*base.columns)), materialize=True)
            return SparkResult(None)
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                self.session.catalog.dropTempView(table.name)
                self.tables.pop(table.name, None)
            return SparkResult(None)
        return SparkResult(self.session.sql(to_spark(statement)))

    def sql(self, statement: str) -> SparkResult:
        return self.execute(statement)

    def register(self, name: str, table: pa.Table) -> None:
        """A small driver-side table (flagged pairs, decisions) as a view."""
        frame = self.session.createDataFrame(table) if table.num_rows else self._empty(table.schema)
        frame.createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def table(self, name: str, frame: Any) -> None:
        """``frame`` computed once as the table ``name`` (dropped when the run closes)."""
        self._define(name, frame, materialize=True)

    def view(self, name: str, frame: Any) -> None:
        """``frame`` (e.g. Parquet read by Spark) as the view ``name``."""
        frame.createOrReplaceTempView(name)

    def close(self) -> None:
        for name in list(self.tables):
            self.session.catalog.dropTempView(name)
        self.tables.clear()
        for key, value in self.saved.items():
            if value is None:
                self.session.conf.unset(key)
            else:
                self.session.conf.set(key, value)

    def _define(self, name: str, frame: Any, *, materialize: bool) -> None:
        if materialize:
            # A table is computed once and its plan cut there: later statements read it several
            # times, and a plan that carried every earlier statement would grow with each one
            # (Spark's optimizer runs out of memory on such chains). With a checkpoint directory
            # set (a cluster: HDFS or S3), the cut is a reliable checkpoint; otherwise a local one.
            if self.session.sparkContext.getCheckpointDir() is not None:
                frame = frame.checkpoint(eager=True)
            else:
                frame = frame.localCheckpoint(eager=True)
            self.tables[name] = frame
        frame.createOrReplaceTempView(name)

    def _empty(self, arrow_schema: pa.Schema) -> Any:
        from pyspark.sql.pandas.types import from_arrow_schema

        return self.session.createDataFrame([], from_arrow_schema(arrow_schema))


def read_case_table(con: SparkSQL, case: Case | Lake, table: str, view: str) -> str:
    """Register ``case``'s Parquet parts of ``table`` as ``view`` (read by Spark directly); a
    ``Lake``'s partitioned table (``store/lake.py``) as it is."""
    if isinstance(case, Lake):
        con.view(view, case.read(con.session, table))
        return view
    parts = [str(p) for p in case.parts(table)]
    if parts:
        con.view(view, con.session.read.option("mergeSchema", "true").parquet(*parts))
        return view
    # A table the case does not hold reads as empty, as on DuckDB (``Case.table_sql``).
    known = schema.table_schema(table)
    if known is None:
        raise ConfigError(f"The case has no table {table!r}.")
    con.register(view, known.empty_table())
    return view


# -- the per-pair steps, on the executors ----------------------------------------------------


def _p_values(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        expected = np.nan_to_num(batch.column("expected").to_numpy(zero_copy_only=False), nan=0.0)
        observed = batch.column("n_shared").to_numpy(zero_copy_only=False)
        # No expectation (no activity model for the pair) is never evidence: p = 1.
        p = np.where(expected > 0, conditional_poisson_p(observed, expected), 1.0)
        yield pa.RecordBatch.from_arrays(
            [batch.column("k"), batch.column("a"), batch.column("b"), batch.column("n_shared"), pa.array(p)],
            names=["k", "a", "b", "n_shared", "p_value"],
        )


def significant_pairs(con: SparkSQL, pair_tables: list[str], alpha: float) -> tuple[pl.DataFrame, int, int]:
    """(pairs with p ≤ alpha: k, a, b, n_shared, p_value; tested pairs; pairs without expectation)."""
    union = " UNION ALL ".join(
        f"SELECT CAST({k} AS INT) AS k, a, b, n_shared, CAST(coalesce(expected, 0) AS DOUBLE) AS expected "
        f"FROM {table}"
        for k, table in enumerate(pair_tables)
    )
    pairs = con.session.sql(union)
    counts = pairs.selectExpr("count(*) AS n", "count_if(expected <= 0) AS bare").collect()[0]
    columns = "k int, a int, b int, n_shared long, p_value double"
    kept = pairs.mapInArrow(_p_values, columns).where(f"p_value <= {float(alpha)!r}")
    table = kept.toArrow()
    frame = pl.from_arrow(table) if table.num_rows else pl.DataFrame(schema=_KEPT)
    assert isinstance(frame, pl.DataFrame)
    return frame.cast(_KEPT), int(counts["n"]), int(counts["bare"] or 0)


_KEPT = pl.Schema({"k": pl.Int32, "a": pl.Int32, "b": pl.Int32, "n_shared": pl.Int64, "p_value": pl.Float64})


def chance_support(
    con: SparkSQL, pair_tables: list[str], n_accounts: int, alpha: float, min_shared: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per account code: its tests, and how many of them chance alone would support."""

    def chance(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            expected = np.nan_to_num(batch.column("expected").to_numpy(zero_copy_only=False), nan=0.0)
            supported = support_chance(expected, alpha, min_shared)
            yield pa.RecordBatch.from_arrays(
                [batch.column("a"), batch.column("b"), pa.array(supported)], names=["a", "b", "chance"]
            )

    union = " UNION ALL ".join(
        f"SELECT a, b, CAST(coalesce(expected, 0) AS DOUBLE) AS expected FROM {table}"
        for table in pair_tables
    )
    per_pair = con.session.sql(union).mapInArrow(chance, "a int, b int, chance double")
    per_pair.createOrReplaceTempView("coord_chance")
    try:
        rows = con.session.sql(
            """SELECT side, count(*) AS tests, sum(chance) AS chance FROM (
                   SELECT a AS side, chance FROM coord_chance UNION ALL SELECT b, chance FROM coord_chance)
               GROUP BY side"""
        ).toArrow()
    finally:
        con.session.catalog.dropTempView("coord_chance")
    tests = np.zeros(n_accounts, dtype=np.int64)
    expected = np.zeros(n_accounts)
    sides = rows.column("side").to_numpy(zero_copy_only=False)
    tests[sides] = rows.column("tests").to_numpy(zero_copy_only=False)
    expected[sides] = rows.column("chance").to_numpy(zero_copy_only=False)
    return tests, expected


# -- the run ------------------------------------------------------------------------------


def detect_on_spark(
    case: Case | Lake,
    chosen: list[Any],
    params: Any,
    progress: Any,
    *,
    choose: bool,
    session: Any = None,
) -> Any:
    """``detect``'s run with every statement on Spark (``detect(..., engine="spark")`` calls it)."""
    from cibwatch.coord.detect import _Run

    class SparkRun(_Run):
        """The embedded run, with the case read by Spark and the per-pair steps on the executors."""

        con: SparkSQL  # type: ignore[assignment]
        codes_posts = False  # a global ordering of every post would be one task

        def _source(self, table: str) -> str:
            return read_case_table(self.con, self.case, table, f"case_{table}")

        def _preparation(self, trace: Trace) -> Prepare | None:
            return trace.prepare_spark or trace.prepare

        def _p_values(self, pair_tables: list[str]) -> tuple[pl.DataFrame, int, int]:
            return significant_pairs(self.con, pair_tables, self.params.alpha)

        def _chance_support(self) -> tuple[np.ndarray, np.ndarray]:
            n_accounts = int(self.con.execute("SELECT count(*) FROM acc").fetchall()[0][0])
            return chance_support(
                self.con,
                [f"pairs_{k}" for k in range(len(self.chosen))],
                n_accounts,
                self.params.alpha,
                self.params.min_shared,
            )

    con = SparkSQL(session if session is not None else default_session())
    try:
        return SparkRun(con, case, chosen, params, progress, choose=choose).run()  # type: ignore[arg-type]
    finally:
        con.close()
