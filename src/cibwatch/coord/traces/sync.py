"""Synchronized activity: posting in the same fine time bin (OSoMe's case studies).

The item is the bin itself, so the trace fixes its window to the bin width. One event per
account and bin: a burst of posts by one account is one action.
"""

from __future__ import annotations

from typing import Any

from cibwatch.coord.traces import Trace, register


def _bin_seconds(params: dict[str, Any]) -> float:
    return float(params["sync_bin"])


register(
    Trace(
        name="sync",
        description="Posting in the same time bin (--sync-bin seconds)",
        default=False,
        fixed_window=_bin_seconds,
        sql="""SELECT account_id, 'bin:' || CAST(t // {sync_bin_ms} AS VARCHAR) AS item,
                      min(t) AS t, arg_min(post_id, t) AS post_id
               FROM p GROUP BY account_id, t // {sync_bin_ms}""",
    )
)
