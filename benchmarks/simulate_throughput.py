"""Throughput of ``cibwatch simulate``: posts per second (wall and per CPU-second) and peak memory.

    python -m benchmarks run simulate                     # both formats, into docs/benchmarks.md
    python -m benchmarks.simulate_throughput --scenario default --format v2 --out /tmp/sim-bench

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
    parser.add_argument("--out", type=Path, default=Path("/tmp/cibwatch-sim-bench"))
    parser.add_argument("--keep", action="store_true", help="Keep the output (deleted by default).")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    cpu0 = time.process_time()
    report = simulate(
        args.scenario,
        out=args.out,
        seed=args.seed,
        accounts=args.accounts,
        days=args.days,
        format=args.format,
    )
    cpu = time.process_time() - cpu0
    size = sum(Path(f).stat().st_size for f in report.files)
    result = {
        "scenario": args.scenario,
        "format": args.format,
        "posts": report.posts,
        "accounts_posting": report.accounts,
        "wall_s": round(report.seconds, 2),
        "cpu_s": round(cpu, 2),
        "posts_per_s": round(report.posts / report.seconds),
        "posts_per_cpu_s": round(report.posts / cpu),
        "bytes_per_post": round(size / report.posts),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cores": os.cpu_count(),
        "load_before": round(load_before, 1),
        "load_after": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()


@benchmark("simulate", "Simulator throughput")
def run(smoke: bool) -> str:
    scenario = "demo" if smoke else "default"
    rows = []
    for fmt in ("v2", "v1"):
        measured = run_measured(
            [
                sys.executable,
                "-m",
                "benchmarks.simulate_throughput",
                "--scenario",
                scenario,
                "--format",
                fmt,
                "--out",
                str(Path(tempfile.gettempdir()) / f"cibwatch-sim-bench-{fmt}"),
            ]
        )
        r = json.loads(measured.stdout.strip().splitlines()[-1])
        rows.append(
            [
                scenario,
                fmt,
                r["posts"],
                r["wall_s"],
                r["posts_per_s"],
                r["posts_per_cpu_s"],
                r["bytes_per_post"],
                round(measured.peak_rss_mb),
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
                "peak RSS (MB)",
                "load average",
            ],
            rows,
        )
        + "\n\nTarget: ≥ 200k posts/s, streaming with bounded memory."
    )
