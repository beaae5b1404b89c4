"""The live state of a watched case, as ``cibwatch serve``'s live page shows it: the window, its
activity, campaigns by last activity, and the latest alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cibwatch.store.case import Case
from cibwatch.watch.alerts import recent_alerts
from cibwatch.watch.state import OFFSETS_TABLE
from cibwatch.watch.window import WINDOW_CASE

CAMPAIGNS_SHOWN = 50
ALERTS_SHOWN = 20


def live_state(case: Case) -> dict[str, Any]:
    """What the watch of ``case`` has seen: ``watched`` is False for a case no watch ever fed.

    >>> live_state(open_case("watched"))["window"]["posts"]  # doctest: +SKIP
    16598
    """
    parts = case.parts(OFFSETS_TABLE)
    state: dict[str, Any] = {
        "watched": bool(parts),
        "last_batch_at": _iso(datetime.fromtimestamp(max(p.stat().st_mtime for p in parts)).astimezone())
        if parts
        else None,
        "window": {"start": None, "end": None, "posts": 0},
        "activity": [],
        "campaigns": [],
        "alerts": recent_alerts(case, ALERTS_SHOWN),
    }
    window_root = case.root.joinpath(*WINDOW_CASE)
    if (window_root / "case.json").exists():
        # Read with polars, not the window case's DuckDB file: the watch rewrites it meanwhile.
        window = Case(window_root)
        if window.has_table("posts"):
            times = window.scan("posts").select("created_at").drop_nulls().collect()["created_at"]
            state["window"] = {"start": _iso(times.min()), "end": _iso(times.max()), "posts": len(times)}
            hourly = times.dt.truncate("1h").value_counts().sort("created_at")
            state["activity"] = [{"t": _iso(t), "posts": n} for t, n in hourly.iter_rows()]
    if case.has_table("campaigns"):
        campaigns = (
            case.read("campaigns").sort("last_at", descending=True, nulls_last=True).head(CAMPAIGNS_SHOWN)
        )
        state["campaigns"] = [
            {
                "campaign_id": c["campaign_id"],
                "size": c["size"],
                "last_at": _iso(c["last_at"]),
                "suspicion_score": c["suspicion_score"],
                "summary": c["summary"],
            }
            for c in campaigns.iter_rows(named=True)
        ]
    return state


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None
