"""The benchmark suite runs at smoke size, so it cannot rot (full runs: `python -m benchmarks run`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_list_in_report_order():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = [line.split("\t")[0] for line in out.splitlines()]
    assert names[0] == "coord_realdata"  # real data first
    assert {"ingest", "coord", "simulate", "scan_realdata"} <= set(names)


def test_smoke_run_of_the_fast_benchmarks():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "ingest", "simulate", "--smoke", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| synthetic v1.1 JSONL (uncompressed) |" in proc.stdout
    assert "| demo | v2 |" in proc.stdout
    assert "_Failed" not in proc.stdout
