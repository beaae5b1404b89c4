"""Throughput of ``cibwatch simulate``: posts per second (wall and per CPU-second) and peak memory.

    python -m benchmarks run simulate                     # both formats and a 10M-post run, into docs
    python -m benchmarks.simulate_throughput --scenario default --format v2 --out /tmp/sim-bench

The 10M-post run is the default scenario scaled up (320,000 organic accounts, 30 days); its
output (about 14 GB of v2 JSONL) goes to a temporary folder that is deleted afterwards. Peak RSS
is the child process's, workers included (they are threads of it), so a run whose memory grew
with the number of posts would show here.

The machine's load matters: the line printed includes the load average at the start and the end,
so a number measured on a busy machine is not mistaken for the simulator's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import benchmark, run_measured, table
from cibwatch.sim import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--format", default="v2", choices=["v2", "v1"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("/tmp/cibwatch-sim-bench"))
    parser.add_argument("--keep", action="store_true", help="Keep the output (deleted by default).")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    cpu0 = time.process_time()
    sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    report = simulate(
        args.scenario,
        out=args.out,
        seed=args.seed,
        accounts=args.accounts,
        days=args.days,
        format=args.format,
        workers=args.workers,
    )
    cpu = time.process_time() - cpu0
    sys_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0
    size = sum(Path(f).stat().st_size for f in report.files)
    result = {
        "scenario": args.scenario,
        "format": args.format,
        "posts": report.posts,
        "accounts_posting": report.accounts,
        "wall_s": round(report.seconds, 2),
        "cpu_s": round(cpu, 2),
        "system_cpu_s": round(sys_cpu, 2),  # the kernel's part (writes, page faults, page reclaim)
        "posts_per_s": round(report.posts / report.seconds),
        "posts_per_cpu_s": round(report.posts / cpu),
        "bytes_per_post": round(size / report.posts),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cores": os.cpu_count(),
        "workers": args.workers,
        "load_before": round(load_before, 1),
        "load_after": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()


# (label, scenario, extra arguments, formats): the scenario's own size; the world of the 10M-post
# run over 3 days (same world, a tenth of the posts: memory should barely differ); the 10M-post run.
TEN_MILLION = ("--accounts", "320000", "--days", "30")
# Polars' allocator hands freed memory back to the system after half a second, and the simulator
# frees and reallocates a lot: with a longer decay it takes far fewer page faults (one row shows it).
JEMALLOC_CONF = "dirty_decay_ms:30000,muzzy_decay_ms:30000"
RUNS = (
    ("default", "default", (), ("v2", "v1")),
    (f"default, _RJEM_MALLOC_CONF={JEMALLOC_CONF}", "default", (), ("v2",)),
    ("default, 320k accounts, 3 days", "default", ("--accounts", "320000", "--days", "3"), ("v2",)),
    ("default, 320k accounts, 30 days", "default", TEN_MILLION, ("v2",)),
)
SMOKE_RUNS = (
    ("demo", "demo", (), ("v2", "v1")),
    ("demo, 1,000 accounts, 2 days", "demo", ("--accounts", "1000", "--days", "2"), ("v2",)),
)
BIG_RUN_BYTES = 20 * 10**9  # room the 10M-post run needs in the temporary folder


def _measure(
    scenario: str, fmt: str, extra: tuple[str, ...], env: dict[str, str] | None
) -> tuple[dict, float]:
    out = Path(tempfile.mkdtemp(prefix=f"cibwatch-sim-bench-{fmt}-"))
    try:
        cmd = [sys.executable, "-m", "benchmarks.simulate_throughput", "--scenario", scenario]
        measured = run_measured([*cmd, "--format", fmt, *extra, "--out", str(out / "sim")], env=env)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return json.loads(measured.stdout.strip().splitlines()[-1]), measured.peak_rss_mb


@benchmark("simulate", "Simulator throughput")
def run(smoke: bool) -> str:
    plan = [
        (label, scenario, extra, fmt)
        for label, scenario, extra, fmts in (SMOKE_RUNS if smoke else RUNS)
        for fmt in fmts
    ]
    rows = []
    for label, scenario, extra, fmt in plan:
        if extra == TEN_MILLION and shutil.disk_usage(tempfile.gettempdir()).free < BIG_RUN_BYTES:
            rows.append([label, fmt, "skipped: less than 20 GB free in the temporary folder", *[""] * 7])
            continue
        env = {**os.environ, "_RJEM_MALLOC_CONF": JEMALLOC_CONF} if "_RJEM_MALLOC_CONF" in label else None
        r, peak_rss_mb = _measure(scenario, fmt, extra, env)
        rows.append(
            [
                label,
                fmt,
                r["posts"],
                r["wall_s"],
                r["posts_per_s"],
                r["posts_per_cpu_s"],
                r["bytes_per_post"],
                round(r["posts"] * r["bytes_per_post"] / 1e9, 2),
                round(peak_rss_mb),
                f"{r['load_before']} → {r['load_after']}",
            ]
        )
    return (
        table(
            [
                "scenario",
                "format",
                "posts",
                "seconds",
                "posts/s",
                "posts per CPU-s",
                "bytes/post",
                "GB written",
                "peak RSS (MB)",
                "load average",
            ],
            rows,
        )
        + f"\n\n{os.cpu_count()} cores; windows written by one worker per core (at most 4). "
        "Seconds are those of `simulate` itself (not the interpreter's start-up). "
        "Peak RSS is the whole child process's, workers included (they are its threads). "
        "The two 320k-account rows are the memory check: the same world, ten times the posts. "
        "The machine is shared with other jobs: the load average shows how busy it was.\n\n"
        "Target: ≥ 200k posts/s, streaming with bounded memory."
    )
