"""The main job: ingest → bot scores → coordination → campaigns → report, in one call.

Each stage reads and writes the case's tables (``run(case, params)``, ``cibwatch.stage``); this
module only sequences them and writes the analyst-facing CSV files. ``cibwatch scan`` is its
command-line client.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cibwatch.errors import ConfigError
from cibwatch.export import write_csv
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store.case import Case


@dataclass
class ScanResult:
    out: Path
    seconds: dict[str, float] = field(default_factory=dict)
    # What each stage went through, as (count, unit): its rate is count / seconds.
    sizes: dict[str, tuple[int, str]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def rate(self, stage: str) -> float | None:
        """Per second, of the stage's ``sizes`` unit; None for a stage without one."""
        if stage not in self.sizes or not self.seconds.get(stage):
            return None
        return self.sizes[stage][0] / self.seconds[stage]

    def finished(self, stage: str) -> str:
        """A line on a finished stage: its time and, where it has one, its rate."""
        line = f"{stage}: {self.seconds[stage]:.1f} s"
        rate = self.rate(stage)
        if rate is not None:
            n, unit = self.sizes[stage]
            line += f", {n:,} {unit} ({rate:,.0f} {unit}/s)"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "per_second": {
                f"{k} ({self.sizes[k][1]})": round(r, 1)
                for k in self.seconds
                if (r := self.rate(k)) is not None
            },
            "counts": self.counts,
            "files": {k: str(v) for k, v in self.files.items()},
        }


def scan(
    inputs: list[str | Path],
    out: str | Path,
    *,
    format: str = "auto",
    mapping: str | None = None,
    tz: str = "UTC",
    traces: list[str] | str | None = None,
    window: float | str | dict[str, float | str] | None = None,
    policy: str | Path | None = None,
    report: bool = True,
    append: bool = False,
    engine: str = "duckdb",
    progress: Progress | None = None,
    file_progress: Progress | None = None,
) -> ScanResult:
    """Run the whole pipeline on ``inputs`` (files, or an existing case directory) into ``out``.

    ``out`` must be new or empty unless ``append`` is true, which ingests into the case already in
    ``out/case`` and rewrites the outputs beside it. ``engine``: where coordination runs, "duckdb"
    or "spark" (``coord.detect``). A scan that fails removes what it created
    (see ``output_folder``).

    >>> result = scan(["tweets.jsonl.gz"], "out")     # doctest: +SKIP
    >>> result.files["accounts"]                      # doctest: +SKIP
    PosixPath('out/accounts.csv')
    """
    out = Path(out)
    with output_folder(out, append=append):
        return _scan(
            [Path(p) for p in inputs],
            out,
            format=format,
            mapping=mapping,
            tz=tz,
            traces=traces,
            window=window,
            policy=policy,
            report=report,
            engine=engine,
            progress=progress,
            file_progress=file_progress,
        )


