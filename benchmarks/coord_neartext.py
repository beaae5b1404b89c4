"""Near-duplicate text on the whole IRA corpus (2.46M posts) with a 1-hour window.

    python -m benchmarks run coord_neartext

The IRA case is ingested once into the benchmark cache and reused while the input is unchanged.
"""

from __future__ import annotations

import json
import sys

from benchmarks.coord_realdata import CACHE
from benchmarks.harness import benchmark, run_measured, shared, table

WINDOW = 3600


def _child(case_dir: str) -> None:
    from cibwatch.coord import detect
    from cibwatch.store.case import Case

    with Case.open(case_dir) as case:
        result = detect(case, traces=["near_text"], window=WINDOW)
        posts = case.scan("posts").select("post_id").collect().height
    print(
        json.dumps(
            {
                "posts": posts,
                "edges": result.edges.height,
                "accounts": result.accounts.height,
                "clusters": result.clusters.height,
                "windows": result.run.get("windows"),
            }
        )
    )


@benchmark("coord_neartext", "Near-duplicate text on the whole IRA corpus, 1-hour window")
def run(smoke: bool) -> str:
    ira = shared("io", "ira-538", "IRAhandle_tweets_by_author_concat.csv.xz")
    case_dir = CACHE / ("ira-full-smoke" if smoke else "ira-full") / "case"
    if not (case_dir / "case.json").exists():
        inputs = [str(ira)]
        if smoke:
            import subprocess

            sample = case_dir.parent / "ira-sample.csv"
            sample.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(f"xz -dc '{ira}' | head -n 20000 > '{sample}'", shell=True, check=True)
            inputs = [str(sample)]
        run_measured(
            [sys.executable, "-m", "cibwatch.cli.main", "ingest", *inputs, "--case", str(case_dir), "-q"]
        )
    measured = run_measured([sys.executable, "-m", "benchmarks.coord_neartext", "_child", str(case_dir)])
    info = json.loads(measured.stdout.strip().splitlines()[-1])
    return table(
        ["posts", "window s", "seconds", "peak RSS (MB)", "edges", "accounts", "clusters"],
        [
            [
                info["posts"],
                WINDOW,
                measured.seconds,
                measured.peak_rss_mb,
                info["edges"],
                info["accounts"],
                info["clusters"],
            ]
        ],
    ) + (
        "\n\n`cibwatch.coord.detect(case, traces=['near_text'], window=3600)` in a child process, on "
        "the case ingested from the full by-author IRA file (ingest not included). "
        "Targets: ≤ 5 min, peak RSS ≤ 4 GB."
    )


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "_child":
    _child(sys.argv[2])
