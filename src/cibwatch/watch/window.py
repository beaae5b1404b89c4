"""Detection over the sliding window: coordination and campaigns of the window's posts only.

The window ends at the newest post's time (event time, so a replay and a live stream behave the
same) and spans ``window_s`` seconds before it. Its posts, and its authors' account rows, are
copied into a case of their own (``DIR/watch/window``); ``coord.detect`` runs on that case, the
campaigns are assembled there (the window's posts, the case's bot scores), and the coord_* and
campaign tables replace the watched case's.
This is exactly ``cibwatch coord`` as a batch over the window's posts, recomputed per detection;
with ``--keep-coactions`` only the co-actions are carried from one detection to the next
(``coord.incremental``) (docs/watch.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from cibwatch import schema
from cibwatch.campaigns import CampaignsParams
from cibwatch.campaigns import run as assemble_campaigns
from cibwatch.coord import CoordParams, detect, save_to_case
from cibwatch.coord.incremental import CoactionState
from cibwatch.store.case import Case

WINDOW_CASE = ("watch", "window")
COACTIONS = ("watch", "coactions")


@dataclass(frozen=True)
class WindowRun:
    """What one detection over the window saw and found."""

    start: datetime | None
    end: datetime | None
    posts: int
    flagged: int  # accounts whose coord status is 'coordinated'
    campaigns: int
    seconds: float


def window_case(case: Case) -> Case:
    return Case.create(case.root.joinpath(*WINDOW_CASE))


def fill_window(case: Case, window_s: float) -> tuple[Case, datetime | None, datetime | None, int]:
    """Copy the window's posts and their authors' account rows into the window case."""
    end = case.scalar("SELECT max(created_at) FROM posts") if case.has_table("posts") else None
    target = window_case(case)
    if not isinstance(end, datetime):
        return target, None, None, 0
    start = end - timedelta(seconds=window_s)
    posts = case.sql("SELECT * FROM posts WHERE created_at >= ?", [start]).to_arrow_table()
    accounts = case.sql(
        "SELECT a.* FROM accounts a WHERE EXISTS (SELECT 1 FROM posts p WHERE p.created_at >= ? "
        "AND p.platform = a.platform AND p.account_id = a.account_id)",
        [start],
    ).to_arrow_table()
    posts = posts.select(schema.POSTS.names).cast(schema.POSTS)
    accounts = accounts.select(schema.ACCOUNTS.names).cast(schema.ACCOUNTS)
    target.replace_table("posts", posts)
    target.replace_table("accounts", accounts)
    return target, start, end, posts.num_rows


def detect_window(
    case: Case, window_s: float, params: CoordParams | None = None, *, keep_coactions: bool = False
) -> WindowRun:
    """Re-run coordination and campaigns over the last ``window_s`` seconds of ``case``'s posts.

    >>> run = detect_window(open_case("out/case"), 24 * 3600)  # doctest: +SKIP
    >>> run.flagged                                           # doctest: +SKIP
    41
    """
    started = time.perf_counter()
    params = params or CoordParams()
    target, start, end, n_posts = fill_window(case, window_s)
    try:
        if not n_posts:
            return WindowRun(start, end, 0, 0, 0, time.perf_counter() - started)
        keywords = {f.name: getattr(params, f.name) for f in fields(params) if f.name != "extra"}
        # The last detection's co-actions: only the new events' are computed (DuckDB only).
        use_kept = keep_coactions and params.engine == "duckdb"
        kept = CoactionState(case.root.joinpath(*COACTIONS)) if use_kept else None
        result = detect(target, **keywords, coactions=kept)
        # Campaigns of the window: members' posts and narratives are the window's, not their
        # whole history (a long watch would read ever more of it).
        save_to_case(result, target)
        _copy_tables(case, target, ["bot_scores"])
        campaigns = assemble_campaigns(target, CampaignsParams())
        save_to_case(result, case)
        _copy_tables(target, case, _CAMPAIGN_TABLES)
    finally:
        target.close()
    flagged = result.accounts.filter(result.accounts["status"] == "coordinated").height
    return WindowRun(
        start, end, n_posts, flagged, campaigns.result.n_campaigns, time.perf_counter() - started
    )


_CAMPAIGN_TABLES = ["campaigns", "campaign_members", "recommendations"]


def _copy_tables(source: Case, target: Case, tables: list[str]) -> None:
    """Replace ``target``'s ``tables`` by ``source``'s (a table ``source`` lacks is removed)."""
    for table in tables:
        parts = source.parts(table)
        if parts:  # as stored: the parts' own Arrow schema
            target.replace_table(table, pa.concat_tables(pq.read_table(p) for p in parts))
            continue
        with target.locked():
            for part in target.parts(table):
                part.unlink()