@contextmanager
def output_folder(out: Path, *, append: bool = False) -> Iterator[Path]:
    """Create ``out`` for a run, refusing a non-empty one unless ``append``; on failure, remove what
    the run created there (the folder itself and any parents it made, or the new entries of a folder
    that existed) and leave what was there before untouched.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with output_folder(root / "a" / "out") as out:
    ...     (out / "accounts.csv").touch()
    >>> with output_folder(root / "a" / "out"):
    ...     pass
    Traceback (most recent call last):
    cibwatch.errors.ConfigError: The output folder ... is not empty (it holds accounts.csv). Pass --append ...
    >>> with output_folder(root / "b" / "out") as out:
    ...     raise RuntimeError("a stage failed")
    Traceback (most recent call last):
    RuntimeError: a stage failed
    >>> sorted(p.name for p in root.iterdir())
    ['a']
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder (new or empty) for the scan's outputs.")
    before = {p.name for p in out.iterdir()} if out.exists() else None
    if before and not append:
        held = ", ".join(sorted(before)[:5]) + (", …" if len(before) > 5 else "")
        raise ConfigError(
            f"The output folder {out} is not empty (it holds {held}). Pass --append to add this scan "
            "to the case in it, or give a new or empty --out folder."
        )
    created = out
    while not created.parent.exists():
        created = created.parent
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if before is None:
            shutil.rmtree(created, ignore_errors=True)
        else:
            for path in out.iterdir():
                if path.name not in before:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        raise


def _scan(
    inputs: list[Path],
    out: Path,
    *,
    format: str,
    mapping: str | None,
    tz: str,
    traces: list[str] | str | None,
    window: float | str | dict[str, float | str] | None,
    policy: str | Path | None,
    report: bool,
    engine: str,
    progress: Progress | None,
    file_progress: Progress | None,
) -> ScanResult:
    from cibwatch import bots, campaigns, coord
    from cibwatch.ingest import ingest

    result = ScanResult(out=out)

    def step(phase: str, done: int, total: int = 5, finished: str | None = None) -> None:
        if progress:
            detail = {"phase": phase} | ({"summary": result.finished(finished)} if finished else {})
            progress(ProgressEvent("scan", "scan", done, total, detail=detail))

    t0 = time.perf_counter()
    if len(inputs) == 1 and (inputs[0] / "case.json").exists():
        case_dir = inputs[0]
    else:
        case_dir = out / "case"
        step("ingest", 0)
        ingested = ingest([*inputs], case_dir, format=format, mapping=mapping, tz=tz, progress=file_progress)
        result.counts["ingest"] = {
            "units_read": ingested.total("units_read"),
            "records": ingested.total("records_emitted"),
            "stored": ingested.total("records_stored"),
            "duplicates_in_run": ingested.total("in_run_duplicates"),
            "duplicates_in_case": ingested.total("in_case_duplicates"),
            "conflicting": ingested.total("conflicting_duplicates"),
            "quarantined": ingested.total("quarantined"),
            "reconciles": ingested.reconciles,
            "imbalances": ingested.imbalances(),
            "notes": ingested.notes,
        }
        result.seconds["ingest"] = time.perf_counter() - t0
        result.sizes["ingest"] = (result.counts["ingest"]["records"], "records")

    with Case.open(case_dir) as case:
        t0 = time.perf_counter()
        step("bot scores", 1, finished="ingest" if "ingest" in result.seconds else None)
        scored = bots.run(case, bots.BotsParams(), progress=progress)
        result.counts["bot_scored"] = scored.tables["bot_scores"]
        result.seconds["bots"] = time.perf_counter() - t0
        result.sizes["bots"] = (scored.tables["bot_scores"], "accounts")

        t0 = time.perf_counter()
        step("coordination", 2, finished="bots")
        params = coord.CoordParams(traces=traces, window=window, engine=engine)
        found = coord.run(case, params, progress=progress)
        coord_files = coord.write_outputs(found.result, out / "coord")
        result.files.update({f"coord_{k}": Path(v) for k, v in coord_files.items()})
        for table in ("coord_edges", "coord_accounts", "coord_clusters"):
            result.counts[table] = found.tables[table]
        result.seconds["coord"] = time.perf_counter() - t0
        if case.has_table("posts"):
            posts = int(cast(int, case.scalar(f"SELECT count(*) FROM {case.table_sql('posts')}")))
            result.sizes["coord"] = (posts, "posts")

        t0 = time.perf_counter()
        step("campaigns", 3, finished="coord")
        assembled = campaigns.run(case, campaigns.CampaignsParams(policy=policy or None), progress=progress)
        result.counts["campaigns"] = assembled.tables["campaigns"]
        result.counts["tiers"] = {k: v for k, v in assembled.result.tiers.items() if k != "none"}
        result.files["accounts"] = out / "accounts.csv"
        write_csv(campaigns.accounts_summary(case), result.files["accounts"])
        result.files["campaigns"] = out / "campaigns.csv"
        write_csv(campaigns.campaigns_summary(case), result.files["campaigns"])
        result.seconds["campaigns"] = time.perf_counter() - t0

        if report:
            from cibwatch.report import render

            t0 = time.perf_counter()
            step("report", 4, finished="campaigns")
            result.files["report"] = render(case, out / "report.html", progress=progress)
            result.seconds["report"] = time.perf_counter() - t0
        step("done", 5, finished="report" if report else "campaigns")
    tmp = out / f".scan.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    os.replace(tmp, out / "scan.json")
    return result
