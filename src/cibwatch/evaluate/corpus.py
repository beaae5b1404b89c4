"""A labeled, time-aligned evaluation corpus in one case, and its truth table.

Each source is read by its own cibwatch reader into a staging case (``cibwatch.ingest.ingest``);
the corpus case then gets the posts with times moved and floored:

- ``io`` sources (the influence operation) keep their times; their accounts are positives.
- ``organic`` sources are moved by ONE constant shift each, so their activity falls in the
  evaluation period. By default the shift maps the source's busiest period-long stretch onto the
  period, rounded up to whole weeks so weekday and time-of-day patterns survive; ``shift_days`` fixes it.
- ``posts`` sources keep their times; their accounts are positive only when a labels file says so.
- ``labels`` sources (e.g. ira-538 ``authors.csv``) add account labels: "bot" is a positive and
  its ``label_detail`` the account's category (RightTroll, NewsFeed…).

Every time is floored to one resolution (default: the coarsest any source has, 60 s with IRA data),
since IRA times are whole minutes and organic ones exact seconds: left alone, resolution would
tell the classes apart (FINDINGS). Posts outside the period after shifting are dropped.

Outputs in ``out``: ``case/`` (a cibwatch case), ``truth.csv`` (account_id, platform, group
"io"/"organic", category, n_posts, datasets) and ``corpus.json`` (sources, shifts, counts).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch import __version__, schema
from cibwatch.errors import ConfigError
from cibwatch.ingest import ingest
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store import duck
from cibwatch.store.case import Case

IO, ORGANIC, POSTS, LABELS = "io", "organic", "posts", "labels"
ROLES = (IO, ORGANIC, POSTS, LABELS)
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
# Candidate resolutions, coarsest first (as in coord's resolution detection).
_RESOLUTIONS_MS = (60_000, 1_000, 1)
TRUTH_COLUMNS = ("account_id", "platform", "group", "category", "n_posts", "datasets")


@dataclass(frozen=True)
class CorpusSource:
    """One input file of the corpus and what it stands for.

    >>> CorpusSource(Path("cascades.csv.gz"), ORGANIC, format="twitter15-16")  # doctest: +SKIP
    """

    path: Path
    role: str
    format: str = "auto"
    dataset: str | None = None
    shift_days: float | None = None  # organic only; None: automatic alignment

    @property
    def name(self) -> str:
        return self.dataset or _stem(self.path)

    def check(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(
                f"Unknown source role {self.role!r} for {self.path}; choose from {', '.join(ROLES)}."
            )
        if not Path(self.path).exists():
            raise ConfigError(
                f"{self.path} does not exist; pass an existing file for the {self.role} source."
            )
        if self.shift_days is not None and self.role != ORGANIC:
            raise ConfigError(f"Only organic sources are shifted; {self.path} is a {self.role} source.")


@dataclass
class CorpusSummary:
    out: Path
    case_path: Path
    truth_path: Path
    period: tuple[str, str] | None
    resolution_s: float
    sources: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    key: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("out", "case_path", "truth_path"):
            data[name] = str(data[name])
        return data


def ira_2016_sources(io_root: str | Path) -> list[CorpusSource]:
    """The FINDINGS corpus: IRA posts, its authors' categories, twitter15-16 cascades, cresci-2015 genuine.

    >>> sources = ira_2016_sources("../shared/data/io")  # doctest: +SKIP
    """
    root = Path(io_root)
    return [
        CorpusSource(root / "ira-538" / "IRAhandle_tweets_by_author_concat.csv.xz", IO, "ira-538", "ira-538"),
        CorpusSource(root / "ira-538" / "authors.csv", LABELS, "ira-538-authors", "ira-538-authors"),
        CorpusSource(
            root / "twitter15-16" / "cascade_edges_flat.csv.gz", ORGANIC, "twitter15-16", "twitter15-16"
        ),
        CorpusSource(
            root / "cresci-2015" / "genuine_timelines_sample600.csv.xz",
            ORGANIC,
            "cresci-timelines",
            "cresci-2015-genuine",
        ),
    ]


IRA_2016_PERIOD = (datetime(2016, 6, 1, tzinfo=UTC), datetime(2017, 1, 1, tzinfo=UTC))


def corpus_key(
    sources: list[CorpusSource], period: tuple[datetime, datetime] | None, resolution_s: float | str
) -> str:
    """A fingerprint of the inputs and settings: equal keys build equal corpora."""
    parts: list[Any] = [__version__, str(period), str(resolution_s)]
    for s in sources:
        stat = Path(s.path).stat()
        parts.append(
            [
                str(Path(s.path).resolve()),
                stat.st_size,
                int(stat.st_mtime),
                s.role,
                s.format,
                s.name,
                s.shift_days,
            ]
        )
    return hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=8).hexdigest()


def build_corpus(
    sources: list[CorpusSource],
    out: str | Path,
    *,
    period: tuple[datetime, datetime] | None = None,
    period_days: int = 214,
    resolution_s: float | str = "auto",
    progress: Progress | None = None,
) -> CorpusSummary:
    """Ingest ``sources``, align and floor their times; write case/, truth.csv and corpus.json in ``out``.

    ``period`` None: the io (else posts) sources' busiest ``period_days`` stretch when organic
    sources need a target, else no period filter.

    >>> build_corpus(ira_2016_sources("data/io"), "out/ira", period=IRA_2016_PERIOD)  # doctest: +SKIP
    """
    out = Path(out)
    for s in sources:
        s.check()
    if not any(s.role != LABELS for s in sources):
        raise ConfigError(
            "A corpus needs at least one posts file (an io, organic or posts source), not only labels."
        )
    if len({s.name for s in sources}) != len(sources):
        raise ConfigError("Two sources share a dataset name; give each a distinct dataset name.")
    key = corpus_key(sources, period, resolution_s)
    if out.exists() and any(out.iterdir()) and not (out / "corpus.json").exists():
        raise ConfigError(f"{out} exists and is not an evaluation corpus; choose an empty or new directory.")
    # A half-built corpus must not pass for the previous one.
    (out / "corpus.json").unlink(missing_ok=True)
    shutil.rmtree(out / "case", ignore_errors=True)
    staging_dir = out / "staging-case"
    shutil.rmtree(staging_dir, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    reports = {}
    for s in sources:
        if progress:
            progress(ProgressEvent("evaluate", f"ingest {s.name}", 0, 1))
        reports[s.name] = ingest([s.path], staging_dir, format=s.format, dataset=s.name)
        if progress:
            progress(ProgressEvent("evaluate", f"ingest {s.name}", 1, 1))
    staging = Case.open(staging_dir)
    con = _connect(out)
    try:
        con.execute(f"CREATE VIEW raw_posts AS SELECT * FROM {_parquet(staging, 'posts')}")
        res_ms = _resolution_ms(con, sources, resolution_s)
        period = _period(con, sources, period, period_days)
        shifts = _shifts(con, sources, period)
        case = Case.create(out / "case")
        kept = _write_posts(con, case, shifts, period, res_ms)
        _copy_side_tables(con, staging, case)
        truth = truth_from_case(
            case,
            positive_datasets=[s.name for s in sources if s.role == IO],
            label_datasets=[s.name for s in sources if s.role == LABELS],
        )
    finally:
        con.close()
        staging.close()
    shutil.rmtree(staging_dir, ignore_errors=True)
    shutil.rmtree(out / ".duckdb-tmp", ignore_errors=True)
    truth_path = out / "truth.csv"
    truth.write_csv(truth_path)
    summary = CorpusSummary(
        out=out,
        case_path=out / "case",
        truth_path=truth_path,
        period=(period[0].isoformat(), period[1].isoformat()) if period else None,
        resolution_s=res_ms / 1000,
        key=key,
    )
    for s in sources:
        report = reports[s.name]
        summary.sources.append(
            {
                "path": str(s.path),
                "role": s.role,
                "format": s.format,
                "dataset": s.name,
                "reader": report.files[0].reader if report.files else None,
                "shift_days": shifts.get(s.name, 0) / DAY_MS,
                "shift_source": "given"
                if s.shift_days is not None
                else ("auto" if s.role == ORGANIC else "none"),
                "posts_stored": sum(f.stored["posts"] for f in report.files),
                "posts_kept": kept.get(s.name, 0),
                "quarantined": report.total("quarantined"),
            }
        )
    by_group = truth.group_by("group").len()
    counts = dict(zip(by_group["group"].to_list(), by_group["len"].to_list(), strict=True))
    summary.counts = {
        "posts": sum(kept.values()),
        "io_accounts": int(counts.get(IO, 0)),
        "organic_accounts": int(counts.get("organic", 0)),
        "io_accounts_min5": int(truth.filter((pl.col("group") == IO) & (pl.col("n_posts") >= 5)).height),
        "accounts_in_several_datasets": int(truth.filter(pl.col("datasets").str.contains(",")).height),
    }
    (out / "corpus.json").write_text(
        json.dumps(
            {**summary.as_dict(), "built_at": datetime.now(UTC).isoformat(), "cibwatch": __version__},
            indent=2,
        )
        + "\n"
    )
    return summary


def read_summary(out: str | Path) -> CorpusSummary | None:
    """The summary a previous ``build_corpus`` wrote in ``out``, or None.

    Paths are taken relative to ``out``, so a corpus folder can be moved or read from anywhere.
    """
    root = Path(out)
    path = root / "corpus.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    period = tuple(data["period"]) if data.get("period") else None
    return CorpusSummary(
        out=root,
        case_path=root / "case",
        truth_path=root / "truth.csv",
        period=period,
        resolution_s=data["resolution_s"],
        sources=data["sources"],
        counts=data["counts"],
        key=data["key"],
    )


# -- alignment ---------------------------------------------------------------------------
def busiest_start_ms(day_counts: dict[int, int], days: int) -> int:
    """Start (epoch ms, a UTC midnight) of the ``days``-long stretch holding the most posts.

    >>> busiest_start_ms({0: 1, 1: 5, 2: 5, 9: 1}, 2) == 1 * DAY_MS
    True
    """
    if not day_counts:
        raise ConfigError("A source has no dated posts, so it cannot be aligned; check its format.")
    ordered = sorted(day_counts)
    best_start, best, total, j = ordered[0], -1, 0, 0
    for start in ordered:
        while j < len(ordered) and ordered[j] < start + days:
            total += day_counts[ordered[j]]
            j += 1
        if total > best:
            best, best_start = total, start
        total -= day_counts[start]
    return best_start * DAY_MS


def alignment_shift_ms(day_counts: dict[int, int], period: tuple[datetime, datetime]) -> int:
    """The constant shift (ms, whole weeks) that moves a source's busiest stretch onto ``period``."""
    days = max(1, (period[1] - period[0]).days)
    start = busiest_start_ms(day_counts, days)
    target = int(period[0].timestamp() * 1000)
    # Whole weeks, rounded up: the stretch starts inside the period, on its original weekday.
    return -((start - target) // WEEK_MS) * WEEK_MS


def floor_ms(ms: int, shift_ms: int, resolution_ms: int) -> int:
    """The corpus time of a post: shifted, then floored to the resolution.

    >>> floor_ms(61_500, 0, 60_000)
    60000
    """
    return ((ms + shift_ms) // resolution_ms) * resolution_ms


def _day_counts(con: duckdb.DuckDBPyConnection, datasets: Iterable[str]) -> dict[int, int]:
    names = list(datasets)
    rows = con.execute(
        f"""SELECT epoch_ms(created_at) // {DAY_MS} AS day, count(*) FROM raw_posts
            WHERE created_at IS NOT NULL AND dataset IN ({_placeholders(names)}) GROUP BY day""",
        names,
    ).fetchall()
    return {int(d): int(n) for d, n in rows}


def _period(
    con: duckdb.DuckDBPyConnection,
    sources: list[CorpusSource],
    period: tuple[datetime, datetime] | None,
    period_days: int,
) -> tuple[datetime, datetime] | None:
    if period is not None:
        if period[1] <= period[0]:
            raise ConfigError(f"The period must end after it starts. Got {period[0]} … {period[1]} instead.")
        return period
    if not any(s.role == ORGANIC and s.shift_days is None for s in sources):
        return None
    anchors = [s.name for s in sources if s.role == IO] or [s.name for s in sources if s.role == POSTS]
    if not anchors:
        raise ConfigError(
            "Automatic alignment needs an io or posts source to align to, or an explicit --period."
        )
    start = datetime.fromtimestamp(busiest_start_ms(_day_counts(con, anchors), period_days) / 1000, UTC)
    return start, start + timedelta(days=period_days)


def _shifts(
    con: duckdb.DuckDBPyConnection, sources: list[CorpusSource], period: tuple[datetime, datetime] | None
) -> dict[str, int]:
    shifts: dict[str, int] = {}
    for s in sources:
        if s.role == LABELS:
            continue
        if s.role != ORGANIC:
            shifts[s.name] = 0
        elif s.shift_days is not None:
            shifts[s.name] = round(s.shift_days * DAY_MS)
        else:
            assert period is not None
            shifts[s.name] = alignment_shift_ms(_day_counts(con, [s.name]), period)
    return shifts


def _resolution_ms(
    con: duckdb.DuckDBPyConnection, sources: list[CorpusSource], resolution_s: float | str
) -> int:
    if resolution_s != "auto":
        value = float(resolution_s)
        if not value > 0:
            raise ConfigError(
                f"The resolution must be a positive number of seconds or 'auto'. Got {resolution_s}."
            )
        return max(1, round(value * 1000))
    checks = ", ".join(f"bool_and(ms % {r} = 0)" for r in _RESOLUTIONS_MS)
    rows = con.execute(
        f"""SELECT dataset, {checks} FROM (SELECT dataset, epoch_ms(created_at) AS ms FROM raw_posts
            WHERE created_at IS NOT NULL) GROUP BY dataset"""
    ).fetchall()
    coarsest = 1
    for _, *flags in rows:
        coarsest = max(coarsest, next((r for r, ok in zip(_RESOLUTIONS_MS, flags, strict=True) if ok), 1))
    return coarsest


# -- writing the case --------------------------------------------------------------------
def _write_posts(
    con: duckdb.DuckDBPyConnection,
    case: Case,
    shifts: dict[str, int],
    period: tuple[datetime, datetime] | None,
    res_ms: int,
) -> dict[str, int]:
    con.execute("CREATE OR REPLACE TABLE shifts (dataset VARCHAR, shift_ms BIGINT)")
    con.executemany("INSERT INTO shifts VALUES (?, ?)", list(shifts.items()))
    moved = f"((epoch_ms(p.created_at) + s.shift_ms) // {res_ms}) * {res_ms}"
    where = ""
    if period is not None:
        lo, hi = (int(t.timestamp() * 1000) for t in period)
        where = f"AND {moved} >= {lo} AND {moved} < {hi}"
    columns = ", ".join(
        f"epoch_ms({moved})::TIMESTAMPTZ AS created_at" if f.name == "created_at" else f'p."{f.name}"'
        for f in schema.POSTS
    )
    target = case.table_dir("posts")
    target.mkdir(parents=True, exist_ok=True)
    path = target / "part-0.parquet"
    kept: dict[str, int] = {}
    reader = con.sql(
        f"""SELECT {columns} FROM raw_posts p JOIN shifts s USING (dataset)
            WHERE p.created_at IS NOT NULL {where}"""
    ).to_arrow_reader(100_000)
    with pq.ParquetWriter(path, schema.POSTS, compression="zstd") as writer:
        for batch in reader:
            table = pa.Table.from_batches([batch]).cast(schema.POSTS)
            writer.write_table(table)
            for name, n in zip(*_value_counts(table.column("dataset")), strict=True):
                kept[name] = kept.get(name, 0) + n
    return kept


def _value_counts(column: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    counts = column.value_counts()
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


def _copy_side_tables(con: duckdb.DuckDBPyConnection, staging: Case, case: Case) -> None:
    """Profiles of the accounts that kept posts, every label, the quarantine (so counts reconcile)."""
    posts = _parquet(case, "posts")
    queries = {
        "accounts": f"SELECT * FROM {_parquet(staging, 'accounts')} SEMI JOIN {posts} p USING (account_id)",
        "account_labels": f"SELECT * FROM {_parquet(staging, 'account_labels')}",
        "quarantine": f"SELECT * FROM {_parquet(staging, 'quarantine')}",
    }
    for table, query in queries.items():
        if not staging.has_table(table):
            continue
        data = con.sql(query).to_arrow_table()
        if data.num_rows:
            data = data.select([f.name for f in schema.TABLES[table]]).cast(schema.TABLES[table])
            case.write_part(table, data, "part-0")


# -- truth -------------------------------------------------------------------------------
def truth_from_case(
    case: Case, positive_datasets: Iterable[str] = (), label_datasets: Iterable[str] | None = None
) -> pl.DataFrame:
    """One row per posting account: group "io" (posted in a positive dataset, or labelled "bot") or "organic".

    ``label_datasets`` limits which label rows count (None: every label in the case); category is
    the label's ``label_detail`` (e.g. RightTroll).

    >>> truth_from_case(open_case("out/ira/case"), ["ira-538"])  # doctest: +SKIP
    """
    positive = list(positive_datasets)
    posts = case.scan("posts").select("account_id", "platform", "dataset")
    per_account = posts.group_by("account_id", "platform").agg(
        n_posts=pl.len().cast(pl.Int64),
        datasets=pl.col("dataset").unique().sort().str.join(","),
        in_positive=pl.col("dataset").is_in(positive).any(),
    )
    labels = case.scan("account_labels")
    if label_datasets is not None:
        labels = labels.filter(pl.col("dataset").is_in(list(label_datasets)))
    labels = (
        labels.sort("dataset", "label_detail", nulls_last=True)
        .group_by("account_id", "platform")
        .agg(
            labelled_bot=(pl.col("label") == "bot").any(),
            labelled_human=(pl.col("label") == "human").any(),
            category=pl.col("label_detail").filter(pl.col("label") == "bot").drop_nulls().first(),
        )
    )
    joined = per_account.join(labels, on=["account_id", "platform"], how="left").with_columns(
        group=pl.when(pl.col("in_positive") | pl.col("labelled_bot").fill_null(False))
        .then(pl.lit(IO))
        .otherwise(pl.lit("organic")),
    )
    return (
        joined.with_columns(
            category=pl.when(pl.col("group") == IO).then(pl.col("category").fill_null("unknown"))
        )
        .select(*TRUTH_COLUMNS)
        .sort("account_id", "platform")
        .collect()
    )


_TRUE = {"io", "ira", "bot", "1", "true", "yes", "coordinated", "positive"}
_FALSE = {"organic", "human", "0", "false", "no", "negative", "genuine"}


def load_truth(path: str | Path) -> pl.DataFrame:
    """A truth CSV: ``account_id`` and ``group`` (io/organic; bot/human, 1/0 are read too), optional
    ``category`` and ``n_posts``. Returns the ``TRUTH_COLUMNS`` layout (n_posts null when absent).
    """
    frame = pl.read_csv(path, infer_schema_length=0)
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    group_col = next((c for c in ("group", "label", "truth", "is_io") if c in frame.columns), None)
    if "account_id" not in frame.columns or group_col is None:
        raise ConfigError(
            f"{path} must have the columns account_id and group (io/organic); "
            f"found {', '.join(frame.columns)}."
        )
    values = frame[group_col].str.strip_chars().str.to_lowercase()
    unknown = sorted(set(values.drop_nulls().to_list()) - _TRUE - _FALSE)
    if unknown:
        raise ConfigError(
            f"{path}: unknown {group_col} value(s) {', '.join(unknown[:5])}; use io or organic."
        )
    frame = frame.with_columns(
        group=pl.when(values.is_in(list(_TRUE))).then(pl.lit(IO)).otherwise(pl.lit("organic"))
    )
    for column in ("platform", "category", "datasets"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    n_posts = (
        pl.col("n_posts").cast(pl.Int64, strict=False)
        if "n_posts" in frame.columns
        else pl.lit(None, pl.Int64)
    )
    return frame.with_columns(n_posts=n_posts).select(*TRUTH_COLUMNS).unique("account_id", keep="first")


# -- helpers -----------------------------------------------------------------------------
def _connect(out: Path) -> duckdb.DuckDBPyConnection:
    tmp = out / ".duckdb-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return duck.connect(temp_directory=tmp, memory_limit="2GB", threads=2)


def _parquet(case: Case, table: str) -> str:
    return case.table_sql(table)


def _placeholders(values: list[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def _stem(path: Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".bz2", ".xz", ".zst"):
        name = name.removesuffix(suffix)
    return name.rsplit(".", 1)[0] if "." in name else name


def twitter1516_tied_accounts(path: str | Path) -> pl.Series:
    """Accounts of the twitter15-16 cascades with a retweet whose delay another user shares exactly.

    16.5 % of its unique (cascade, user) retweets tie to 0.01 minute with another user's in the
    same cascade (FINDINGS): swarms, or an artifact of how the trees were timed. Accounts linked
    through such times are weak "organic" controls, so benchmarks report results without them too.
    """
    retweets = (
        pl.scan_csv(
            path,
            schema_overrides={
                "source_tweet_id": pl.String,
                "parent_uid": pl.String,
                "child_uid": pl.String,
                "child_delay_min": pl.String,
            },
        )
        .select("source_tweet_id", "parent_uid", "child_uid", "child_delay_min")
        .filter(pl.col("parent_uid") != "ROOT")
        .unique(["source_tweet_id", "child_uid"])
        .collect()
    )
    return (
        retweets.group_by("source_tweet_id", "child_delay_min")
        .agg(pl.col("child_uid").unique())
        .filter(pl.col("child_uid").list.len() > 1)
        .explode("child_uid")["child_uid"]
        .unique()
        .sort()
        .rename("account_id")
    )
