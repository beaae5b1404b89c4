"""Ingest killed with SIGKILL inside each commit step and at random moments (seeded): the case
opens, holds the state before the run or all of it, no post lacks its author's row, and the next
ingest gives a clean run's counts and leaves no staging. The 20-random-point version is the
``crash`` benchmark (``python -m benchmarks run crash``)."""

from __future__ import annotations

import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.crash import (
    COMMIT_STEPS,
    Bed,
    counts,
    fresh_case,
    make_bed,
    random_delays,
    recovery_killed,
    try_point,
)
from cibwatch.store.case import Case


@pytest.fixture(scope="module")
def bed(tmp_path_factory) -> Bed:
    # About 1.5 s a child run, half of it start-up: random kills land in reading and committing.
    return make_bed(tmp_path_factory.mktemp("crash-bed"), n_tweets=2_000, runs=1)


def _assert_ok(outcome) -> None:
    assert not outcome.unreadable, outcome.unreadable
    assert outcome.state in ("before", "after"), outcome.state
    assert outcome.orphans_after_crash == 0
    assert outcome.orphans_after_rerun == 0
    assert outcome.rerun_counts_ok
    assert outcome.stale == []


@pytest.mark.parametrize("step", COMMIT_STEPS)
def test_kill_inside_each_commit_step(bed, tmp_path, step):
    outcome = try_point(bed, tmp_path, f"step {step}", crash_at=step)
    assert outcome.killed, f"CIBWATCH_CRASH_AT={step} never fired"
    _assert_ok(outcome)
    # Before the manifest is written nothing is visible; from then on the whole run is.
    after_manifest = COMMIT_STEPS.index(step) >= COMMIT_STEPS.index("manifest")
    assert outcome.state == ("after" if after_manifest else "before")


def test_kill_inside_the_roll_forward_of_a_dead_run(bed, tmp_path):
    outcome = recovery_killed(bed, tmp_path)
    assert outcome.killed
    _assert_ok(outcome)
    assert outcome.state == "after"


@pytest.mark.parametrize("k", range(4))
def test_kill_at_random_moments(bed, tmp_path, k):
    delay = random_delays(bed, 4, seed=13)[k]
    outcome = try_point(bed, tmp_path, f"random {delay:.3f} s", kill_after=delay)
    _assert_ok(outcome)


def test_the_hook_fires_only_at_its_step(monkeypatch):
    # The named-step tests rely on the hook firing (they assert the child was killed).
    from cibwatch.store.case import CRASH_ENV, crash_point

    monkeypatch.setenv(CRASH_ENV, "no-such-step")
    crash_point("manifest")  # another step: nothing happens
    monkeypatch.delenv(CRASH_ENV)
    crash_point("manifest")


def test_the_check_sees_a_torn_part(bed, tmp_path):
    """Broken on purpose: a part without its footer in tables/ (what a kill during the old in-place
    stub write left) makes the case unreadable, and the check reports it."""
    case_dir = fresh_case(bed, tmp_path)
    good = Case.open(case_dir).parts("accounts")[0].read_bytes()
    (case_dir / "tables" / "accounts" / "part-torn.parquet").write_bytes(good[: len(good) // 2])
    with pytest.raises(Exception, match=r"(?i)parquet|magic|footer"):
        counts(case_dir)


def test_the_check_sees_an_orphaned_post(bed, tmp_path):
    """Broken on purpose: posts published without their stub rows are counted as orphans."""
    case_dir = fresh_case(bed, tmp_path)
    for part in Case.open(case_dir).parts("accounts"):
        if part.name.endswith("-stubs.parquet"):
            part.unlink()
    assert counts(case_dir)["orphans"] > 0


def test_a_live_runs_staging_is_not_removed(bed, tmp_path):
    """Staging held by a live run survives another run's cleanup; once that run is dead, it goes."""
    import subprocess
    import sys
    import time

    from cibwatch.ingest import ingest

    case_dir = fresh_case(bed, tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cibwatch.store.case import Case\n"
            "with Case.open(sys.argv[1]).run_folder() as f:\n"
            "    print(f, flush=True); time.sleep(60)",
            str(case_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        folder = holder.stdout.readline().strip()  # type: ignore[union-attr]
        assert folder, "the holder did not start"
        ingest(bed.files, case_dir, workers=1)
        assert counts(case_dir)["posts"] == bed.after["posts"]
        with Case.open(case_dir) as case, case.locked():
            assert case.recover() == []
        assert (case_dir / ".staging").is_dir() and any((case_dir / ".staging").iterdir())
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    time.sleep(0.05)
    with Case.open(case_dir):  # opening recovers: the dead run's folder is removed
        pass
    assert not (case_dir / ".staging").exists()


def test_old_style_leftover_staging_is_removed(bed, tmp_path):
    """A .staging folder without a run lock (as earlier versions left them) is stale."""
    from cibwatch.ingest import ingest

    case_dir = fresh_case(bed, tmp_path)
    leftover = case_dir / ".staging" / "0123456789ab" / "main"
    leftover.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), leftover / "posts.parquet")
    ingest(bed.files, case_dir, workers=1)
    assert not (case_dir / ".staging").exists()
    assert counts(case_dir) == bed.after  # the leftover's rows were not committed
