"""Synchronized activity: posting in the same fine time bin (OSoMe's case studies).

The item is the bin itself, so the trace fixes its window to the bin width. One event per
account and bin: a burst of posts by one account is one action.

Its null model is stratified by (week, hour of day): ordinary accounts share daily rhythms and
busy hours, so two accounts that both post at 9 pm are compared with how busy 9 pm is, not with
the week's average minute. ``sync_bare`` is the same over posts that carry nothing else to compare
(no text, reference, link, hashtag or media): the variant ``choose_traces`` adds when a corpus has
many such posts, because on posts with content the other traces are better and timing adds the
busy minutes of organic conversation.
"""

from __future__ import annotations

from typing import Any

from cibwatch.coord.sqltext import trim_sql
from cibwatch.coord.traces import Strata, Trace, register

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# A post with nothing but an author and a time (deleted, withheld, or a times-only export).
CONTENT_FREE = f"""(coalesce({trim_sql("p.text")}, '') = '' AND p.ref_post_id IS NULL
    AND coalesce(len(p.urls), 0) = 0 AND coalesce(len(p.hashtags), 0) = 0
    AND coalesce(len(p.media_hashes), 0) = 0)"""

# Ids (pool, hour): consecutive ids are consecutive hours of the day within a pool of
# `stratum_ms` (a week: the same hour on its seven days pooled); hour 23 neighbours the next
# pool's hour 0 rather than the same pool's, an approximation that only touches the neighbour term.
DAILY_RHYTHM = Strata(
    sql=f"({{t}} // {{stratum_ms}}) * 24 + ({{t}} % {DAY_MS}) // {HOUR_MS}",
    slot_ms=HOUR_MS,
    label="stratum × hour of day",
)


def _bin_seconds(params: dict[str, Any]) -> float:
    return float(params["sync_bin"])


def _sql(where: str) -> str:
    return f"""SELECT account_id, 'bin:' || CAST(t // {{sync_bin_ms}} AS VARCHAR) AS item,
                      min(t) AS t, arg_min(post_id, t) AS post_id
               FROM p WHERE {where} GROUP BY account_id, t // {{sync_bin_ms}}"""


for name, description, where in (
    ("sync", "Posting in the same time bin (--sync-bin seconds)", "true"),
    ("sync_bare", "Posting in the same time bin, posts without any content only", CONTENT_FREE),
):
    register(
        Trace(
            name=name,
            description=description,
            default=False,
            fixed_window=_bin_seconds,
            strata=DAILY_RHYTHM,
            sql=_sql(where),
        )
    )
