"""The review audit log: how long verification takes as the log grows, full and incremental.

    python -m benchmarks run review_log

A simulated case is scanned, then ``review.decide`` records decisions on its flagged accounts in
turn (the real write path: evidence snapshot, signature, checkpoint). At each size it times a full
``verify`` (what ``cibwatch review verify-log`` does), an incremental one with nothing new and one
after a new decision (what the web overview does on each load), and ``GET /`` in process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import benchmark, table

SIZES = (250, 1_000, 2_000)
SMOKE_SIZES = (20,)
REPEATS = 5


def _median_ms(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _scanned_case(root: Path) -> Path:
    from cibwatch.sim import simulate

    simulate("demo", out=root / "sim", seed=3, accounts=600, days=2)
    inputs = sorted(str(p) for p in (root / "sim" / "posts").glob("*.jsonl"))
    subprocess.run(
        [sys.executable, "-m", "cibwatch.cli.main", "scan", *inputs, "--out", str(root / "scan"),
         "--no-report", "-q"],
        check=True,
    )  # fmt: skip
    return root / "scan" / "case"


@benchmark("review_log", "Review audit log: verification time as the log grows")
def run(smoke: bool) -> str:
    from fastapi.testclient import TestClient

    from cibwatch import review
    from cibwatch.api import create_app
    from cibwatch.review import log
    from cibwatch.share import flagged_accounts
    from cibwatch.store.case import Case

    sizes = SMOKE_SIZES if smoke else SIZES
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        case_dir = _scanned_case(Path(tmp))
        recorded = 0
        for size in sizes:
            with Case.open(case_dir) as case:
                accounts = sorted(flagged_accounts(case))
                before, started = recorded, time.perf_counter()
                while recorded < size:
                    account = accounts[recorded % len(accounts)]
                    review.decide(case, account, "label", reviewer="ana", reason=f"decision {recorded}")
                    recorded += 1
                per_decision = (time.perf_counter() - started) * 1000 / max(1, recorded - before)
                assert log.verify(case).ok
                full = _median_ms(lambda c=case: log.verify(c))
                log.verify(case, incremental=True)
                nothing_new = _median_ms(lambda c=case: log.verify(case=c, incremental=True))
                review.decide(case, accounts[0], "label", reviewer="ana", reason="one more")
                recorded += 1
                started = time.perf_counter()
                report = log.verify(case, incremental=True)
                one_new = (time.perf_counter() - started) * 1000
                assert report.ok and report.checked == 1
            with TestClient(create_app(case_dir)) as client:
                client.get("/")
                page = _median_ms(lambda: client.get("/"))
            rows.append([recorded, f"{per_decision:.0f}", f"{full:.0f}", f"{nothing_new:.1f}",
                         f"{one_new:.1f}", f"{page:.0f}"])  # fmt: skip
    return (
        "Decisions recorded through `review.decide` on a scanned simulated case (600 accounts, 2 days), "
        f"median of {REPEATS} runs; times in ms.\n\n"
        + table(
            [
                "entries",
                "decide (per entry)",
                "verify, full",
                "incremental, nothing new",
                "incremental, 1 new",
                "GET / (overview)",
            ],
            rows,
        )
        + "\n\nA full check walks every entry: hashes, links, Ed25519 signatures and evidence snapshots. "
        "The incremental one recomputes an md5 of the rows already checked inside DuckDB and walks "
        "only newer entries; the overview uses it.\n"
    )
