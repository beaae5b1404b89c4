"""Ingest throughput and peak RSS: the full IRA corpus (xz CSV) and synthetic v1.1 JSONL."""

from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from benchmarks.harness import Skip, benchmark, run_measured, shared, table

_WORDS = (
    "the a to of and in is for on that with this be are at it from by as we you not have vote news people "
    "election today state world new time great support now"
).split()


def synthetic_v1_jsonl(path: Path, n_posts: int, seed: int = 7) -> int:
    """Write ``n_posts`` v1.1 tweets (a third of them retweets with the original embedded).

    Tweets carry the fields the v1.1 reader uses plus typical user objects (~1.5 KB a line).
    Returns the number of post records the file holds (embedded originals included).
    """
    rng = random.Random(seed)
    n_accounts = max(100, n_posts // 20)
    records = 0
    with open(path, "wb") as fh:
        for i in range(n_posts):
            uid = rng.randrange(n_accounts)
            tweet = _tweet(i, uid, rng, 1_470_000_000 + i * 3)
            records += 1
            if rng.random() < 0.33:
                j = rng.randrange(max(1, i))
                orig = _tweet(10**12 + j, rng.randrange(n_accounts), rng, 1_470_000_000 + j * 3)
                tweet["retweeted_status"] = orig
                tweet["text"] = f"RT @{orig['user']['screen_name']}: {orig['text']}"
                records += 1
            fh.write(orjson.dumps(tweet) + b"\n")
    return records


def _tweet(i: int, uid: int, rng: random.Random, t: int) -> dict:
    text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 30)))
    tags = [{"text": rng.choice(_WORDS), "indices": [0, 1]}] if rng.random() < 0.3 else []
    urls = (
        [{"url": "https://t.co/x", "expanded_url": f"https://site{rng.randrange(50)}.com/a/{i}"}]
        if rng.random() < 0.2
        else []
    )
    return {
        "created_at": _v1_date(t),
        "id": 10**15 + i,
        "id_str": str(10**15 + i),
        "text": text,
        "source": '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
        "truncated": False,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id_str": None,
        "is_quote_status": False,
        "lang": "en",
        "entities": {"hashtags": tags, "urls": urls, "user_mentions": [], "symbols": []},
        "user": {
            "id": uid,
            "id_str": str(uid),
            "name": f"User {uid}",
            "screen_name": f"user{uid}",
            "location": "Somewhere",
            "url": None,
            "description": "Just a person on the internet who likes news and sport.",
            "protected": False,
            "verified": False,
            "followers_count": uid % 5000,
            "friends_count": uid % 700,
            "listed_count": uid % 13,
            "favourites_count": uid % 9000,
            "statuses_count": 1000 + uid % 40000,
            "created_at": "Thu Sep 23 19:42:35 +0000 2010",
            "lang": None,
            "default_profile": uid % 3 == 0,
            "default_profile_image": uid % 17 == 0,
            "profile_use_background_image": True,
        },
    }


def _v1_date(t: int) -> str:
    import time

    return time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(t))


