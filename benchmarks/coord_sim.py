"""Coordination on fresh simulator seeds: what `cibwatch scan` with defaults finds in unseen worlds.

For each seed: ``cibwatch simulate --seed S --out WORLD`` (the CLI's default scenario, demo size),
``cibwatch scan WORLD/posts --out OUT`` with defaults, then the simulator's scorecard twice: for
the scan's recommendation policy (flagged = the tiers ``scan --demo`` scores) and for the
coordination stage alone (flagged = accounts OUT/coord/accounts.csv calls coordinated).

Seeds come in two groups: DEV_SEEDS, used while developing, and HOLDOUT_SEEDS, run only when
CIBWATCH_SIM_HOLDOUT=1 so that they stay unseen until the end.

    python -m benchmarks run coord_sim                           # dev seeds, into docs
    CIBWATCH_SIM_HOLDOUT=1 python -m benchmarks run coord_sim    # dev and holdout seeds
    python benchmarks/coord_sim.py --seeds 21 22 --jobs 1        # prints markdown, writes nothing

Worlds are cached per seed under CIBWATCH_BENCH_CACHE (keyed by the sim package's source hash);
scans always rerun.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl

from benchmarks.coord_realdata import CACHE
from benchmarks.harness import benchmark, run_measured, table
from cibwatch.sim.scorecard import Scorecard, scorecard

DEV_SEEDS = (21, 22, 23)
HOLDOUT_SEEDS = (101, 102, 103)
HOLDOUT_ENV = "CIBWATCH_SIM_HOLDOUT"
# None: the scenario's own size. Smoke: a small world of the same scenario (about 10 s in all).
FULL_SIZE: tuple[int | None, int | None] = (None, None)
SMOKE_SIZE: tuple[int | None, int | None] = (400, 2)
BARS = {"precision": 0.90, "recall": 0.70, "tactic_recall": 0.5, "trap_fp": 0.05}
CIBWATCH = [sys.executable, "-m", "cibwatch.cli.main"]
ID = {"account_id": pl.String}  # ids stay strings: large ids must not become floats


@dataclass
class SeedRun:
    seed: int
    scan: Scorecard  # the policy's flagged accounts
    coord: Scorecard  # the coordination stage's accounts
    simulate_s: float | None  # None: the world came from the cache
    scan_s: float
    scan_rss_mb: float


# -- running -----------------------------------------------------------------------------
def sim_source_hash() -> str:
    """A hash of the simulator's source: the cached worlds are valid while it is unchanged."""
    import cibwatch.sim

    root = Path(cibwatch.sim.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def world(seed: int, size: tuple[int | None, int | None]) -> tuple[Path, float | None]:
    """The simulated world for ``seed`` (cached) and the seconds simulate took (None if cached)."""
    accounts, days = size
    cache = CACHE / "coord-sim"
    stem = f"a{accounts or 'default'}-d{days or 'default'}-seed{seed}"
    target = cache / f"{stem}-{sim_source_hash()}"
    if (target / "manifest.json").exists():
        return target, None
    for stale in cache.glob(f"{stem}-*"):  # the same world from older simulator code
        shutil.rmtree(stale, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    args = [*CIBWATCH, "simulate", "--seed", str(seed), "--out", str(tmp), "-q"]
    if accounts:
        args += ["--accounts", str(accounts)]
    if days:
        args += ["--days", str(days)]
    measured = run_measured(args)
    try:
        tmp.rename(target)
    except OSError:  # another run cached it meanwhile: same seed and code, same bytes
        shutil.rmtree(tmp, ignore_errors=True)
    return target, measured.seconds


def policy_flagged(accounts_csv: Path) -> pl.Series:
    """Accounts the scan puts before a reviewer: the same definition as `cibwatch scan --demo`'s scorecard."""
    from cibwatch.schema import FLAGGED_TIERS

    accounts = pl.read_csv(accounts_csv, schema_overrides=ID)
    return accounts.filter(pl.col("recommendation").is_in(FLAGGED_TIERS))["account_id"]


def run_seed(seed: int, size: tuple[int | None, int | None]) -> SeedRun:
    """Simulate (or reuse) the world of ``seed``, scan it with defaults, score both flagged sets."""
    truth, simulate_s = world(seed, size)
    with tempfile.TemporaryDirectory(prefix=f"coord-sim-{seed}-") as tmp:
        out = Path(tmp) / "scan"
        measured = run_measured([*CIBWATCH, "scan", str(truth / "posts"), "--out", str(out), "-q"])
        coord_accounts = pl.read_csv(out / "coord" / "accounts.csv", schema_overrides=ID).filter(
            pl.col("status") == "coordinated"
        )
        return SeedRun(
            seed=seed,
            scan=scorecard(truth, policy_flagged(out / "accounts.csv")),
            coord=scorecard(truth, coord_accounts["account_id"]),
            simulate_s=simulate_s,
            scan_s=measured.seconds,
            scan_rss_mb=measured.peak_rss_mb,
        )


def run_seeds(seeds: list[int], size: tuple[int | None, int | None], jobs: int = 1) -> list[SeedRun]:
    """One SeedRun per seed, in order; ``jobs`` seeds at once (each in its own child processes)."""
    if jobs <= 1:
        return [run_seed(s, size) for s in seeds]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda s: run_seed(s, size), seeds))


