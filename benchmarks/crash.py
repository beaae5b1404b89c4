"""Crash safety: ingest killed with SIGKILL at random moments and inside each commit step.

After each kill the case must open, hold either its state before the run or the whole run (never
posts without their author's accounts row), and a second ingest of the same input must give the
counts of one clean ingest and leave no staging behind. ``tests/ingest/test_crash.py`` runs a
short version in CI; ``python -m benchmarks run crash`` runs 20 random points.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import benchmark, table
from benchmarks.ingest import synthetic_v1_jsonl

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data"
# The steps CIBWATCH_CRASH_AT names (see cibwatch.store.case) that an ingest of ``make_input``
# passes through; each one must kill the run.
COMMIT_STEPS = (
    "read",
    "write:posts",
    "write:accounts",
    "write:quarantine",
    "write:stubs",
    "written",
    "manifest",
    "publish",
    "published",
)
DRIVER = "import sys; from cibwatch.ingest import ingest; ingest(sys.argv[2:], sys.argv[1], workers=1)"
ORPHANS = """SELECT count(*) FROM posts p WHERE NOT EXISTS (
    SELECT 1 FROM accounts a WHERE a.platform = p.platform AND a.account_id = p.account_id)"""
TABLES = ("posts", "accounts", "account_labels", "quarantine")


@dataclass
class Bed:
    """An input, a case holding an earlier ingest, and the counts before and after a clean run."""

    files: list[Path]
    base: Path
    before: dict[str, int]
    after: dict[str, int]
    seconds: float  # a clean run of the driver, from its staging folder's appearance to its exit


@dataclass
class Outcome:
    point: str
    must_kill: bool = False  # a named step: not being killed there means the hook never fired
    killed: bool = False
    phase: str = ""  # where the kill landed, from what it left: see ``phase_left``
    unreadable: str = ""
    state: str = ""  # "before", "after" or the counts found
    orphans_after_crash: int = 0
    orphans_after_rerun: int = 0
    rerun_counts_ok: bool = False
    stale: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            (self.killed or not self.must_kill)
            and not self.unreadable
            and self.state in ("before", "after")
            and self.orphans_after_crash == 0
            and self.orphans_after_rerun == 0
            and self.rerun_counts_ok
            and not self.stale
        )


def make_bed(folder: Path, n_tweets: int, seed: int = 7, runs: int = 2) -> Bed:
    """Synthetic v1.1 tweets with a few bad lines (quarantine), a CoorTweet file (posts whose authors
    get stub rows), a base case that already holds a small ingest (deduplication against it), and
    the counts and the length (the slowest of ``runs``) of a clean run of the input into it."""
    from cibwatch.ingest import ingest

    inputs = folder / "input"
    inputs.mkdir(parents=True)
    tweets = inputs / "tweets.jsonl"
    synthetic_v1_jsonl(tweets, n_tweets, seed=seed)
    with open(tweets, "ab") as fh:
        fh.write(b'{"id": 1, "text": broken\n' * 3 + b"[1, 2\n")
    coortweet = inputs / "coortweet.csv"
    shutil.copy(FIXTURES / "coortweet" / "russian_coord_sample.csv", coortweet)
    base = folder / "base"
    ingest(
        [FIXTURES / "twitter-v2" / "sample.jsonl", FIXTURES / "coortweet" / "german_elections_sample.csv"],
        base,
    )
    before = counts(base)
    # Two clean runs; random kills are spread over the slower one (a shared machine's load varies).
    seconds = 0.0
    for k in range(runs):
        reference = folder / f"reference-{k}"
        shutil.copytree(base, reference)
        code, run_seconds = run_driver(reference, [tweets, coortweet])
        if code != 0:
            raise RuntimeError("the clean reference ingest failed")
        seconds = max(seconds, run_seconds)
    return Bed([tweets, coortweet], base, before, counts(reference), seconds)


def counts(case_dir: Path) -> dict[str, int]:
    from cibwatch.store.case import Case

    with Case.open(case_dir) as case:
        found = {t: int(case.scalar(f'SELECT count(*) FROM "{t}"')) for t in TABLES}  # type: ignore[arg-type]
        found["orphans"] = int(case.scalar(ORPHANS))  # type: ignore[arg-type]
    return found


def run_driver(
    case_dir: Path, files: list[Path], crash_at: str = "", kill_after: float | None = None
) -> tuple[int, float]:
    """Ingest ``files`` into ``case_dir`` in a child process, killed ``kill_after`` seconds after its
    staging folder appears (start-up, which a loaded machine stretches, is left out). Returns the
    exit code (-9 when killed) and the seconds from the staging folder's appearance to the exit."""
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "CIBWATCH_CRASH_AT"}
    if crash_at:
        env["CIBWATCH_CRASH_AT"] = crash_at
    args = [sys.executable, "-c", DRIVER, str(case_dir), *map(str, files)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None and not (case_dir / ".staging").exists():
            time.sleep(0.002)
        started = time.perf_counter()
        try:
            proc.wait(timeout=kill_after if kill_after is not None else 600)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        seconds = time.perf_counter() - started
        if proc.returncode not in (0, -signal.SIGKILL):
            err.seek(0)
            raise RuntimeError(
                f"ingest exited {proc.returncode}:\n{err.read().decode(errors='replace')[-3000:]}"
            )
    return proc.returncode, seconds


def try_point(
    bed: Bed, work: Path, point: str, crash_at: str = "", kill_after: float | None = None
) -> Outcome:
    """Copy the base case, kill an ingest into it, then check it as the next user would."""
    return kill_and_check(bed, fresh_case(bed, work), point, crash_at, kill_after)


def fresh_case(bed: Bed, work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(bed.base, work / "case")
    return work / "case"


def kill_and_check(
    bed: Bed, case_dir: Path, point: str, crash_at: str = "", kill_after: float | None = None
) -> Outcome:
    """Run (and kill) an ingest into ``case_dir``; open the case, check it, ingest again, check again."""
    from cibwatch.ingest import ingest

    outcome = Outcome(point, must_kill=bool(crash_at))
    outcome.killed = run_driver(case_dir, bed.files, crash_at, kill_after)[0] == -signal.SIGKILL
    outcome.phase = phase_left(case_dir)
    try:
        found = counts(case_dir)  # opens the case: a dead run's manifest is rolled forward here
    except Exception as exc:  # any failure to open is the finding
        outcome.unreadable = f"{type(exc).__name__}: {exc}"
        return outcome
    outcome.orphans_after_crash = found.pop("orphans")
    before = {k: v for k, v in bed.before.items() if k != "orphans"}
    after = {k: v for k, v in bed.after.items() if k != "orphans"}
    outcome.state = "before" if found == before else "after" if found == after else str(found)
    if outcome.phase == "start-up or done":
        outcome.phase = {"before": "start-up", "after": "done"}.get(outcome.state, outcome.phase)
    ingest(bed.files, case_dir, workers=1)
    again = counts(case_dir)
    outcome.orphans_after_rerun = again.pop("orphans")
    outcome.rerun_counts_ok = again == after
    outcome.stale = sorted(
        str(p.relative_to(case_dir))
        for p in case_dir.rglob("*")
        if p.name.endswith(".tmp") or ".staging" in p.parts or p.name == "manifest.json"
    )
    return outcome


def recovery_killed(bed: Bed, work: Path) -> Outcome:
    """A run killed after writing its manifest, then the next one killed inside the roll-forward."""
    case_dir = fresh_case(bed, work)
    if run_driver(case_dir, bed.files, "manifest")[0] != -signal.SIGKILL:
        raise RuntimeError("CIBWATCH_CRASH_AT=manifest did not kill the ingest")
    return kill_and_check(bed, case_dir, "step recover (after a kill at manifest)", "recover")


def phase_left(case_dir: Path) -> str:
    """Where a killed run was, from what it left: ``start-up or done`` (no staging), ``reading``,
    ``committing`` (deduplicating, or parts being written), ``publishing`` (manifest written) or
    ``cleaning up`` (all published, its folder not yet removed)."""
    runs = [p for p in (case_dir / ".staging").glob("*") if p.is_dir()]
    if not runs:
        return "start-up or done"
    commits = [p / "commit" for p in runs if (p / "commit").is_dir()]
    if any((c / "manifest.json").exists() for c in commits):
        return "publishing"
    if any(any(c.rglob("*.parquet")) for c in commits):
        return "committing"
    if any(any(d.is_dir() for d in c.iterdir()) for c in commits):
        return "cleaning up"
    return "committing" if commits else "reading"


def random_delays(bed: Bed, n: int, seed: int) -> list[float]:
    """Moments up to a quarter past a clean run's length (a loaded machine runs slower)."""
    rng = random.Random(seed)
    return sorted(round(rng.uniform(0.0, 1.25 * bed.seconds), 3) for _ in range(n))


@benchmark("crash", "Crash safety of ingest (kill -9)")
def run(smoke: bool) -> str:
    import tempfile

    n_random, n_tweets = (4, 5_000) if smoke else (20, 30_000)
    with tempfile.TemporaryDirectory(prefix="cibwatch-crash-") as tmp:
        bed = make_bed(Path(tmp) / "bed", n_tweets)
        outcomes = [
            try_point(bed, Path(tmp) / "work", f"random {delay:.3f} s", kill_after=delay)
            for delay in random_delays(bed, n_random, seed=13)
        ]
        outcomes += [try_point(bed, Path(tmp) / "work", f"step {s}", crash_at=s) for s in COMMIT_STEPS]
        outcomes.append(recovery_killed(bed, Path(tmp) / "work"))
    return report(bed, n_tweets, n_random, outcomes)


def report(bed: Bed, n_tweets: int, n_random: int, outcomes: list[Outcome]) -> str:
    """The figures and one row per kill point, as markdown."""
    rows = [
        [
            o.point,
            "yes" if o.killed else "no (finished)",
            o.phase,
            o.unreadable or "opens",
            o.state,
            o.orphans_after_crash,
            o.orphans_after_rerun,
            "yes" if o.rerun_counts_ok else "NO",
            ", ".join(o.stale) or "none",
        ]
        for o in outcomes
    ]
    finished = sum(not o.killed for o in outcomes[:n_random])
    clean = ", ".join(f"{k} {v:,}" for k, v in bed.after.items() if k != "orphans")
    odd_states = sum(o.state not in ("before", "after") for o in outcomes)
    phases: dict[str, int] = {}
    for o in outcomes[:n_random]:
        phases[o.phase] = phases.get(o.phase, 0) + 1
    landed = ", ".join(f"{name} {n}" for name, n in sorted(phases.items()))
    summary = (
        f"Input: {n_tweets:,} synthetic v1.1 tweets (+ 4 bad lines) and a CoorTweet sample, into a case "
        f"holding an earlier ingest; a clean run takes {bed.seconds:.2f} s after start-up. Random kills "
        "come 0 to 1.25 times that long after the run's staging folder appears. "
        f"Counts after a clean run: {clean}.\n\n"
        f"**{len(outcomes)} kill points** ({n_random} random, {finished} of them after the run had finished; "
        f"{len(COMMIT_STEPS)} commit steps; 1 inside recovery; random kills landed in: {landed}): "
        f"**{sum(bool(o.unreadable) for o in outcomes)} unreadable cases**, "
        f"**{sum(o.orphans_after_crash for o in outcomes)} orphaned posts** after a crash and "
        f"{sum(o.orphans_after_rerun for o in outcomes)} after the next run, "
        f"{odd_states} cases neither as before the run nor with all of it, "
        f"{sum(not o.rerun_counts_ok for o in outcomes)} re-ingests with other counts than a clean run's, "
        f"{sum(bool(o.stale) for o in outcomes)} with staging or temporary files left.\n\n"
    )
    if any(not o.ok for o in outcomes):
        summary = "**FAILED**: " + summary
    headers = [
        "kill point",
        "killed",
        "phase",
        "case",
        "state",
        "orphans",
        "after rerun",
        "rerun counts",
        "left",
    ]
    return summary + table(headers, rows)
