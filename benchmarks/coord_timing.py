"""Timing-only coordination: lockstep accounts among real organic timelines.

    python -m benchmarks run coord_timing
    python benchmarks/coord_timing.py --out /tmp/timing      # build the corpus only, print its paths

Some operations leave only times: accounts that post (and delete) in lockstep, with no text, no
repost ids, no links. The corpus keeps (account, post id, time) of real organic posts, cresci-2015
genuine timelines and twitter15-16 retweet times, each source moved by one whole-week shift into one
period, and adds planted lockstep groups whose moments follow the organic daily rhythm. It is written
as a QUT toolkit CSV with every field but ids and times empty, built once per inputs and settings and
cached (``corpus.json`` key; CIBWATCH_BENCH_CACHE moves the cache).

Each run ingests the CSV into a fresh case (timed apart), then times ``cibwatch coord CASE --out DIR``
in a child process: with the default traces, and with ``--traces sync`` (time bins).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import itertools
import json
import lzma
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

if __name__ == "__main__" and not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.coord_realdata import CACHE
from benchmarks.harness import SHARED_DATA, Measured, benchmark, run_measured, shared, table
from cibwatch.evaluate.corpus import DAY_MS, alignment_shift_ms, twitter1516_tied_accounts

CRESCI = ("io", "cresci-2015", "genuine_timelines_sample600.csv.xz")
T1516 = ("io", "twitter15-16", "cascade_edges_flat.csv.gz")
# cresci-2015's busiest 36 weeks (its shift is 0); twitter15-16's busiest 36 weeks are moved onto them.
PERIOD = (datetime(2012, 7, 21, tzinfo=UTC), datetime(2012, 7, 21, tzinfo=UTC) + timedelta(weeks=36))
QUT_COLUMNS = ("message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls")
CORPUS_VERSION = 2  # bump when the build changes, so cached corpora are rebuilt
RHYTHM_SPREAD_S = 1800  # planted times: an organic post's time ± 30 min, so the daily rhythm is kept
ORGANIC_CAP = 1_000_000


@dataclass(frozen=True)
class Group:
    """One planted lockstep group: ``size`` accounts post together at ``moments`` times.

    At each moment each member posts with probability ``participation``, ``U(0, jitter_s)`` seconds
    after it; each member also posts about ``independent`` times (Poisson) on its own.
    """

    size: int
    moments: int
    participation: float
    jitter_s: float
    independent: float = 40.0


# 290 accounts, about 56k posts (~5 % of the corpus); jitter from a few seconds to a minute.
GROUPS = (
    Group(20, 400, 0.9, 5),
    Group(30, 300, 0.85, 15),
    Group(40, 250, 0.8, 30),
    Group(50, 200, 0.75, 45),
    Group(70, 150, 0.8, 60),
    Group(80, 100, 0.7, 60),
)
SMOKE_GROUPS = (Group(8, 60, 0.85, 10, 10), Group(10, 50, 0.8, 30, 10), Group(12, 40, 0.75, 60, 10))
# The smoke corpus: the heads of the inputs, ~20k organic posts, 30 planted accounts.
SMOKE: dict[str, Any] = {"organic_cap": 20_000, "groups": SMOKE_GROUPS, "head_rows": 60_000}
RUNS = (("default traces", "default", []), ("--traces sync", "sync", ["--traces", "sync"]))
LISTED, COORDINATED = "listed", "coordinated"  # all of accounts.csv, or its status 'coordinated' rows
BAR = {"precision": 0.95, "recall": 0.85, "seconds": 60.0}


# -- corpus ------------------------------------------------------------------------------
def build_timing_corpus(
    out_dir: str | Path,
    seed: int = 0,
    *,
    organic_cap: int = ORGANIC_CAP,
    groups: tuple[Group, ...] = GROUPS,
    head_rows: int | None = None,
    data_root: str | Path = SHARED_DATA,
    reuse: bool = True,
) -> tuple[Path, Path]:
    """Write ``posts.csv`` (QUT CSV, times only), ``truth.csv`` and ``corpus.json`` in ``out_dir``.

    Returns (posts.csv, truth.csv). truth.csv has one row per account: account_id, role
    ("planted"/"organic"), source, group (planted: G1…), n_posts, tied (a twitter15-16 account with
    a retweet whose delay ties another user's in the same cascade, FINDINGS). A folder built with
    the same inputs and settings is reused unless ``reuse`` is false. ``head_rows`` reads only the
    first rows of each input (quick corpora for tests and smoke runs).

    >>> posts, truth = build_timing_corpus("/tmp/timing", organic_cap=20_000)  # doctest: +SKIP
    """
    out = Path(out_dir)
    root = Path(data_root)
    inputs = [root.joinpath(*CRESCI), root.joinpath(*T1516)]
    for path in inputs:
        if not path.exists():
            raise FileNotFoundError(f"{path} is absent; the timing corpus reads ../shared/data/io")
    key = _key(inputs, seed, organic_cap, groups, head_rows)
    posts_path, truth_path = out / "posts.csv", out / "truth.csv"
    if reuse and read_summary(out).get("key") == key and posts_path.exists() and truth_path.exists():
        return posts_path, truth_path
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    cresci, (t1516, tied) = _read_cresci(inputs[0], head_rows), _read_t1516(inputs[1], head_rows)
    t1516 = t1516.filter(~pl.col("account_id").is_in(cresci["account_id"].unique().implode()))
    sources, shifts = [], {}
    for frame in (cresci, t1516):
        name = frame["source"][0]
        shifts[name] = _shift_s(frame)
        sources.append(_in_period(frame.with_columns(pl.col("t") + shifts[name])))
    organic = _cap(sources, organic_cap, rng)
    planted = _plant(organic, groups, rng)
    posts = pl.concat([organic, planted]).sort("t", "post_id")
    if posts["post_id"].n_unique() != posts.height:  # the store would merge them silently
        raise RuntimeError("duplicate post ids in the timing corpus")
    out.mkdir(parents=True, exist_ok=True)
    _write_qut(posts, posts_path)
    truth = (
        posts.group_by("account_id", "source", "group")
        .agg(n_posts=pl.len())
        .with_columns(
            role=pl.when(pl.col("source") == "planted").then(pl.lit("planted")).otherwise(pl.lit("organic")),
            # The 9 accounts also in cresci-2015 keep only their cresci posts, so not their ties.
            tied=(pl.col("source") == "twitter15-16") & pl.col("account_id").is_in(tied.implode()),
        )
        .select("account_id", "role", "source", "group", "n_posts", "tied")
        .sort("role", "source", "account_id")
    )
    truth.write_csv(truth_path)
    by_source = posts.group_by("source").agg(posts=pl.len(), accounts=pl.col("account_id").n_unique())
    summary = {
        "key": key,
        "seed": seed,
        "organic_cap": organic_cap,
        "head_rows": head_rows,
        "period": [PERIOD[0].isoformat(), PERIOD[1].isoformat()],
        "shift_days": {k: v / 86_400 for k, v in shifts.items()},
        "groups": [asdict(g) for g in groups],
        "counts": {
            "posts": posts.height,
            "organic_accounts": truth.filter(pl.col("role") == "organic").height,
            "planted_accounts": truth.filter(pl.col("role") == "planted").height,
            "tied_accounts": truth.filter(pl.col("tied")).height,
            "by_source": {s: {"posts": p, "accounts": a} for s, p, a in by_source.sort("source").iter_rows()},
        },
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    return posts_path, truth_path


def read_summary(out_dir: str | Path) -> dict:
    """The corpus.json of a built corpus folder, or {}."""
    path = Path(out_dir) / "corpus.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_truth(truth_path: str | Path) -> pl.DataFrame:
    """truth.csv with its types: ids as strings, n_posts an integer, tied a boolean."""
    return pl.read_csv(truth_path, infer_schema=False).with_columns(
        pl.col("n_posts").cast(pl.Int64), pl.col("tied") == "true"
    )


def planted_accounts(truth_path: str | Path) -> set[str]:
    """The planted account ids of a truth.csv."""
    return set(load_truth(truth_path).filter(pl.col("role") == "planted")["account_id"])


def _key(inputs: list[Path], seed: int, cap: int, groups: tuple[Group, ...], head: int | None) -> str:
    parts: list[object] = [CORPUS_VERSION, seed, cap, [asdict(g) for g in groups], str(PERIOD), head]
    for path in inputs:
        stat = path.stat()
        parts.append([str(path.resolve()), stat.st_size, int(stat.st_mtime)])
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).hexdigest()


def _read_csv(path: Path, columns: list[str], head_rows: int | None) -> pl.DataFrame:
    """The named columns of a compressed CSV, as strings; only the first ``head_rows`` rows if given."""
    opener = lzma.open if path.suffix == ".xz" else gzip.open
    if head_rows is None:
        with opener(path) as fh:
            return pl.read_csv(fh.read(), columns=columns, infer_schema=False)
    # Stream just the head: decompressing a whole input is most of a small build's time.
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        rows = list(itertools.islice(csv.DictReader(fh), head_rows))
    return pl.DataFrame({c: [r[c] for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String))


def _read_cresci(path: Path, head_rows: int | None) -> pl.DataFrame:
    raw = _read_csv(path, ["user_id", "tid", "time"], head_rows)
    return raw.select(
        account_id=pl.col("user_id"),
        post_id=pl.col("tid"),
        # "Thu Feb 07 14:00:06 +0000 2013": every offset is +0000; dropping it parses twice as fast.
        t=pl.col("time")
        .str.slice(4)
        .str.replace(" +0000", "", literal=True)
        .str.strptime(pl.Datetime("ms"), "%b %d %H:%M:%S %Y")
        .dt.epoch("s"),
        source=pl.lit("cresci-2015"),
        group=pl.lit(None, pl.String),
    )


def _read_t1516(path: Path, head_rows: int | None) -> tuple[pl.DataFrame, pl.Series]:
    """Every retweet (and root post) once, and the accounts with a tied delay."""
    cols = [
        "source_tweet_id",
        "parent_uid",
        "child_uid",
        "child_tweet_id",
        "child_delay_min",
        "child_time_ms_est",
    ]
    raw = _read_csv(path, cols, head_rows).with_columns(
        ms=pl.col("child_time_ms_est").cast(pl.Float64).cast(pl.Int64)
    )
    tied = twitter1516_tied_accounts(path)
    posts = raw.unique(["source_tweet_id", "child_uid", "ms"]).sort("source_tweet_id", "child_uid", "ms")
    # Most rows repeat the source id as the child's: those posts get an opaque id (their rank).
    own_id = (pl.col("child_tweet_id") != pl.col("source_tweet_id")) | (pl.col("parent_uid") == "ROOT")
    frame = posts.select(
        account_id=pl.col("child_uid"),
        post_id=pl.when(own_id)
        .then(pl.col("child_tweet_id"))
        .otherwise(pl.format("t1516:{}", pl.int_range(pl.len()))),
        t=pl.col("ms") // 1000,
        source=pl.lit("twitter15-16"),
        group=pl.lit(None, pl.String),
        cascade=pl.col("source_tweet_id"),
    ).unique("post_id", keep="first", maintain_order=True)
    return frame, tied


def _shift_s(frame: pl.DataFrame) -> int:
    days = dict(frame.group_by(pl.col("t") * 1000 // DAY_MS).len().iter_rows())
    return alignment_shift_ms(days, PERIOD) // 1000


def _in_period(frame: pl.DataFrame) -> pl.DataFrame:
    start, end = (int(p.timestamp()) for p in PERIOD)
    return frame.filter((pl.col("t") >= start) & (pl.col("t") < end))


def _cap(sources: list[pl.DataFrame], cap: int, rng: np.random.Generator) -> pl.DataFrame:
    """At most about ``cap`` organic posts: whole timelines (cresci) and cascades (twitter15-16).

    Each source keeps its share of the posts; whole units keep each account's rhythm and each
    cascade's burst.
    """
    total = sum(f.height for f in sources)
    kept = []
    for frame in sources:
        unit = "cascade" if "cascade" in frame.columns else "account_id"
        if total > cap:
            quota = cap * frame.height / total
            sizes = frame.group_by(unit).len().sort(unit)
            order = sizes[rng.permutation(sizes.height)]
            before = order["len"].cum_sum() - order["len"]
            frame = frame.filter(pl.col(unit).is_in(order.filter(before < quota)[unit].implode()))
        kept.append(frame.select("account_id", "post_id", "t", "source", "group"))
    return pl.concat(kept)


def _plant(organic: pl.DataFrame, groups: tuple[Group, ...], rng: np.random.Generator) -> pl.DataFrame:
    """Lockstep groups; their moments and own posts are organic post times moved by ± 30 min."""
    start, end = (int(p.timestamp()) for p in PERIOD)
    times = organic["t"].to_numpy()
    taken_accounts = set(organic["account_id"])

    def rhythm(n: int) -> np.ndarray:
        picked = rng.choice(times, n) + rng.integers(-RHYTHM_SPREAD_S, RHYTHM_SPREAD_S + 1, n)
        return np.clip(picked, start, end - 61)

    accounts, stamps, names = [], [], []
    for number, g in enumerate(groups, 1):
        moments = np.sort(rhythm(g.moments))
        for _ in range(g.size):
            account = _new_id(rng, taken_accounts, 10**8, 4 * 10**9)
            together = moments[rng.random(g.moments) < g.participation]
            together = together + np.floor(rng.uniform(0, g.jitter_s, together.size)).astype(np.int64)
            alone = rhythm(int(rng.poisson(g.independent)))
            own = np.concatenate([together, alone])
            accounts += [account] * own.size
            stamps.append(own)
            names += [f"G{number}"] * own.size
    taken_posts = set(organic["post_id"])
    post_ids = [_new_id(rng, taken_posts, 10**17, 10**18) for _ in accounts]
    return pl.DataFrame(
        {
            "account_id": accounts,
            "post_id": post_ids,
            "t": np.concatenate(stamps).astype(np.int64),
            "source": ["planted"] * len(accounts),
            "group": names,
        },
        schema={
            "account_id": pl.String,
            "post_id": pl.String,
            "t": pl.Int64,
            "source": pl.String,
            "group": pl.String,
        },
    )


def _new_id(rng: np.random.Generator, taken: set[str], low: int, high: int) -> str:
    """A numeric id like the organic ones (so id form tells nothing), unused so far."""
    while True:
        candidate = str(int(rng.integers(low, high)))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _write_qut(posts: pl.DataFrame, path: Path) -> None:
    """The QUT toolkit's CSV with ids and times only: no username, reference, text or link."""
    empty = pl.lit(None, pl.String)
    posts.select(
        message_id=pl.col("post_id"),
        user_id=pl.col("account_id"),
        username=empty,
        repost_id=empty,
        reply_id=empty,
        message=empty,
        timestamp=pl.col("t"),
        urls=empty,
    ).select(QUT_COLUMNS).write_csv(path)


# -- benchmark ---------------------------------------------------------------------------
@benchmark("coord_timing", "Timing-only operation among real organic timelines")
def run(smoke: bool) -> str:
    for parts in (CRESCI, T1516):
        shared(*parts)
    work = CACHE / ("coord-timing-smoke" if smoke else "coord-timing")
    before = read_summary(work / "corpus").get("key")
    posts_path, truth_path = build_timing_corpus(work / "corpus", **(SMOKE if smoke else {}))
    summary = read_summary(work / "corpus")
    truth = load_truth(truth_path)

    case = work / "case"
    shutil.rmtree(case, ignore_errors=True)
    ingest = run_measured(_cli("ingest", str(posts_path), "--case", str(case), "--format", "qut"))
    results, notes = [], []
    for label, folder, extra in RUNS:
        out = work / f"out-{folder}"
        shutil.rmtree(out, ignore_errors=True)
        try:
            measured = run_measured(_cli("coord", str(case), "--out", str(out), *extra))
        except RuntimeError as exc:  # the detector is changing: say what failed, never fake its row
            notes.append(f"`cibwatch coord {' '.join(extra)}` failed: {str(exc)[-600:]}")
            continue
        results.append(_score(label, out, measured, truth))
    parts = [_corpus_section(summary, built_now=summary["key"] != before), _ingest_line(ingest)]
    if results:
        parts.append("### Results\n\n" + _results_table(results, truth))
        parts.append(_verdict(results, truth, smoke))
        parts.append("### Recall by planted group\n\n" + _groups_table(results, summary, truth))
        parts.append("### Organic accounts flagged, by source\n\n" + _sources_table(results, truth))
        parts.append("### Where the flagged organic accounts sit\n\n" + _placement_table(results))
    if notes:
        parts.append("\n".join(f"- {n}" for n in notes))
    parts.append(_definitions())
    return "\n\n".join(parts)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cibwatch.cli.main", *args, "-q"]


@dataclass
class Scored:
    label: str
    measured: Measured
    listed: pl.DataFrame  # accounts.csv (account_id, cluster_id, status) joined with the truth
    edges: pl.DataFrame  # edges.csv: account_a, account_b
    run: dict


def _score(label: str, out: Path, measured: Measured, truth: pl.DataFrame) -> Scored:
    accounts = pl.read_csv(out / "accounts.csv", infer_schema=False)
    if "status" not in accounts.columns:  # older detectors list flagged accounts only
        accounts = accounts.with_columns(status=pl.lit(COORDINATED))
    listed = accounts.select("account_id", "cluster_id", "status").join(truth, on="account_id", how="left")
    edges = pl.read_csv(out / "edges.csv", infer_schema=False).select("account_a", "account_b")
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    return Scored(label, measured, listed, edges, run)


def _subset(s: Scored, scope: str) -> pl.DataFrame:
    return s.listed if scope == LISTED else s.listed.filter(pl.col("status") == COORDINATED)


# Which organic accounts count as negatives: all; all but the tied-delay cascade accounts; or the
# organic timelines only (cresci-2015, what the issue names), the cascades' estimated times left out.
ORGANIC = pl.col("role") == "organic"
ALL_ORGANIC, UNTIED = "all organic accounts", "tied twitter15-16 accounts left out"
VIEWS = {
    ALL_ORGANIC: ORGANIC,
    UNTIED: ORGANIC & ~pl.col("tied"),
    "organic timelines only (twitter15-16 cascades left out)": ORGANIC & (pl.col("source") != "twitter15-16"),
}


def _view_metrics(
    s: Scored, truth: pl.DataFrame, scope: str, counted: pl.Expr
) -> dict[str, float | int | None]:
    flagged = _subset(s, scope)
    n_organic = truth.filter(counted).height
    n_planted = truth.filter(pl.col("role") == "planted").height
    hit = flagged.filter(pl.col("role") == "planted").height
    wrong = flagged.filter(counted).height
    return {
        "precision": hit / (hit + wrong) if hit + wrong else None,
        "recall": hit / n_planted if n_planted else None,
        "organic": wrong,
        "per10k": 1e4 * wrong / n_organic if n_organic else None,
        "flagged": flagged.height,
    }


def _results_table(results: list[Scored], truth: pl.DataFrame) -> str:
    rows = []
    for s in results:
        for scope in (LISTED, COORDINATED):
            m = _view_metrics(s, truth, scope, VIEWS[ALL_ORGANIC])
            untied = _view_metrics(s, truth, scope, VIEWS[UNTIED])
            rows.append(
                [
                    s.label,
                    "all listed" if scope == LISTED else "status coordinated",
                    m["flagged"],
                    _f(m["precision"]),
                    _f(m["recall"]),
                    m["organic"],
                    _f(m["per10k"], 1),
                    _f(untied["precision"]),
                    untied["organic"],
                    _f(untied["per10k"], 1),
                    s.edges.height,
                    f"{s.measured.seconds:.1f}",
                    round(s.measured.peak_rss_mb),
                    _active_traces(s.run),
                ]
            )
    headers = [
        "run",
        "accounts scored",
        "accounts",
        "precision",
        "recall",
        "organic flagged",
        "organic per 10k",
        "precision, tied left out",
        "organic flagged, tied left out",
        "organic per 10k, tied left out",
        "edges.csv rows",
        "coord seconds",
        "peak RSS (MB)",
        "traces with events",
    ]
    return table(headers, rows)


def _active_traces(run: dict) -> str:
    """The traces of a run that had anything to compare (run.json), e.g. 'sync_bare'."""
    traces = run.get("traces", {})
    active = [name for name, t in traces.items() if not isinstance(t, dict) or t.get("events", 1) > 0]
    return ", ".join(active) or "none"


def _verdict(results: list[Scored], truth: pl.DataFrame, smoke: bool) -> str:
    default = next((s for s in results if s.label == RUNS[0][0]), None)
    if default is None:
        return "Acceptance (default run): **NOT met**: the default run failed (see the notes)."
    bar = f"precision ≥ {BAR['precision']}, recall ≥ {BAR['recall']}, ≤ {BAR['seconds']:g} s for 1M posts"
    lines = []
    for what, counted in VIEWS.items():
        m = _view_metrics(default, truth, COORDINATED, counted)
        checks = [
            ("precision", m["precision"], BAR["precision"]),
            ("recall", m["recall"], BAR["recall"]),
            ("coord seconds", default.measured.seconds, -BAR["seconds"]),  # negative: at most
        ]
        oks = [v is not None and (v >= b if b >= 0 else v <= -b) for _, v, b in checks]
        detail = "; ".join(
            f"{name} {_f(v, 1 if name == 'coord seconds' else 3)} {'✓' if ok else '✗'}"
            for (name, v, _), ok in zip(checks, oks, strict=True)
        )
        verdict = "met" if all(oks) else "NOT met"
        lines.append(f"- {what}: **{verdict}** — {detail}.")
    scope_note = " Smoke corpus: the bar is for the full corpus." if smoke else ""
    return (
        f"Acceptance bar, default run ({bar}), flagged = the accounts the detector marks coordinated "
        f"(a `weak` or `crowd` status is listed but not flagged); the first line counts every organic "
        f"account, the second leaves the tied-delay accounts out, the third counts the organic "
        f"timelines only (cresci-2015: the issue asks for 'real organic timelines'; the twitter15-16 "
        f"cascades are retweet trees whose times are estimated from delays). One run, three ways of "
        f"counting it; nothing was tuned on any.{scope_note}\n\n" + "\n".join(lines)
    )


def _groups_table(results: list[Scored], summary: dict, truth: pl.DataFrame) -> str:
    sizes = dict(truth.filter(pl.col("role") == "planted").group_by("group").len().iter_rows())
    rows = []
    for number, g in enumerate(summary["groups"], 1):
        name = f"G{number}"
        row: list[object] = [name, sizes.get(name, 0), g["moments"], g["participation"], f"{g['jitter_s']:g}"]
        for s in results:
            hit = s.listed.filter(pl.col("group") == name)
            sure = hit.filter(pl.col("status") == COORDINATED).height
            clusters = hit["cluster_id"].drop_nulls().n_unique()
            row.append(f"{hit.height / sizes[name]:.3f} / {sure / sizes[name]:.3f} ({clusters})")
        rows.append(row)
    headers = ["group", "accounts", "moments", "participation", "jitter s"]
    headers += [f"{s.label}: recall listed / coordinated (clusters)" for s in results]
    return table(headers, rows)


def _sources_table(results: list[Scored], truth: pl.DataFrame) -> str:
    organic = truth.filter(pl.col("role") == "organic")
    rows = []
    for source, tied in organic.select("source", "tied").unique().sort("source", "tied").iter_rows():
        n = organic.filter((pl.col("source") == source) & (pl.col("tied") == tied)).height
        row: list[object] = [source, "yes" if tied else "no", n]
        for s in results:
            hit = s.listed.filter((pl.col("source") == source) & (pl.col("tied") == tied))
            sure = hit.filter(pl.col("status") == COORDINATED).height
            row.append(f"{hit.height:,} / {sure:,} ({1e4 * hit.height / n:.1f})")
        rows.append(row)
    headers = ["source", "tied delay", "accounts"]
    headers += [f"{s.label}: listed / coordinated (listed per 10k)" for s in results]
    return table(headers, rows)


def _placement_table(results: list[Scored]) -> str:
    """Are organic flags mixed into planted clusters, or clusters of their own?"""
    rows = []
    for s in results:
        with_planted = set(s.listed.filter(pl.col("role") == "planted")["cluster_id"].drop_nulls())
        organic = s.listed.filter(pl.col("role") == "organic")
        in_mixed = organic.filter(pl.col("cluster_id").is_in(list(with_planted))).height
        no_cluster = organic.filter(pl.col("cluster_id").is_null()).height
        role = dict(s.listed.select("account_id", "role").iter_rows())
        pairs = s.edges.select(
            a=pl.col("account_a").replace_strict(role, default="?"),
            b=pl.col("account_b").replace_strict(role, default="?"),
        )
        kinds = pairs.select(
            pp=((pl.col("a") == "planted") & (pl.col("b") == "planted")).sum(),
            po=(pl.col("a") != pl.col("b")).sum(),
            oo=((pl.col("a") == "organic") & (pl.col("b") == "organic")).sum(),
        ).row(0)
        rows.append(
            [s.label, organic.height, organic.height - in_mixed - no_cluster, in_mixed, no_cluster, *kinds]
        )
    headers = [
        "run",
        "organic listed",
        "in organic-only clusters",
        "in clusters with planted members",
        "in no cluster",
        "edges planted–planted",
        "edges planted–organic",
        "edges organic–organic",
    ]
    return table(headers, rows)


def _corpus_section(summary: dict, built_now: bool) -> str:
    c = summary["counts"]
    shifts = ", ".join(f"{k} {v:+,.0f} days" for k, v in summary["shift_days"].items())
    rows = [[src, v["posts"], v["accounts"]] for src, v in c["by_source"].items()]
    how = f"built in {summary['build_seconds']:,.0f} s" if built_now else "reused from the cache"
    text = _prose(
        f"""`build_timing_corpus` (seed {summary["seed"]}, organic cap {summary["organic_cap"]:,} posts;
        {how}): period {summary["period"][0][:10]} … {summary["period"][1][:10]} (end exclusive), one
        whole-week shift per source ({shifts}). Posts carry an account id, a post id and a time to the
        second; username, repost, reply, text and links are empty (QUT CSV, `--format qut`). Planted
        moments and each bot's own posts are organic post times moved by up to ± 30 min, so bots keep
        the organic daily rhythm."""
    )
    counts = _prose(
        f"""{c["posts"]:,} posts; {c["organic_accounts"]:,} organic accounts
        ({c["tied_accounts"]:,} of them twitter15-16 accounts with a tied delay), {c["planted_accounts"]:,}
        planted accounts ({c["by_source"].get("planted", {}).get("posts", 0) / c["posts"]:.1%} of posts)."""
    )
    return f"### Corpus\n\n{text}\n\n{table(['source', 'posts', 'accounts'], rows)}\n\n{counts}"


def _ingest_line(ingest: Measured) -> str:
    return (
        f"Ingest (`cibwatch ingest posts.csv --format qut`, not in the coord seconds below): "
        f"{ingest.seconds:,.1f} s, peak RSS {ingest.peak_rss_mb:,.0f} MB."
    )


def _definitions() -> str:
    return _prose(
        """Definitions: 'all listed' = every account in the run's accounts.csv (the bar as set);
        'status coordinated' = its rows with status coordinated, where the detector writes a status
        (it also lists 'weak' accounts). Precision = planted share of the accounts scored; recall =
        planted accounts scored / planted accounts; organic per 10k = organic accounts scored per
        10,000 organic accounts in the corpus. 'Tied left out' leaves out of the scoring
        (not of the corpus, nor of the detector's input) the twitter15-16 accounts with a retweet whose
        delay equals another user's in the same cascade to 0.01 min (FINDINGS: 16.5 % of its retweets;
        swarms or an artifact of how the trees were timed): they count neither as false positives nor
        in the per-10k denominator. Coord seconds and peak RSS: `cibwatch coord CASE --out DIR` in a
        child process, wall time on the shared machine (2 cores), ingest excluded. Clusters: distinct
        cluster ids among a group's listed members."""
    )


def _prose(text: str) -> str:
    return " ".join(text.split())


def _f(value: float | int | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


# -- script --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the timing-only corpus; print its posts and truth files."
    )
    parser.add_argument("--out", type=Path, required=True, help="corpus folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--organic-cap", type=int, default=ORGANIC_CAP, help="at most about this many organic posts"
    )
    parser.add_argument("--smoke", action="store_true", help="the smoke benchmark's small corpus")
    parser.add_argument("--rebuild", action="store_true", help="build even if the folder holds this corpus")
    args = parser.parse_args(argv)
    settings = SMOKE if args.smoke else {"organic_cap": args.organic_cap}
    t0 = time.perf_counter()
    posts, truth = build_timing_corpus(args.out, args.seed, reuse=not args.rebuild, **settings)
    counts = read_summary(args.out)["counts"]
    print(f"posts: {posts}\ntruth: {truth}")
    print(
        f"{counts['posts']:,} posts; {counts['organic_accounts']:,} organic and "
        f"{counts['planted_accounts']:,} planted accounts ({time.perf_counter() - t0:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
