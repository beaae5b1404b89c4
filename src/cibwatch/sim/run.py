"""The simulation driver: plan the operations, then stream the platform window by window.

Memory is bounded by one window of events, the posts still referenced by later ones (reposts
come at most 72 hours after their original) and the few parts of a window being written, not by
the size of the run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cibwatch.errors import ConfigError
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.sim import events as ev
from cibwatch.sim import tactics as _tactics  # noqa: F401 - registers the operations
from cibwatch.sim import traps as _traps  # noqa: F401 - registers the traps
from cibwatch.sim.organic import HOUR_MS, OrganicEngine
from cibwatch.sim.plan import TACTICS, Context
from cibwatch.sim.scenarios import Scenario, get_scenario
from cibwatch.sim.world import World, build_organic
from cibwatch.sim.writers import PAGE_SIZE, WRITERS, Writer, write_pieces

SIM_VERSION = "1"
_STORE_COLUMNS = ("key", "body", "tag1", "tag2", "url", "mention", "json")
PART_POSTS = 100 * PAGE_SIZE  # most posts rendered at once: whole pages, so parts join seamlessly
_INDEPENDENT = pl.col("kind").is_in([ev.ORIGINAL, ev.REPLY])


@dataclass
class SimReport:
    out: str
    scenario: str
    seed: int
    format: str
    accounts: int
    posts: int
    by_kind: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def posts_per_second(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0


def simulate(
    scenario: str | Scenario = "demo",
    *,
    out: str | Path,
    seed: int = 0,
    accounts: int | None = None,
    days: int | None = None,
    format: str = "v2",
    workers: int | None = None,
    progress: Progress | None = None,
) -> SimReport:
    """Write a simulated platform to ``out``: ``posts/*.jsonl`` plus ground truth.

    >>> report = simulate("demo", out="sim/demo", seed=1, accounts=300, days=1)
    >>> report.posts > 500, sorted(report.by_kind)
    (True, ['original', 'quote', 'reply', 'repost'])

    ``workers`` windows are written at once (default: one per core, at most 4); the output is
    the same whatever their number.
    """
    started = time.perf_counter()
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    sc = sc.with_size(accounts, days)
    if format not in WRITERS:
        raise ConfigError(f"--format must be one of {'|'.join(WRITERS)}. Got {format!r} instead.")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be a non-negative whole number. Got {seed!r} instead.")
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"--workers must be a whole number of at least 1. Got {workers!r} instead.")
    out = Path(out)
    posts_dir = out / "posts"
    if posts_dir.exists():
        # Only ever delete a previous simulation's posts, never someone's own files.
        if not (out / "manifest.json").exists():
            raise ConfigError(
                f"{posts_dir} exists and is not from `cibwatch simulate`; pass an empty --out folder"
            )
        shutil.rmtree(posts_dir)
    posts_dir.mkdir(parents=True)

    world = build_organic(np.random.default_rng([seed, 0]), sc.accounts, sc.start_ms, sc.days)
    planned, campaigns = _plan(world, sc, seed)
    world.finish_ids()

    report = SimReport(str(out), sc.name, seed, format, 0, 0)
    posts_per_account, by_kind = _stream(
        world, sc, seed, planned, WRITERS[format](world, seed), workers, report, progress
    )
    report.posts = int(by_kind.sum())
    report.by_kind = {name: int(v) for name, v in zip(ev.KIND_NAMES, by_kind, strict=False)}
    report.accounts = int((posts_per_account > 0).sum())
    _write_truth(out, world, posts_per_account, campaigns, planned)
    manifest = {
        "simulator": f"cibwatch.sim@{SIM_VERSION}",
        "scenario": sc.name,
        "seed": seed,
        "format": format,
        "organic_accounts": sc.accounts,
        "days": sc.days,
        "start": sc.start,
        "posts": report.posts,
        "posts_by_kind": report.by_kind,
        "accounts_posting": report.accounts,
        "files": [Path(f).relative_to(out).as_posix() for f in report.files],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    report.seconds = time.perf_counter() - started
    return report


def _stream(
    world: World,
    sc: Scenario,
    seed: int,
    planned: pl.DataFrame,
    writer: Writer,
    workers: int,
    report: SimReport,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the organic posts window after window and have ``workers`` threads write them.

    Events are drawn here, in order (each window continues the cascades of the last). A window is
    written in parts of at most ``PART_POSTS`` posts; the JSON of a part is a function of its rows
    and of the earlier posts they reference, so parts are written side by side, each appended to
    its window's file after the part before it, and the bytes do not depend on the number of
    workers. At most ``workers`` parts are in flight, which bounds memory whatever the run's size.
    """
    engine = OrganicEngine(world)
    n_chunks = -(-sc.days * 24 // sc.chunk_hours)
    planned_t = planned["t"].to_numpy()
    pending = ev.empty()
    store = ev.empty()  # originals and replies that later posts still reference
    posts_per_account = np.zeros(world.n, dtype=np.int64)
    by_kind = np.zeros(4, dtype=np.int64)
    next_key = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cibwatch-sim") as pool:
        running: deque[Future[None]] = deque()
        written: threading.Event | None = None
        last_name: Path | None = None
        for c in range(n_chunks):
            t0 = sc.start_ms + c * sc.chunk_hours * HOUR_MS
            t1 = min(t0 + sc.chunk_hours * HOUR_MS, world.end_ms)
            hours = (t1 - t0) // HOUR_MS
            organic, next_key = engine.window(np.random.default_rng([seed, 1, c]), t0, hours, next_key)
            due = pl.concat([pending, organic], how="vertical")
            pending = due.filter(pl.col("t") >= t1)
            lo, hi = np.searchsorted(planned_t, [t0, t1])
            batch = pl.concat([due.filter(pl.col("t") < t1), planned.slice(lo, hi - lo)], how="vertical")
            batch = batch.sort(["t", "key"])
            name = _window_file(report, t0)
            for start, size in _parts(batch.height):
                part = batch.slice(start, size)
                refs = store.filter(pl.col("key").is_in(part["ref_key"].implode()))
                if part.height:
                    later = _INDEPENDENT & (pl.col("last_ref_t") >= part["t"][-1])
                    store = pl.concat([store, part.filter(later)], how="vertical")
                done = threading.Event()
                earlier = last_name if start == 0 else None
                job = (writer, part, refs, t1, name, start == 0, written, done, earlier)
                running.append(pool.submit(_write_part, *job))
                written = done
                while len(running) > workers:
                    running.popleft().result()
            store = store.filter(pl.col("last_ref_t") >= t1)
            report.files.append(str(name))
            last_name = name
            posts_per_account += np.bincount(batch["author"].to_numpy(), minlength=world.n)
            by_kind += np.bincount(batch["kind"].to_numpy(), minlength=4)
            if progress:
                posts = int(by_kind.sum())
                progress(ProgressEvent("sim", "simulate", c + 1, n_chunks, detail={"posts": posts}))
        while running:
            running.popleft().result()
    return posts_per_account, by_kind


def _parts(n: int) -> list[tuple[int, int]]:
    """(start, length) of the parts of a window of ``n`` posts (an empty window is one empty part).

    Whole pages, as few parts as ``PART_POSTS`` allows, of even size: each part costs a fixed
    overhead to write, so a window is not split into a full part and a sliver.
    """
    count = max(1, math.ceil(n / PART_POSTS))
    size = max(1, math.ceil(math.ceil(n / count) / PAGE_SIZE)) * PAGE_SIZE
    return [(start, size) for start in range(0, max(n, 1), size)]


def _window_file(report: SimReport, t0: int) -> Path:
    """The file of the window starting at ``t0`` (ms): ``posts/tweets-YYYYmmddTHH.jsonl``."""
    return Path(report.out) / "posts" / f"tweets-{datetime.fromtimestamp(t0 / 1000, UTC):%Y%m%dT%H}.jsonl"


def _write_part(
    writer: Writer,
    part: pl.DataFrame,
    refs: pl.DataFrame,
    retrieved_ms: int,
    path: Path,
    first: bool,
    previous: threading.Event | None,
    done: threading.Event,
    earlier: Path | None,
) -> None:
    """Render one part, wait until the part before it is written, append it to the window's file.

    ``earlier`` is the previous window's file, complete once the part before this one is written.
    """
    try:
        pieces = _render(writer, part, refs, retrieved_ms)
        if previous is not None:
            previous.wait()
        with open(path, "wb" if first else "ab") as fh:
            write_pieces(fh, pieces)
            _uncache(fh.fileno())
        if earlier is not None:
            fd = os.open(earlier, os.O_RDONLY)
            try:
                _uncache(fd)
            finally:
                os.close(fd)
    finally:
        done.set()  # even on failure, so no later part waits forever (the run fails anyway)


def _uncache(fd: int) -> None:
    """Tell the kernel the file's pages will not be read again soon: it writes them out and drops them.

    A big run writes more than the memory holds (15 GB for 10M posts). Left in the page cache,
    the output fills it, and then every write reclaims pages in the writing thread: in a 10M-post
    run, once the cache was full, that added a third to the CPU time per post. The bytes are the same.
    """
    if hasattr(os, "posix_fadvise"):  # not on macOS or Windows
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _plan(world: World, sc: Scenario, seed: int) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Run every tactic and trap of the scenario; returns their posts and campaign rows."""
    frames: list[pl.DataFrame] = []
    campaigns: list[dict[str, Any]] = []
    next_key = 0
    counters = {"operation": 0, "trap": 0}
    for i, (name, params) in enumerate(sc.tactics):
        if name not in TACTICS:
            raise ConfigError(f"Unknown tactic {name!r} in scenario {sc.name!r}; known: {', '.join(TACTICS)}")
        info = TACTICS[name]
        counters[info.kind] += 1
        prefix = "op" if info.kind == "operation" else "trap"
        campaign_id = f"{prefix}{counters[info.kind]:02d}-{name.replace('_', '-')}"
        ops = [f for f, row in zip(frames, campaigns, strict=False) if row["kind"] == "operation"]
        ctx = Context(
            world=world,
            rng=np.random.default_rng([seed, 3, i]),
            campaign_id=campaign_id,
            tactic=name,
            kind=info.kind,
            params=dict(params),
            scale=sc.scale,
            next_key=next_key,
            operation_posts=pl.concat(ops, how="vertical") if ops else None,
        )
        info.fn(ctx)
        next_key = ctx.next_key
        frames.append(ctx.frame())
        campaigns.append(
            {
                "campaign_id": campaign_id,
                "kind": info.kind,
                "tactic": name,
                "hashtags": ctx.info.get("hashtags", ""),
                "domains": ctx.info.get("domains", ""),
                "description": ctx.info.get("description", info.summary),
            }
        )
    planned = ev.link_refs(_drop_dangling(pl.concat(frames, how="vertical"))) if frames else ev.empty()
    planned = ev.with_likes(planned, np.random.default_rng([seed, 4]))
    return planned.sort(["t", "key"]), campaigns


def _drop_dangling(posts: pl.DataFrame) -> pl.DataFrame:
    """Drop posts whose referenced post fell outside the period, and repeated reposts."""
    while True:
        keys = posts["key"]
        ok = (pl.col("ref_key") < 0) | pl.col("ref_key").is_in(keys.implode())
        kept = posts.filter(ok)
        if kept.height == posts.height:
            break
        posts = kept
    is_rt = pl.col("kind") == ev.REPOST
    first = pl.int_range(pl.len()).over(["author", "ref_key"]) == 0
    return posts.filter(~is_rt | first | (pl.col("ref_key") < 0))


def _render(writer: Writer, batch: pl.DataFrame, refs: pl.DataFrame, retrieved_ms: int) -> pl.Series:
    """JSON for a part of a window (whole pages); ``refs`` are the earlier posts it references.

    Originals and replies first (later posts may embed them), then reposts and quotes.
    """
    independent = batch.filter(_INDEPENDENT)
    dependent = batch.filter(~_INDEPENDENT)
    ind = writer.prepare(pl.concat([independent, refs], how="vertical"))
    ind = ind.with_columns(ref_json=pl.lit(None, pl.String))
    ind = ind.with_columns(json=writer.tweet_json(ind))
    # Every post a post of this window references, as other posts include it.
    store = ind.select(_STORE_COLUMNS).with_columns(writer.embeddable(pl.col("json")))
    ind = ind.head(independent.height)
    fill = ["body", "tag1", "tag2", "url", "mention"]
    looked = dependent.join(
        store.select(
            pl.col("key").alias("ref_key"),
            pl.col("json").alias("ref_json"),
            *[pl.col(f).alias(f"_s_{f}") for f in fill],
        ),
        on="ref_key",
        how="left",
        maintain_order="left",
    )
    if looked["ref_json"].null_count():
        raise RuntimeError("a repost or quote references a post missing from the simulator's store")
    is_rt = pl.col("kind") == ev.REPOST
    looked = looked.with_columns(
        [pl.when(is_rt).then(pl.col(f"_s_{f}")).otherwise(pl.col(f)).alias(f) for f in fill]
    )
    dep = writer.prepare(looked.drop([f"_s_{f}" for f in fill]).drop("ref_json"))
    dep = dep.with_columns(ref_json=looked["ref_json"])
    dep = dep.with_columns(json=writer.tweet_json(dep))
    keep = ["t", "key", "id", "json", "author", "ref_author", "mention", "ref_key"]
    frame = pl.concat([ind.select(keep), dep.select(keep)], how="vertical").sort(["t", "key"])
    if frame["id"].n_unique() != frame.height:
        raise RuntimeError("simulated post ids collide; the window holds too many posts")
    return writer.lines(frame, store, retrieved_ms)


def _write_truth(
    out: Path,
    world: World,
    posts_per_account: np.ndarray,
    campaigns: list[dict[str, Any]],
    planned: pl.DataFrame,
) -> None:
    accounts = pl.DataFrame(
        {
            "account_id": pl.Series(world["user_id"]).cast(pl.String),
            "screen_name": pl.Series(world["username"], dtype=pl.String),
            "role": pl.Series(world["role"], dtype=pl.String),
            "campaign_id": pl.Series(world["campaign"], dtype=pl.String),
            "tactic": pl.Series(world["tactic"], dtype=pl.String),
            "n_posts": posts_per_account,
        }
    ).filter(pl.col("n_posts") > 0)
    accounts.select("account_id", "role", "campaign_id", "tactic", "screen_name", "n_posts").write_csv(
        out / "truth_accounts.csv"
    )
    authors = planned.select("author").with_columns(
        campaign=pl.Series(world["campaign"], dtype=pl.String).gather(planned["author"].to_numpy())
    )
    planned_by = dict(authors.group_by("campaign").len().iter_rows())
    rows = []
    for row in campaigns:
        members = accounts.filter(pl.col("campaign_id") == row["campaign_id"])
        rows.append(
            {
                **row,
                "n_accounts": members.height,
                "n_planned_posts": int(planned_by.get(row["campaign_id"], 0)),
            }
        )
    cols = [
        "campaign_id",
        "kind",
        "tactic",
        "n_accounts",
        "n_planned_posts",
        "hashtags",
        "domains",
        "description",
    ]
    pl.DataFrame(rows).select(cols).write_csv(out / "truth_campaigns.csv")