def _ingest(inputs: list[str], case: Path, fmt: str = "auto") -> tuple[float, float, dict, float]:
    """Seconds, peak RSS (MB), the JSON summary, and the CPU seconds of the ingest and its workers."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured = run_measured(
        [
            sys.executable,
            "-m",
            "cibwatch.cli.main",
            "ingest",
            *inputs,
            "--case",
            str(case),
            "--json",
            "--format",
            fmt,
        ]
    )
    # Children's CPU times include their waited-for children: the worker processes.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return measured.seconds, measured.peak_rss_mb, orjson.loads(measured.stdout), cpu


def _row(label: str, size: str, seconds: float, rss: float, summary: dict, cpu: float) -> list:
    posts = sum(f["emitted"]["posts"] for f in summary["files"])
    file_seconds = [f["seconds"] for f in summary["files"]]
    # Files read one after another add up; read by worker processes, each says when it was done.
    read = sum(file_seconds) if sum(file_seconds) <= summary["seconds"] else max(file_seconds)
    phases = f"{seconds - summary['seconds']:.1f} / {read:.1f} / {summary['seconds'] - read:.1f}"
    rates = [round(posts / seconds), round(posts / cpu)]
    return [label, size, posts, seconds, phases, *rates, rss, summary["quarantined"]]


def _simulated(work: Path, posts: int, fmt: str) -> Path:
    """Simulator output (the default world over 14 days, ``posts`` about) as X API v2 pages or v1.1."""
    accounts = max(200, round(posts / (1.12 * 14)))  # the default scenario's 1.12 posts an account-day
    out = work / f"sim-{fmt}"
    args = ["simulate", "--scenario", "default", "--seed", "1", "--accounts", str(accounts), "--days", "14"]
    subprocess.run(
        [sys.executable, "-m", "cibwatch.cli.main", *args, "--format", fmt, "--out", str(out), "-q"],
        check=True,
        capture_output=True,
    )
    return out / "posts"


def _qut_csv(case: Path, path: Path) -> Path:
    from cibwatch import open_case
    from cibwatch.evaluate.qut import export_qut_csv

    with open_case(case) as opened:
        export_qut_csv(opened, path)
    return path


# Where a reader's time goes, by the module of each function's own time under cProfile.
_PHASES = (
    ("decode", ("msgspec", "orjson", "_csv", "jsonstream.py", "source.py", "<method 'decode'", "readinto")),
    ("profile snapshots", ("_snapshot", "account_from", "account", "profile_", "stable_id")),
    ("staging (sink, Arrow, Parquet)", ("sink.py", "pyarrow")),
    ("reader (fields, joins, dates, entities)", ("formats/", "values.py", "registry.py")),
)


def _profile_read(inputs: list[Path], fmt: str) -> dict[str, float]:
    """Shares of the read phase (reader and staging sink, in this process) by ``_PHASES``."""
    import cProfile
    import pstats

    import cibwatch.ingest.formats.twitter_v2_pages  # noqa: F401 - imported before, not in, the profile
    from cibwatch.ingest.parallel import _read_here
    from cibwatch.ingest.registry import get_reader, sniff_format
    from cibwatch.ingest.report import FileReport
    from cibwatch.ingest.source import Source

    plan = []
    for path in inputs:
        source = Source(path, path.stem)
        plan.append((source, get_reader(fmt) if fmt != "auto" else sniff_format(source)))
    files = [FileReport(path=s.name, reader=r.name, dataset=s.dataset) for s, r in plan]
    staging = Path(tempfile.mkdtemp(prefix="cibwatch-bench-profile-"))
    profile = cProfile.Profile()
    try:
        profile.runcall(_read_here, plan, files, staging, False, None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shares = dict.fromkeys([name for name, _ in _PHASES] + ["other"], 0.0)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def phase(key: tuple[str, int, str]) -> str:
        where = f"{key[0]} {key[2]}"
        return next((name for name, marks in _PHASES if any(m in where for m in marks)), "other")

    for key, (_, _, own, _, callers) in stats.items():
        if phase(key) == "other" and key[0] == "~" and callers:
            # A builtin (dict.get, str.strip, a regex) counts for the phase of whoever called it.
            for caller, (_, _, own_there, _) in callers.items():
                shares[phase(caller)] += own_there
        else:
            shares[phase(key)] += own
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in shares.items()}


@benchmark("ingest", "Ingest throughput")
def run(smoke: bool) -> str:
    rows = []
    notes = []
    work = Path(tempfile.mkdtemp(prefix="cibwatch-bench-ingest-"))
    try:
        n = 20_000 if smoke else 1_000_000
        jsonl = work / "synthetic_v1.jsonl"
        synthetic_v1_jsonl(jsonl, n)
        size_mb = jsonl.stat().st_size / 2**20
        # The machine may be shared: the load says how much of it the run had.
        notes.append(
            f"Load average (1 min) before the JSONL ingest: {os.getloadavg()[0]:.1f}"
            f" on {os.cpu_count()} cores."
        )
        seconds, rss, summary, cpu = _ingest([str(jsonl)], work / "case-v1")
        size = f"{size_mb:,.0f} MB"
        rows.append(_row("synthetic v1.1 JSONL (uncompressed)", size, seconds, rss, summary, cpu))
        # Per format, on one simulated world: X API v2 pages (twarc2), v1.1 JSON Lines, QUT CSV.
        sim_posts = int(os.environ.get("CIBWATCH_INGEST_SIM_POSTS", 20_000 if smoke else 300_000))
        v2 = _simulated(work, sim_posts, "v2")
        v1 = _simulated(work, sim_posts, "v1")
        formats = [
            ("simulator, X API v2 pages (twarc2)", [v2], "auto"),
            ("simulator, v1.1 JSON Lines", [v1], "auto"),
        ]
        for label, inputs, fmt in formats:
            seconds, rss, summary, cpu = _ingest([str(p) for p in inputs], work / f"case-{len(rows)}", fmt)
            size = f"{sum(p.stat().st_size for p in inputs[0].glob('*')) / 2**20:,.0f} MB"
            rows.append(_row(label, size, seconds, rss, summary, cpu))
        csv = _qut_csv(work / "case-1", work / "qut.csv")  # the v2 world's posts, as the toolkit's CSV
        seconds, rss, summary, cpu = _ingest([str(csv)], work / "case-qut", "qut")
        rows.append(
            _row("simulator, QUT CSV", f"{csv.stat().st_size / 2**20:,.0f} MB", seconds, rss, summary, cpu)
        )
        sample = 2 if smoke else 6  # files of the world (half a day each) profiled in-process
        profiles = [
            ("X API v2 pages", _profile_read(sorted(v2.glob("*"))[:sample], "auto")),
            ("v1.1 JSON Lines", _profile_read(sorted(v1.glob("*"))[:sample], "auto")),
            ("QUT CSV", _profile_read([csv], "qut")),
        ]
        try:
            ira = shared("io", "ira-538", "IRAhandle_tweets_by_author_concat.csv.xz")
            if smoke:
                raise Skip("smoke run")
            seconds, rss, summary, cpu = _ingest([str(ira)], work / "case-ira")
            size = f"{ira.stat().st_size / 2**20:,.0f} MB"
            rows.append(_row("IRA by-author CSV (xz, 538/Clemson)", size, seconds, rss, summary, cpu))
        except Skip as exc:
            notes.append(f"IRA corpus: skipped ({exc}).")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    headers = [
        "input",
        "size",
        "posts read",
        "seconds",
        "start-up / read / commit s",
        "posts/s",
        "posts per CPU-s",
        "peak RSS (MB)",
        "quarantined",
    ]
    body = table(headers, rows)
    body += (
        "\n\nEnd to end through `cibwatch ingest --json` in a child process: reading, normalizing, staging, "
        "deduplication in DuckDB and writing the case. Peak RSS is the child's maximum resident set; "
        "posts per CPU-s counts the CPU time of the ingest and its worker processes, which a shared "
        "machine's load does not inflate as much as wall time. Start-up is the interpreter and imports; "
        "read is the readers' pass over the file (by one worker process per core for large uncompressed "
        "JSON Lines); commit is the deduplication in DuckDB and the writing of the case's Parquet parts. "
        "Targets: ≥ 150k posts/s from uncompressed JSONL, peak RSS ≤ 2 GB."
    )
    phases = list(profiles[0][1])
    body += "\n\nWhere the read phase's time goes (cProfile, own time of each function by module, in one "
    body += "process; the commit is the last column above):\n\n"
    body += table(["input", *phases], [[label, *[f"{p[k]:.0%}" for k in phases]] for label, p in profiles])
    body += (
        "\n\ndecode: JSON/CSV parsing and line splitting (msgspec, orjson, csv, jsonstream, source); "
        "profile snapshots: user objects to account snapshots and their deduplication; staging: the "
        "sink's rows to Arrow batches and staging Parquet; reader: the format's own field mapping, the "
        "join of users and referenced tweets, dates and entities."
    )
    if notes:
        body += "\n\n" + "\n".join(notes)
    return body
