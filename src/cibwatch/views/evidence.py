"""The posts behind an account's coordination evidence, and posting activity over time.

A reviewer judging an account needs to read what it posted next to what each partner posted: the
case file (``case_file``) holds the evidence as post ids and times only, since it is the immutable
snapshot a decision stores. These records add the texts and the partners' screen names, bounded so
a hub account with hundreds of partners still reads quickly.

>>> ev = account_evidence(open_case("out/case"), "12345", max_edges=10, max_pairs=3)  # doctest: +SKIP
>>> ev.edges[0].partner_handle, ev.edges[0].pairs[0].partner_text                     # doctest: +SKIP
('patriot_jane02', 'RT @source: Vote them out #maga')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from cibwatch.store.case import Case

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Hours read well for a burst of a few days; longer activity needs days.
HOURLY_SPAN_MS = 3 * DAY_MS
TEXT_CHARS = 2_000  # a post longer than this is cut (with "…"): the page stays bounded


@dataclass(frozen=True)
class EvidencePair:
    """One co-action of an edge: the account's post and the partner's, as each posted it."""

    item: str | None  # what they both acted on: a reposted post, a hashtag, a link, a text…
    post_id: str | None
    time: datetime | None
    text: str | None  # None when the post is not in the case's posts table
    partner_post_id: str | None
    partner_time: datetime | None
    partner_text: str | None
    gap_s: float | None


@dataclass(frozen=True)
class EdgePosts:
    """One coordination edge of the account, with its closest-in-time co-actions and their posts."""

    partner: str
    partner_handle: str | None  # the partner's screen name in its latest profile snapshot
    trace: str
    observed: int | None  # co-acted items (``coord_edges.n_shared``)
    expected: float | None
    q_value: float | None
    median_gap_s: float | None
    first_at: datetime | None
    last_at: datetime | None
    n_evidence: int  # all evidence rows of the edge; ``pairs`` holds at most ``max_pairs``
    pairs: list[EvidencePair]


@dataclass(frozen=True)
class AccountEvidence:
    """The account's most significant edges (at most ``max_edges``) and how many it has in all."""

    account_id: str
    edges: list[EdgePosts]
    n_edges: int


@dataclass(frozen=True)
class Activity:
    """Posts per ``bucket`` ("hour" or "day"), as (bucket start in epoch ms, posts), oldest first."""

    bucket: str
    counts: list[tuple[int, int]]


