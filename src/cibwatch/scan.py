"""The main job: ingest → bot scores → coordination → campaigns → report, in one call.

Each stage reads and writes the case's tables; this module only sequences them and
writes the analyst-facing CSV files. ``cibwatch scan`` is its command-line client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from cibwatch.store.case import Case

Progress = Callable[[dict[str, Any]], None]


@dataclass
class ScanResult:
    out: Path
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "counts": self.counts,
            "files": {k: str(v) for k, v in self.files.items()},
        }


def scan(
    inputs: list[str | Path],
    out: str | Path,
    *,
    format: str = "auto",
    traces: list[str] | str | None = None,
    window: float | str = 60.0,
    policy: str | Path | None = None,
    report: bool = True,
    progress: Progress | None = None,
    file_progress: Progress | None = None,
) -> ScanResult:
    """Run the whole pipeline on ``inputs`` (files, or an existing case directory) into ``out``.

    >>> result = scan(["tweets.jsonl.gz"], "out")     # doctest: +SKIP
    >>> result.files["accounts"]                      # doctest: +SKIP
    PosixPath('out/accounts.csv')
    """
    from cibwatch import bots, campaigns, coord
    from cibwatch.campaigns import load_policy
    from cibwatch.ingest import ingest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = ScanResult(out=out)

    def step(name: str, done: int, total: int = 5) -> None:
        if progress:
            progress({"step": "scan", "name": name, "done": done, "total": total})

    t0 = time.perf_counter()
    case_inputs = [Path(p) for p in inputs]
    if len(case_inputs) == 1 and (case_inputs[0] / "case.json").exists():
        case_dir = case_inputs[0]
    else:
        case_dir = out / "case"
        step("ingest", 0)
        ingested = ingest(case_inputs, case_dir, format=format, progress=file_progress)
        result.counts["ingest"] = {
            "records_read": ingested.total("records_read"),
            "stored": ingested.total("records_stored"),
            "duplicates": ingested.total("duplicates"),
            "quarantined": ingested.total("quarantined"),
            "reconciles": ingested.reconciles,
        }
        result.seconds["ingest"] = time.perf_counter() - t0

    with Case.open(case_dir) as case:
        t0 = time.perf_counter()
        step("bot scores", 1)
        scores = bots.score_case(case)
        result.counts["bot_scored"] = scores.height
        result.seconds["bots"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        step("coordination", 2)
        found = coord.detect(case, traces=traces, window=window)
        coord.save_to_case(found, case)
        coord_files = coord.write_outputs(found, out / "coord")
        result.files.update({f"coord_{k}": Path(v) for k, v in coord_files.items()})
        result.counts["coord_edges"] = found.edges.height
        result.counts["coord_accounts"] = found.accounts.height
        result.counts["coord_clusters"] = found.clusters.height
        result.seconds["coord"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        step("campaigns", 3)
        assembled = campaigns.assemble(case, policy=load_policy(policy) if policy else None)
        result.counts["campaigns"] = case.scan("campaigns").select(pl.len()).collect().item()
        result.counts["tiers"] = {k: v for k, v in assembled.tiers.items() if k != "none"}
        result.files["accounts"] = out / "accounts.csv"
        campaigns.accounts_summary(case).write_csv(result.files["accounts"])
        result.files["campaigns"] = out / "campaigns.csv"
        campaigns.campaigns_summary(case).write_csv(result.files["campaigns"])
        result.seconds["campaigns"] = time.perf_counter() - t0

        if report:
            from cibwatch.report import render

            t0 = time.perf_counter()
            step("report", 4)
            result.files["report"] = render(case, out / "report.html")
            result.seconds["report"] = time.perf_counter() - t0
        step("done", 5)
    (out / "scan.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result