def group_of(seeds: list[int]) -> str:
    if tuple(seeds) == DEV_SEEDS:
        return "dev"
    if tuple(seeds) == HOLDOUT_SEEDS:
        return "holdout"
    if tuple(seeds) == DEV_SEEDS + HOLDOUT_SEEDS:
        return "dev and holdout"
    return "custom"


# -- reporting ---------------------------------------------------------------------------
LABELS = (("scan", "scan (policy)"), ("coord", "coordination alone"))


def render(runs: list[SeedRun], size: tuple[int | None, int | None], jobs: int = 1) -> str:
    """The benchmark's markdown: settings, per-seed figures, acceptance, per-tactic tables."""
    seeds = [r.seed for r in runs]
    group = group_of(seeds)
    listed = ", ".join(map(str, seeds))
    if "holdout" in group:
        which = f"**{group}** seeds ({listed}); the holdout seeds run because {HOLDOUT_ENV}=1."
    else:
        held = ", ".join(map(str, HOLDOUT_SEEDS))
        which = f"**{group}** group ({listed}); the holdout group ({held}) was not run."
    accounts, days = size
    world_size = (
        "the scenario's size"
        if size == FULL_SIZE
        else f"a small world (`--accounts {accounts} --days {days}`, smoke)"
    )
    intro = _prose(
        f"""Seeds: {which} World: `cibwatch simulate --seed S` with the CLI's default scenario (demo:
        every tactic and trap), {world_size}; the demo itself is seed 7. Scan: `cibwatch scan WORLD/posts
        --out OUT` with defaults. Flagged (scan) = accounts.csv rows with recommendation review or
        enforce-eligible, as `scan --demo` scores; flagged (coordination alone) = the accounts in
        OUT/coord/accounts.csv whose status is `coordinated` (not `crowd` or `weak`). Precision and
        recall count operation accounts as positives and every organic account (traps included) as
        negatives."""
    )
    parts = [intro, "### Per seed\n\n" + _per_seed(runs, jobs), "### Acceptance\n\n" + _acceptance(runs)]
    for attr, label in LABELS:
        parts.append(f"### Per tactic and trap: {label}\n\n" + _per_tactic(runs, attr))
    return "\n\n".join(parts)


def _per_seed(runs: list[SeedRun], jobs: int) -> str:
    rows = []
    for r in runs:
        for attr, label in LABELS:
            s = getattr(r, attr).summary
            rows.append(
                [
                    r.seed,
                    label,
                    _f(s["precision"]),
                    _f(s["recall"]),
                    _f(s["f1"]),
                    f"{s['true_positives']:,}/{s['operation_accounts']:,}",
                    f"{s['organic_flagged']:,}/{s['organic_accounts']:,}",
                ]
                + (
                    [
                        "cached" if r.simulate_s is None else f"{r.simulate_s:.1f}",
                        f"{r.scan_s:.1f}",
                        f"{r.scan_rss_mb:,.0f}",
                    ]
                    if attr == "scan"
                    else ["", "", ""]
                )
            )
    headers = [
        "seed",
        "flagged by",
        "precision",
        "recall",
        "F1",
        "operation flagged",
        "organic flagged",
        "simulate s",
        "scan s",
        "scan peak RSS MB",
    ]
    note = "Seconds are wall time of each child process on a shared 2-core machine"
    note += f", {jobs} seeds at once." if jobs > 1 else ", one seed at a time."
    unknown = [
        f"seed {r.seed} ({label}): {getattr(r, attr).summary['flagged_unknown']:,}"
        for r in runs
        for attr, label in LABELS
        if getattr(r, attr).summary["flagged_unknown"]
    ]
    if unknown:
        note += " Flagged ids not in the truth (counted nowhere): " + "; ".join(unknown) + "."
    return table(headers, rows) + "\n\n" + note