def account_evidence(
    case: Case, account_id: str, *, max_edges: int = 20, max_pairs: int = 5
) -> AccountEvidence:
    """The posts behind ``account_id``'s edges: most significant edge first, closest co-actions first.

    Edges are ordered by q-value, then by co-acted items; within an edge the pairs with the smallest
    gap come first. An account without edges (or a case without coordination) has none.
    """
    if max_edges < 1 or max_pairs < 1:
        raise ValueError(f"max_edges and max_pairs must be at least 1. Got {max_edges} and {max_pairs}.")
    if not case.has_table("coord_edges"):
        return AccountEvidence(account_id, [], 0)
    mine = pl.col("account_a").eq(account_id) | pl.col("account_b").eq(account_id)
    edges = (
        case.scan("coord_edges")
        .filter(mine)
        .with_columns(
            partner=pl.when(pl.col("account_a") == account_id).then("account_b").otherwise("account_a")
        )
        .sort(
            ["q_value", "n_shared", "partner", "trace"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .collect()
    )
    shown = edges.head(max_edges)
    keys = shown.select("account_a", "account_b", "trace")
    rows = pl.DataFrame()
    totals: dict[tuple[str, str, str], int] = {}
    if not shown.is_empty() and case.has_table("coord_evidence"):
        found = (
            case.scan("coord_evidence").join(keys.lazy(), on=["account_a", "account_b", "trace"]).collect()
        )
        totals = {
            (a, b, t): int(n)
            for a, b, t, n in found.group_by("account_a", "account_b", "trace").len().iter_rows()
        }
        rows = (
            found.sort(["account_a", "account_b", "trace", "gap_s", "item"], nulls_last=True)
            .group_by("account_a", "account_b", "trace", maintain_order=True)
            .head(max_pairs)
        )
    texts = _texts(case, rows)
    handles = screen_names(case, shown["partner"].to_list())
    pairs: dict[tuple[str, str, str], list[EvidencePair]] = {}
    for r in rows.iter_rows(named=True):
        first = r["account_a"] == account_id
        own, other = ("a", "b") if first else ("b", "a")
        pairs.setdefault((r["account_a"], r["account_b"], r["trace"]), []).append(
            EvidencePair(
                item=r["item"],
                post_id=r[f"post_id_{own}"],
                time=r[f"time_{own}"],
                text=texts.get((account_id, r[f"post_id_{own}"])),
                partner_post_id=r[f"post_id_{other}"],
                partner_time=r[f"time_{other}"],
                partner_text=texts.get((r[f"account_{other}"], r[f"post_id_{other}"])),
                gap_s=r["gap_s"],
            )
        )
    out = []
    for e in shown.iter_rows(named=True):
        key = (e["account_a"], e["account_b"], e["trace"])
        out.append(
            EdgePosts(
                partner=e["partner"],
                partner_handle=handles.get(e["partner"]),
                trace=e["trace"],
                observed=e["n_shared"],
                expected=e["expected"],
                q_value=e["q_value"],
                median_gap_s=e["median_gap_s"],
                first_at=e["first_at"],
                last_at=e["last_at"],
                n_evidence=totals.get(key, 0),
                pairs=pairs.get(key, []),
            )
        )
    return AccountEvidence(account_id, out, edges.height)


def _texts(case: Case, rows: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(author, post id) -> text of the evidence rows' posts, cut at ``TEXT_CHARS``."""
    if rows.is_empty() or not case.has_table("posts"):
        return {}
    wanted = (
        pl.concat(
            [
                rows.select(
                    pl.col(f"account_{side}").alias("account_id"), pl.col(f"post_id_{side}").alias("post_id")
                )
                for side in ("a", "b")
            ]
        )
        .drop_nulls()
        .unique()
    )
    found = (
        case.scan("posts")
        .filter(pl.col("post_id").is_in(wanted["post_id"].to_list()) & pl.col("text").is_not_null())
        .join(wanted.lazy(), on=["account_id", "post_id"])
        .select("account_id", "post_id", "text")
        .unique(["account_id", "post_id"], keep="first")
        .collect()
    )
    return {(a, p): _cut(t) for a, p, t in found.iter_rows()}


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def screen_names(case: Case, account_ids: Iterable[str]) -> dict[str, str]:
    """Each account's screen name in its latest profile snapshot that has one (accounts without none).

    >>> screen_names(open_case("out/case"), ["12345"])   # doctest: +SKIP
    {'12345': 'patriot_jane01'}
    """
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    named = (
        case.scan("accounts")
        .filter(pl.col("account_id").is_in(ids) & pl.col("screen_name").is_not_null())
        .sort(["probed_at", "ingested_at"], descending=True, nulls_last=True)
        .unique("account_id", keep="first", maintain_order=True)
        .select("account_id", "screen_name")
        .collect()
    )
    return dict(named.iter_rows())


def activity(case: Case, account_ids: Sequence[str], *, bucket: str | None = None) -> Activity:
    """Posts by ``account_ids`` per hour or per day (``bucket``; by default ``bucket_for`` the span).

    >>> activity(open_case("out/case"), ["12345"]).bucket   # doctest: +SKIP
    'hour'
    """
    if bucket not in (None, "hour", "day"):
        raise ValueError(f"bucket must be 'hour', 'day' or None (chosen from the span). Got {bucket!r}.")
    if not account_ids or not case.has_table("posts"):
        return Activity(bucket or "day", [])
    hourly = (
        case.scan("posts")
        .filter(pl.col("account_id").is_in(list(account_ids)) & pl.col("created_at").is_not_null())
        .group_by(pl.col("created_at").dt.truncate("1h").dt.epoch("ms").alias("hour"))
        .len()
        .sort("hour")
        .collect()
    )
    return bucketed(list(zip(hourly["hour"].to_list(), hourly["len"].to_list(), strict=True)), bucket)


def bucket_for(hours: Sequence[int]) -> str:
    """ "hour" when the posts (hour starts in epoch ms, sorted) span at most three days, else "day"."""
    return "hour" if not hours or hours[-1] - hours[0] <= HOURLY_SPAN_MS else "day"


def bucketed(hourly: list[tuple[int, int]], bucket: str | None = None) -> Activity:
    """Hourly (hour start ms, posts) counts, sorted, as an ``Activity`` per ``bucket`` (or ``bucket_for``)."""
    bucket = bucket or bucket_for([h for h, _ in hourly])
    if bucket == "hour":
        return Activity("hour", list(hourly))
    daily: dict[int, int] = {}
    for hour, n in hourly:
        day = hour - hour % DAY_MS
        daily[day] = daily.get(day, 0) + n
    return Activity("day", sorted(daily.items()))
