"""The benchmark suite runs at smoke size, so it cannot rot (full runs: `python -m benchmarks run`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_list_in_report_order():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = [line.split("\t")[0] for line in out.splitlines()]
    assert names[0] == "coord_realdata"  # real data first
    assert {"ingest", "coord", "coord_sim", "simulate", "scan_realdata"} <= set(names)


SMOKE = [
    "coord_realdata",
    "scan_realdata",
    "coord_neartext",
    "coord_timing",
    "ingest",
    "coord_sim",
    "coord",
    "simulate",
    "watch_replay",
    "watch_mix",  # skipped without the coord_realdata corpus
]


@pytest.mark.slow  # runs the real-data benchmarks too when ../shared is present
def test_smoke_run_of_the_fast_benchmarks():
    # bots_lodo and scaling are left out: about a minute each even at smoke size.
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", *SMOKE, "--smoke", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| synthetic v1.1 JSONL (uncompressed) |" in proc.stdout
    assert "| demo | v2 |" in proc.stdout
    assert "| 21 | coordination alone |" in proc.stdout
    assert "_Failed" not in proc.stdout
    if SHARED_DATA.is_dir():  # without ../shared the real-data benchmarks only say they skipped
        assert "| cibwatch | traces repost," in proc.stdout
        assert "| QUT toolkit | co_retweet" in proc.stdout
