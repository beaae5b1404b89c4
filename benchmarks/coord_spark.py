"""The Spark engine beside DuckDB: the same detection, seconds and peak memory, and whether they agree.

python -m benchmarks run coord_spark
CIBWATCH_SPARK_SIZES=1000000,10000000,30000000 python -m benchmarks run coord_spark   # the scaling curve
CIBWATCH_SPARK_IRA=0 …                                                                 # leave the IRA mix out

Each run is a child process (``run_measured``): the driver's peak RSS is the child's; Spark's JVM
(the driver and, in local mode, the executors) is read from /proc (VmHWM) before the session stops.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from benchmarks.harness import benchmark, log_slope, run_measured, shared, table

CACHE = Path(os.environ.get("CIBWATCH_BENCH_CACHE", Path(tempfile.gettempdir()) / "cibwatch-bench"))
IRA_CASE = CACHE / "coord-realdata" / "corpus" / "case"
DEFAULT_SIZES = (1_000_000, 3_000_000, 10_000_000)
SMOKE_SIZES = (50_000,)
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "6g",
    "spark.sql.shuffle.partitions": "8",
    # The UI's REST API reports each stage's shuffle volume and task costs (the 1B-post estimate).
    "spark.ui.enabled": "true",
    "spark.ui.port": "0",
    "spark.ui.showConsoleProgress": "false",
}
T0_MS = 1_467_331_200_000  # 2016-07-01
SPAN_MS = 14 * 86_400_000


def co_repost_case(root: Path, n_posts: int, seed: int = 1) -> Path:
    """A co-repost corpus: independent accounts reposting popular-skewed posts, and planted rings.

    One account per 20 posts, one item per 10; 1% of the posts are rings of 10 accounts that
    repost the same post within a minute.
    """
    from cibwatch import schema
    from cibwatch.store.case import Case

    rng = np.random.default_rng(seed)
    n_ring = n_posts // 100
    n_bg = n_posts - n_ring
    n_accounts, n_items = max(100, n_posts // 20), max(100, n_posts // 10)
    account = rng.integers(0, n_accounts, n_bg)
    item = np.minimum(rng.zipf(1.3, n_bg) - 1, n_items - 1)
    t = T0_MS + rng.integers(0, SPAN_MS, n_bg) // 1000 * 1000
    # Rings: 10 accounts each, one burst per item, every member within 60 s.
    bursts = n_ring // 10
    ring = np.repeat(np.arange(bursts) % max(1, bursts // 30), 10)
    ring_account = n_accounts + ring * 10 + np.tile(np.arange(10), bursts)
    ring_item = n_items + np.repeat(np.arange(bursts), 10)
    ring_t = np.repeat(T0_MS + rng.integers(0, SPAN_MS, bursts) // 1000 * 1000, 10) + np.tile(
        np.arange(10) * 5000, bursts
    )
    account = np.concatenate([account, ring_account])
    item = np.concatenate([item, ring_item])
    t = np.concatenate([t, ring_t])
    n = len(account)
    now = datetime.now(UTC)
    accounts = pa.array(np.char.add("u", account.astype(str)))
    columns = {
        "post_id": pa.array(np.char.add("p", np.arange(n).astype(str))),
        "account_id": accounts,
        "created_at": pa.array(t, pa.int64()).cast(pa.timestamp("ms", "UTC")),
        "kind": pa.array(np.full(n, "repost")),
        "ref_post_id": pa.array(np.char.add("i", item.astype(str))),
        "platform": pa.array(np.full(n, "twitter")),
        "dataset": pa.array(np.full(n, "co-repost")),
        "reader": pa.array(np.full(n, "bench@1")),
        "source_file": pa.array(np.full(n, "generated")),
    }
    arrays = []
    for f in schema.POSTS:
        if f.name in columns:
            arrays.append(columns[f.name].cast(f.type))
        elif f.name == "ingested_at":
            arrays.append(pa.array([now] * n, f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    posts = pa.Table.from_arrays(arrays, schema=schema.POSTS)
    case = Case.create(root)
    step = 2_000_000
    for k, start in enumerate(range(0, n, step)):
        case.write_part("posts", posts.slice(start, step), f"part-{k}")
    case.close()
    return root


def _jvm_peak_mb() -> float | None:
    """Peak RSS (VmHWM) of the java processes under this one."""
    me, peak = os.getpid(), None
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("Name", "").strip() != "java":
            continue
        pid = int(status.parent.name)
        parent = pid
        while parent > 1:  # a descendant of this process?
            try:
                parent = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                break
            if parent == me:
                hwm = float(fields.get("VmHWM", "0 kB").split()[0]) / 1024
                peak = max(peak or 0.0, hwm)
                break
    return peak


def _stage_costs(spark: object) -> dict[str, float]:
    """Totals over the run's stages, and the costliest single task, from Spark's REST API."""
    import urllib.request

    sc = spark.sparkContext  # type: ignore[attr-defined]
    base = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"

    def get(url: str) -> object:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    totals = {"stages": 0.0, "tasks": 0.0, "input_mb": 0.0, "shuffle_write_mb": 0.0, "shuffle_read_mb": 0.0}
    totals |= {"spill_disk_mb": 0.0, "task_cpu_s": 0.0, "max_task_s": 0.0, "max_task_shuffle_read_mb": 0.0}
    for stage in get(f"{base}?status=complete"):  # type: ignore[union-attr]
        totals["stages"] += 1
        totals["tasks"] += stage.get("numTasks", 0)
        totals["input_mb"] += stage.get("inputBytes", 0) / 2**20
        totals["shuffle_write_mb"] += stage.get("shuffleWriteBytes", 0) / 2**20
        totals["shuffle_read_mb"] += stage.get("shuffleReadBytes", 0) / 2**20
        totals["spill_disk_mb"] += stage.get("diskBytesSpilled", 0) / 2**20
        totals["task_cpu_s"] += stage.get("executorRunTime", 0) / 1000
        summary = get(f"{base}/{stage['stageId']}/{stage['attemptId']}/taskSummary?quantiles=1.0")
        run_time = (summary.get("executorRunTime") or [0])[-1]  # type: ignore[union-attr]
        read = ((summary.get("shuffleReadMetrics") or {}).get("readBytes") or [0])[-1]  # type: ignore[union-attr]
        totals["max_task_s"] = max(totals["max_task_s"], run_time / 1000)
        totals["max_task_shuffle_read_mb"] = max(totals["max_task_shuffle_read_mb"], read / 2**20)
    return {k: int(v) if k in ("stages", "tasks") else round(v, 1) for k, v in totals.items()}


def _child(engine: str, case_dir: str, traces: str, out: str) -> None:
    from cibwatch.coord import detect
    from cibwatch.store.case import Case

    spark = None
    if engine == "spark":
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName("cibwatch-bench")
        for key, value in SPARK_CONF.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    with Case.open(case_dir) as case:
        result = detect(case, traces=traces, window=60, engine=engine, spark=spark)
    seconds = time.perf_counter() - started
    jvm = _jvm_peak_mb() if spark is not None else None
    costs = _stage_costs(spark) if spark is not None else None
    result.edges.write_parquet(Path(out) / f"edges-{engine}.parquet")
    result.accounts.write_parquet(Path(out) / f"accounts-{engine}.parquet")
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if spark is not None:
        spark.stop()
    print(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "driver_mb": round(driver),
                "jvm_mb": None if jvm is None else round(jvm),
                "edges": result.edges.height,
                "tested": result.run.get("tested_pairs"),
                "costs": costs,
            }
        )
    )


def _agreement(out: Path) -> str:
    """Same flagged edges and accounts, and the largest relative difference of expected and q."""
    duck, spark = (pl.read_parquet(out / f"edges-{e}.parquet") for e in ("duckdb", "spark"))
    key = ["trace", "account_a", "account_b"]
    same_edges = duck.select(key).sort(key).equals(spark.select(key).sort(key))
    acc_d, acc_s = (pl.read_parquet(out / f"accounts-{e}.parquet") for e in ("duckdb", "spark"))
    decided = ["account_id", "status"]
    same_accounts = acc_d.select(decided).sort(decided).equals(acc_s.select(decided).sort(decided))
    joined = duck.join(spark, on=key, suffix="_s")
    worst = {
        col: float(((joined[col] - joined[f"{col}_s"]).abs() / joined[col].abs().clip(1e-300)).max() or 0.0)
        for col in ("expected", "q_value")
    }
    return (
        f"same edges: {'yes' if same_edges else 'NO'}, same accounts and statuses: "
        f"{'yes' if same_accounts else 'NO'}, largest relative difference: expected "
        f"{worst['expected']:.1e}, q {worst['q_value']:.1e}"
    )


def _compare(case_dir: Path, traces: str, work: Path) -> tuple[list[list[object]], str, dict[str, float]]:
    rows, costs = [], {}
    for engine in ("duckdb", "spark"):
        child = ["-m", "benchmarks.coord_spark", "_child", engine, str(case_dir), traces, str(work)]
        measured = run_measured(
            [sys.executable, *child],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        found = json.loads(measured.stdout.strip().splitlines()[-1])
        rows.append([engine, found["seconds"], found["driver_mb"], found["jvm_mb"] or "–", found["edges"]])
        costs = found["costs"] or costs
    return rows, _agreement(work), costs


COST_COLUMNS = {
    "stages": "stages",
    "tasks": "tasks",
    "task_cpu_s": "task s (sum)",
    "max_task_s": "longest task s",
    "shuffle_write_mb": "shuffle written MB",
    "max_task_shuffle_read_mb": "largest task's shuffle read MB",
    "spill_disk_mb": "spilled to disk MB",
}


@benchmark("coord_spark", "Spark beside DuckDB: the same detection on local[2], seconds, memory, agreement")
def run(smoke: bool) -> str:
    env = os.environ.get("CIBWATCH_SPARK_SIZES")
    sizes = SMOKE_SIZES if smoke else tuple(int(s) for s in env.split(",")) if env else DEFAULT_SIZES
    headers = ["corpus", "posts", "engine", "detect s", "driver peak RSS MB", "JVM peak RSS MB", "edges"]
    rows: list[list[object]] = []
    cost_rows: list[list[object]] = []
    curve: dict[str, list[tuple[int, float]]] = {"duckdb": [], "spark": []}
    notes = []
    work = Path(tempfile.mkdtemp(prefix="cibwatch-spark-bench-"))
    try:
        if os.environ.get("CIBWATCH_SPARK_IRA", "1") != "0" and not smoke:
            shared("io")
            if IRA_CASE.exists():
                from cibwatch.coord.traces import default_traces

                ira_traces = ",".join(default_traces())
                measured, agree, costs = _compare(IRA_CASE, ira_traces, work)
                n = _posts(IRA_CASE)
                rows += [["IRA + organic", n, *r] for r in measured]
                cost_rows.append(["IRA + organic", n, *(costs.get(k, "–") for k in COST_COLUMNS)])
                notes.append(f"IRA + organic ({ira_traces}): {agree}.")
            else:
                notes.append(f"IRA + organic: {IRA_CASE} absent; run `coord_realdata` first (it builds it).")
        for size in sizes:
            case_dir = co_repost_case(work / f"case-{size}", size)
            measured, agree, costs = _compare(case_dir, "repost", work)
            rows += [["co-repost", size, *r] for r in measured]
            cost_rows.append(["co-repost", size, *(costs.get(k, "–") for k in COST_COLUMNS)])
            for engine, seconds, *_ in measured:
                curve[str(engine)].append((size, float(seconds)))  # type: ignore[arg-type]
            notes.append(f"co-repost {size:,} posts: {agree}.")
            shutil.rmtree(case_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    settings = ", ".join(f"`{k}={v}`" for k, v in SPARK_CONF.items())
    slopes = {
        engine: log_slope([float(x) for x, _ in points], [y for _, y in points])
        for engine, points in curve.items()
    }
    if any(v is not None for v in slopes.values()):
        notes.append(
            "Fitted growth of co-repost detect seconds (slope of log seconds on log posts; 1 = linear): "
            + ", ".join(f"{engine} {v:.2f}" for engine, v in slopes.items() if v is not None)
        )
    return (
        table(headers, rows)
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n\nSpark's own account of each run (the UI's REST API, summed over completed stages):\n\n"
        + table(["corpus", "posts", *COST_COLUMNS.values()], cost_rows)
        + f"\n\n`detect(case, window=60, engine=...)`, each run in its own child process; Spark: {settings}. "
        "The co-repost corpus: one account per 20 posts, one reposted post per 10 (Zipf 1.3), 14 days, "
        "1% of posts in planted rings of 10 accounts (`benchmarks/coord_spark.py`)."
    )


def _posts(case_dir: Path) -> int:
    import pyarrow.parquet as pq

    from cibwatch.store.case import Case

    with Case.open(case_dir) as case:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in case.parts("posts"))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "_child":
    _child(*sys.argv[2:6])
