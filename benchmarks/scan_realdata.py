"""`cibwatch scan` end to end on the real-data corpus (IRA posts among organic cascades and timelines).

Reuses the corpus that the coordination benchmark builds and caches: the scan starts from that
case, so the figures cover bot scores, coordination, campaigns and the report (ingest is measured
by the ingest benchmark and the corpus build).
"""

from __future__ import annotations

import json
import shutil
import sys

import polars as pl

from benchmarks.coord_realdata import CACHE, _corpus, _smoke_sources
from benchmarks.harness import benchmark, run_measured, shared, table
from cibwatch.evaluate.corpus import ira_2016_sources


@benchmark("scan_realdata", "The main job on real data: `cibwatch scan` on IRA among organic accounts")
def run(smoke: bool) -> str:
    io_root = shared("io")
    sources = ira_2016_sources(io_root)
    work = CACHE / ("coord-realdata-smoke" if smoke else "coord-realdata")
    if smoke:
        sources = _smoke_sources(sources, work / "inputs")
    corpus, _ = _corpus(sources, work / "corpus")
    out = work / "scan"
    shutil.rmtree(out, ignore_errors=True)
    measured = run_measured(
        [sys.executable, "-m", "cibwatch.cli.main", "scan", str(corpus.case_path), "--out", str(out), "-q"]
    )
    summary = json.loads((out / "scan.json").read_text())
    counts = summary["counts"]
    rows = [[step, seconds] for step, seconds in summary["seconds"].items()]
    rows.append(["total (child process, wall)", round(measured.seconds, 1)])
    body = table(["step", "seconds"], rows)
    tiers = counts.get("tiers", {})
    body += (
        f"\n\nPeak RSS {measured.peak_rss_mb:,.0f} MB. Bot-scored accounts {counts.get('bot_scored', 0):,}; "
        f"coordination edges {counts.get('coord_edges', 0):,}, accounts {counts.get('coord_accounts', 0):,}, "
        f"clusters {counts.get('coord_clusters', 0):,}; campaigns {counts.get('campaigns', 0):,}; "
        "recommendations: " + ", ".join(f"{k} {v:,}" for k, v in tiers.items()) + "."
    )
    accounts = pl.read_csv(out / "accounts.csv", schema_overrides={"account_id": pl.String}).select(
        "account_id", "recommendation"
    )
    truth = pl.read_csv(corpus.truth_path, schema_overrides={"account_id": pl.String}).select(
        "account_id", "group"
    )
    by_tier = (
        accounts.join(truth, on="account_id", how="left")
        .group_by("recommendation")
        .agg(
            (pl.col("group") == "io").sum().alias("IRA"),
            (pl.col("group") == "organic").sum().alias("organic"),
        )
    )
    rows = [
        [
            tier,
            *(
                by_tier.filter(pl.col("recommendation") == tier).row(0)[1:]
                if tier in by_tier["recommendation"]
                else (0, 0)
            ),
        ]
        for tier in ("enforce-eligible", "review", "monitor")
    ]
    body += "\n\nRecommendations against the truth (IRA = the operation's accounts):\n\n" + table(
        ["tier", "IRA accounts", "organic accounts"], rows
    )
    return body