def failures(card: Scorecard) -> list[str]:
    """The acceptance bars a scorecard misses (empty: all met)."""
    s, missed = card.summary, []
    if s["precision"] is None or s["precision"] < BARS["precision"]:
        missed.append(f"precision {_f(s['precision'])} < {BARS['precision']:.2f}")
    if s["recall"] is None or s["recall"] < BARS["recall"]:
        missed.append(f"recall {_f(s['recall'])} < {BARS['recall']:.2f}")
    for row in card.table.iter_rows(named=True):
        share = row["share_flagged"]
        if row["group"] == "operation" and share < BARS["tactic_recall"]:
            missed.append(f"{row['name']} recall {_pct(share)} < {BARS['tactic_recall']:.0%}")
        elif row["group"] == "trap" and share > BARS["trap_fp"]:
            missed.append(f"{row['name']} false pos. {_pct(share)} > {BARS['trap_fp']:.0%}")
    return missed


def _acceptance(runs: list[SeedRun]) -> str:
    lines = [
        _prose(
            f"""Bars, on each seed: precision ≥ {BARS["precision"]:.2f} and recall ≥ {BARS["recall"]:.2f};
            each tactic's recall ≥ {BARS["tactic_recall"]:.0%}; each trap's false-positive share ≤
            {BARS["trap_fp"]:.0%}. The bars are for the scan (what a user gets); coordination alone is
            held to the same bars for comparison."""
        ),
        "",
    ]
    for attr, label in LABELS:
        met = 0
        for r in runs:
            missed = failures(getattr(r, attr))
            met += not missed
            verdict = "**met**" if not missed else "**NOT met**: " + "; ".join(missed)
            lines.append(f"- seed {r.seed}, {label}: {verdict}")
        lines.append(f"- {label}: bars met on {met} of {len(runs)} seeds.")
    return "\n".join(lines)


def _per_tactic(runs: list[SeedRun], attr: str) -> str:
    order = {"operation": 0, "trap": 1, "organic": 2}
    cells: dict[tuple[str, str], dict[int, str]] = {}
    for r in runs:
        for row in getattr(r, attr).table.iter_rows(named=True):
            cell = f"{_pct(row['share_flagged'])} ({row['flagged']:,}/{row['accounts']:,})"
            cells.setdefault((row["group"], row["name"]), {})[r.seed] = cell
    rows = [
        [group, name, "recall" if group == "operation" else "false pos."]
        + [by_seed.get(r.seed, "—") for r in runs]
        for (group, name), by_seed in sorted(cells.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))
    ]
    return table(["group", "tactic / trap", "share flagged"] + [f"seed {r.seed}" for r in runs], rows)


def _prose(text: str) -> str:
    return " ".join(text.split())


def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


# -- entry points ------------------------------------------------------------------------
def chosen_seeds(smoke: bool = False) -> list[int]:
    """The dev seeds, and the holdout seeds too when CIBWATCH_SIM_HOLDOUT=1; one dev seed for smoke."""
    if smoke:
        return [DEV_SEEDS[0]]
    return list(DEV_SEEDS + HOLDOUT_SEEDS if os.environ.get(HOLDOUT_ENV) == "1" else DEV_SEEDS)


@benchmark("coord_sim", "Coordination on fresh simulator seeds")
def run(smoke: bool) -> str:
    size = SMOKE_SIZE if smoke else FULL_SIZE
    return render(run_seeds(chosen_seeds(smoke), size), size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the dev seeds")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once (default 1)")
    parser.add_argument("--smoke", action="store_true", help="small worlds")
    args = parser.parse_args()
    seeds = args.seeds or chosen_seeds()
    holdout = sorted(set(seeds) & set(HOLDOUT_SEEDS))
    if holdout and os.environ.get(HOLDOUT_ENV) != "1":
        parser.error(f"seeds {holdout} are held out; set {HOLDOUT_ENV}=1 to run them (only at the end)")
    size = SMOKE_SIZE if args.smoke else FULL_SIZE
    print(render(run_seeds(seeds, size, args.jobs), size, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
