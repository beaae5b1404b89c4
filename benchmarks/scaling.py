"""How cost grows with size: ingest and coordination on simulator output, time and peak RSS.

python -m benchmarks run scaling                         # 0.1M, 1M, 3M, 10M posts
CIBWATCH_SCALING_SIZES=100000,1000000 python -m benchmarks run scaling
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import DOC, benchmark, log_slope, run_measured, table

DEFAULT_SIZES = (100_000, 1_000_000, 3_000_000, 10_000_000)
SMOKE_SIZES = (20_000, 60_000)
DAYS = 14
POSTS_PER_ACCOUNT_DAY = 1.12  # the default scenario's rate (938,848 posts, 60,000 accounts, 14 days)


def _child_detect(case_dir: str) -> None:
    from cibwatch.coord import detect
    from cibwatch.store.case import Case

    with Case.open(case_dir) as case:
        result = detect(case, window=60)
    print(json.dumps({"edges": result.edges.height, "accounts": result.accounts.height}))


@benchmark("scaling", "Scaling: ingest and coordination from 0.1M to 10M posts (simulator output)")
def run(smoke: bool) -> str:
    env = os.environ.get("CIBWATCH_SCALING_SIZES")
    sizes = SMOKE_SIZES if smoke else tuple(int(s) for s in env.split(",")) if env else DEFAULT_SIZES
    rows, points = [], []
    for target in sizes:
        accounts = max(200, round(target / (POSTS_PER_ACCOUNT_DAY * DAYS)))
        work = Path(tempfile.mkdtemp(prefix="cibwatch-scaling-"))
        try:
            sim = run_measured(
                [
                    sys.executable,
                    "-m",
                    "cibwatch.cli.main",
                    "simulate",
                    "--scenario",
                    "default",
                    "--seed",
                    "1",
                    "--accounts",
                    str(accounts),
                    "--days",
                    str(DAYS),
                    "--format",
                    "v1",
                    "--out",
                    str(work / "sim"),
                ]
            )
            inputs = sorted(str(p) for p in (work / "sim" / "posts").glob("*.jsonl"))
            ing = run_measured(
                [
                    sys.executable,
                    "-m",
                    "cibwatch.cli.main",
                    "ingest",
                    *inputs,
                    "--case",
                    str(work / "case"),
                    "--json",
                ]
            )
            posts = json.loads(ing.stdout)["stored"]
            det = run_measured([sys.executable, "-m", "benchmarks.scaling", "_detect", str(work / "case")])
            found = json.loads(det.stdout.strip().splitlines()[-1])
            n_posts = sum(f["emitted"]["posts"] for f in json.loads(ing.stdout)["files"])
            rows.append(
                [
                    n_posts,
                    accounts,
                    round(sim.seconds, 1),
                    ing.seconds,
                    round(ing.peak_rss_mb),
                    det.seconds,
                    round(det.peak_rss_mb),
                    found["edges"],
                ]
            )
            points.append((n_posts, ing.seconds, det.seconds, ing.peak_rss_mb, det.peak_rss_mb))
            del posts
        finally:
            shutil.rmtree(work, ignore_errors=True)
    body = table(
        [
            "posts",
            "accounts",
            "simulate s",
            "ingest s",
            "ingest peak RSS MB",
            "coord s",
            "coord peak RSS MB",
            "coord edges",
        ],
        rows,
    )
    xs = [p[0] for p in points]
    fits = {
        "ingest time": log_slope(xs, [p[1] for p in points]),
        "coordination time": log_slope(xs, [p[2] for p in points]),
        "ingest peak RSS": log_slope(xs, [p[3] for p in points]),
        "coordination peak RSS": log_slope(xs, [p[4] for p in points]),
    }
    body += (
        "\n\nFitted growth (slope of log cost on log posts; 1 = linear): "
        + ", ".join(f"{k} {v:.2f}" for k, v in fits.items() if v is not None)
        + "."
    )
    body += (
        f"\n\nSizes {', '.join(f'{s:,}' for s in sizes)} requested; the simulator's default world "
        f"scaled by accounts over {DAYS} days, X API v1.1 JSON Lines; coordination is "
        "`detect(case, window=60)` with the default traces; each step in its own child process."
    )
    if not smoke and len(points) > 1:
        body += "\n\n" + _plot(points)
    return body


def _plot(points: list[tuple[float, float, float, float, float]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    xs = [p[0] for p in points]
    a.loglog(xs, [p[1] for p in points], "o-", label="ingest")
    a.loglog(xs, [p[2] for p in points], "s-", label="coordination")
    a.set_xlabel("posts")
    a.set_ylabel("seconds")
    a.legend()
    b.loglog(xs, [p[3] for p in points], "o-", label="ingest")
    b.loglog(xs, [p[4] for p in points], "s-", label="coordination")
    b.set_xlabel("posts")
    b.set_ylabel("peak RSS (MB)")
    b.legend()
    fig.tight_layout()
    out = DOC.parent / "benchmarks_scaling.png"
    fig.savefig(out, dpi=100)
    return f"![scaling]({out.name})"


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "_detect":
    _child_detect(sys.argv[2])
