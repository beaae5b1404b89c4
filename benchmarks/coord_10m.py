"""The default detection on ten million posts: seconds and peak RSS, and where the time goes.

python -m benchmarks run coord_10m                       # 320k accounts, 30 days: 10.5M posts
CIBWATCH_COORD10M_CASE=/path/to/case python -m benchmarks run coord_10m   # a case already ingested

The world is the issue's (`cibwatch simulate --scenario default --accounts 320000 --days 30`, as
v1.1 JSON Lines, which ingest faster than v2 pages into the same posts), built once and cached under
/tmp/cibwatch-bench/coord-10m. Detection runs with the defaults (`cibwatch coord`'s) in a child
process that times every DuckDB statement; the result tables are kept beside the case, and a
second run compares its tables with the kept ones (same edges, accounts and clusters).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import benchmark, run_measured, table

CACHE = Path("/tmp/cibwatch-bench/coord-10m")
ACCOUNTS, DAYS = 320_000, 30
SMOKE_ACCOUNTS, SMOKE_DAYS = 3_000, 7
TOP_STATEMENTS = 12


def _world(smoke: bool) -> Path:
    given = os.environ.get("CIBWATCH_COORD10M_CASE")
    if given and not smoke:
        return Path(given)
    accounts, days = (SMOKE_ACCOUNTS, SMOKE_DAYS) if smoke else (ACCOUNTS, DAYS)
    root = CACHE / f"{accounts}x{days}"
    case = root / "case"
    if (root / "ingested").exists():
        return case
    cli = [sys.executable, "-m", "cibwatch.cli.main"]
    simulate = ["simulate", "--scenario", "default", "--accounts", str(accounts), "--days", str(days)]
    run_measured([*cli, *simulate, "--format", "v1", "--out", str(root / "sim"), "-q"])
    run_measured([*cli, "ingest", str(root / "sim" / "posts"), "--case", str(case), "-q", "--json"])
    (root / "ingested").write_text("")
    return case


def _child_detect(case_dir: str, out_dir: str) -> None:
    """Detect with every statement timed; the summary as JSON on the last line of stdout."""
    import polars as pl

    from cibwatch.store.case import Case

    detect_module = importlib.import_module("cibwatch.coord.detect")
    statements: list[tuple[float, str]] = []

    class Timed:
        """The run's DuckDB connection, timing each statement (a relation when it is fetched)."""

        def __init__(self, inner: Any, query: str | None = None) -> None:
            self._inner, self._query = inner, query

        def execute(self, query: str, *args: Any) -> Any:
            started = time.perf_counter()
            result = self._inner.execute(query, *args)
            statements.append((time.perf_counter() - started, query))
            return result

        def sql(self, query: str, *args: Any) -> Any:
            return Timed(self._inner.sql(query, *args), query)

        def __getattr__(self, name: str) -> Any:
            attribute = getattr(self._inner, name)
            if self._query is None or name not in ("pl", "fetchall", "fetchnumpy", "to_arrow_reader"):
                return attribute

            def fetched(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                result = attribute(*args, **kwargs)
                statements.append((time.perf_counter() - started, str(self._query)))
                return result

            return fetched

    connect = detect_module.connect
    detect_module.connect = lambda *args, **kwargs: Timed(connect(*args, **kwargs))
    steps: list[tuple[float, str]] = []
    started = time.perf_counter()

    def progress(event: Any) -> None:
        if event.done == 0 or event.done == event.total:
            steps.append((time.perf_counter() - started, f"{event.step} {event.done}/{event.total}"))

    rss = [0]

    def sample() -> None:  # the detection's own peak, sampled, beside the harness's whole-process one
        while True:
            rss[0] = max(
                rss[0], int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            )
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    with Case.open(case_dir) as case:
        n_posts = case.scalar(f"SELECT count(*) FROM {case.table_sql('posts')}")
        result = detect_module.detect(case, progress=progress)
    seconds = time.perf_counter() - started
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = ("edges", "evidence", "accounts", "clusters")
    compared: dict[str, bool] = {}
    for name in names:
        frame: pl.DataFrame = getattr(result, name)
        kept = out / f"{name}.parquet"
        if kept.exists():
            compared[name] = _same(pl.read_parquet(kept), frame)
        frame.write_parquet(kept)
    top = sorted(statements, reverse=True)[:TOP_STATEMENTS]
    summary = {
        "posts": n_posts,
        "seconds": seconds,
        "sampled_peak_rss_mb": rss[0] / 2**20,
        "sql_seconds": sum(s for s, _ in statements),
        "edges": result.edges.height,
        "flagged_accounts": result.run.get("flagged_accounts"),
        "traces": {
            k: [v.get("seconds"), v.get("events"), v.get("tested_pairs")]
            for k, v in result.run["traces"].items()
        },
        "steps": steps,
        "top": [[s, " ".join(q.split())[:110]] for s, q in top],
        "same_as_last_run": compared,
    }
    print(json.dumps(summary))


def _same(before: Any, after: Any) -> bool:
    """Same rows and text; floats to 1e-9 relative (DuckDB's parallel sums differ in the last bits)."""
    import polars as pl

    if before.columns != after.columns or before.height != after.height:
        return False
    floats = [c for c, t in before.schema.items() if t in (pl.Float32, pl.Float64)]
    keys = [c for c in before.columns if c not in floats]
    left, right = before.sort(keys), after.sort(keys)
    if not left.select(keys).equals(right.select(keys)):
        return False
    for column in floats:
        a, b = left[column].fill_null(0.0), right[column].fill_null(0.0)
        if ((a - b).abs() > 1e-9 * b.abs().clip(lower_bound=1e-300)).any():
            return False
    return True


@benchmark("coord_10m", "Coordination at ten million posts: the default detection, step by step")
def run(smoke: bool) -> str:
    case = _world(smoke)
    load = os.getloadavg()[0]
    out = case.parent / "result"
    measured = run_measured([sys.executable, "-m", "benchmarks.coord_10m", "_detect", str(case), str(out)])
    found = json.loads(measured.stdout.strip().splitlines()[-1])
    lines = [
        f"Case: `{case}`, {found['posts']:,} posts. "
        f"Load average (1 min) at the start: {load:.1f} on {os.cpu_count()} cores.",
        "",
        table(
            [
                "seconds",
                "peak RSS MB (child)",
                "in DuckDB statements s",
                "edges",
                "coordinated accounts",
                "same tables as the last run",
            ],
            [
                [
                    found["seconds"],
                    measured.peak_rss_mb,
                    found["sql_seconds"],
                    found["edges"],
                    found["flagged_accounts"],
                    ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in found["same_as_last_run"].items())
                    or "first run",
                ]
            ],
        ),
        "",
        "Per trace (co-action, null model and its helper tables):",
        "",
        table(["trace", "seconds", "events", "tested pairs"], [[k, *v] for k, v in found["traces"].items()]),
        "",
        "Stages (seconds since the start): " + "; ".join(f"{s} at {t:.0f}" for t, s in found["steps"]),
        "",
        f"The {TOP_STATEMENTS} slowest statements:",
        "",
        table(["seconds", "statement"], [[s, f"`{q}`"] for s, q in found["top"]]),
    ]
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "_detect":
    _child_detect(sys.argv[2], sys.argv[3])
