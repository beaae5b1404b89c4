"""Alerts: a campaign that appears, doubles in size or crosses a tier, said once.

Campaign ids come from cluster ids, which a new detection may number differently, so a campaign
is followed by its members: a campaign of the latest detection is the followed one it shares at
least half of the smaller member list with (``same_campaign``). A followed campaign remembers the
size and tier of its last alert; it alerts again only when it has at least doubled since, or
reached a higher tier. What is followed lives in ``DIR/watch/alerts.json`` (written atomically
after the alerts went out: a crash in between repeats an alert rather than losing one).

At most ``max_per_minute`` alerts go out in any minute; the others wait until the limit allows
(their campaign keeps its last alerted state, so they are not lost, only late).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cibwatch.schema import TIER_RANK
from cibwatch.store.case import Case, write_atomic

log = logging.getLogger("cibwatch.watch")

ALERTS_STATE = ("watch", "alerts.json")
# Every alert sent, one JSON line each, kept in the case for `cibwatch serve`'s live page.
ALERTS_LOG = ("watch", "alerts.jsonl")
# Members listed in an alert; ``n_members`` has them all.
MAX_MEMBERS_LISTED = 200
# A campaign of the latest detection is a followed one if they share this share of the smaller one.
SAME_CAMPAIGN_OVERLAP = 0.5
WEBHOOK_TIMEOUT_S = 5.0


@dataclass
class Followed:
    """A campaign alerted on before: its members then, and the size and tier of its last alert."""

    followed_id: str
    members: list[str]
    size: int
    tier: str


@dataclass
class AlertState:
    followed: dict[str, Followed] = field(default_factory=dict)
    sent: int = 0

    @classmethod
    def load(cls, case: Case) -> AlertState:
        path = case.root.joinpath(*ALERTS_STATE)
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls({k: Followed(**v) for k, v in data["followed"].items()}, data.get("sent", 0))

    def save(self, case: Case) -> None:
        path = case.root.joinpath(*ALERTS_STATE)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"followed": {k: vars(v) for k, v in self.followed.items()}, "sent": self.sent}
        write_atomic(path, json.dumps(data, sort_keys=True) + "\n")


def same_campaign(a: set[str], b: set[str]) -> bool:
    return bool(a and b) and len(a & b) >= SAME_CAMPAIGN_OVERLAP * min(len(a), len(b))


def campaign_tier(tiers: list[str]) -> str:
    """A campaign's tier: the highest of its members' recommendations."""
    return max(tiers, key=lambda t: TIER_RANK.get(t, 0), default="none")


def current_campaigns(case: Case) -> list[dict[str, Any]]:
    """The case's campaigns with their members (sorted) and tier, largest first."""
    if not case.has_table("campaigns"):
        return []
    campaigns = case.read("campaigns").sort(["size", "campaign_id"], descending=[True, False]).to_dicts()
    members: dict[str, list[str]] = {}
    for row in case.read("campaign_members").select("campaign_id", "account_id").iter_rows():
        members.setdefault(row[0], []).append(row[1])
    tiers: dict[str, list[str]] = {}
    if case.has_table("recommendations"):
        recs = case.read("recommendations").select("campaign_id", "tier")
        for campaign_id, tier in recs.iter_rows():
            if campaign_id is not None:
                tiers.setdefault(campaign_id, []).append(tier)
    for c in campaigns:
        c["members"] = sorted(members.get(c["campaign_id"], []))
        c["tier"] = campaign_tier(tiers.get(c["campaign_id"], []))
    return campaigns


def decide_alerts(
    campaigns: list[dict[str, Any]], state: AlertState
) -> list[tuple[str, dict[str, Any], Followed | None]]:
    """(kind, campaign, followed or None) for each campaign that should alert: "new", "doubled"
    or "tier"; one per campaign, the strongest reason first."""
    due: list[tuple[str, dict[str, Any], Followed | None]] = []
    for c in campaigns:
        members = set(c["members"])
        match = next((f for f in state.followed.values() if same_campaign(members, set(f.members))), None)
        if match is None:
            due.append(("new", c, None))
        elif TIER_RANK.get(c["tier"], 0) > TIER_RANK.get(match.tier, 0):
            due.append(("tier", c, match))
        elif len(members) >= 2 * match.size:
            due.append(("doubled", c, match))
    return due


def alert_record(kind: str, c: dict[str, Any], before: Followed | None, serve_url: str) -> dict[str, Any]:
    """The JSON line of one alert."""
    followed_id = before.followed_id if before else c["campaign_id"]
    return {
        "alert": kind,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "campaign_id": c["campaign_id"],
        "followed_id": followed_id,
        "size": len(c["members"]),
        "previous_size": before.size if before else None,
        "tier": c["tier"],
        "previous_tier": before.tier if before else None,
        "members": c["members"][:MAX_MEMBERS_LISTED],
        "n_members": len(c["members"]),
        "evidence": {
            "summary": c.get("summary"),
            "traces": c.get("traces"),
            "top_hashtags": c.get("top_hashtags"),
            "top_domains": c.get("top_domains"),
            "suspicion_score": c.get("suspicion_score"),
            "first_at": _iso(c.get("first_at")),
            "last_at": _iso(c.get("last_at")),
        },
        "url": f"{serve_url.rstrip('/')}/campaigns/{quote(c['campaign_id'], safe='')}",
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


class RateLimit:
    """At most ``per_minute`` events in any 60 s (a sliding log); ``clock`` is injectable for tests."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self.times: deque[float] = deque()

    def allow(self) -> bool:
        now = self.clock()
        while self.times and now - self.times[0] >= 60:
            self.times.popleft()
        if len(self.times) >= self.per_minute:
            return False
        self.times.append(now)
        return True


def post_webhook(url: str, record: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT_S) -> bool:
    """POST the alert as JSON; a failure is logged, never raised (the watch goes on)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(record).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "cibwatch-watch"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return False


class Alerter:
    """Turns each detection's campaigns into alerts: decided, rate-limited, written, remembered."""

    def __init__(
        self,
        case: Case,
        write: Callable[[str], None],
        *,
        webhook: str | None = None,
        serve_url: str = "http://127.0.0.1:8000",
        max_per_minute: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.case, self.write, self.webhook, self.serve_url = case, write, webhook, serve_url
        self.limit = RateLimit(max_per_minute, clock)
        self.state = AlertState.load(case)
        self.held = 0  # alerts the rate limit held back, in all
        self.waiting = 0  # alerts the last check held back
        self.log = line_writer(case.root.joinpath(*ALERTS_LOG), print)

    def check(self) -> list[dict[str, Any]]:
        """Alert on what the case's campaigns now say; returns the alerts sent."""
        sent = []
        self.waiting = 0
        for kind, c, before in decide_alerts(current_campaigns(self.case), self.state):
            if not self.limit.allow():
                self.held += 1
                self.waiting += 1
                continue
            record = alert_record(kind, c, before, self.serve_url)
            line = json.dumps(record, sort_keys=True)
            self.write(line)
            self.log(line)
            if self.webhook:
                post_webhook(self.webhook, record)
            followed_id = record["followed_id"]
            self.state.followed[followed_id] = Followed(
                followed_id, c["members"], len(c["members"]), c["tier"]
            )
            self.state.sent += 1
            sent.append(record)
        if sent:
            self.state.save(self.case)
        return sent


def recent_alerts(case: Case, n: int = 20) -> list[dict[str, Any]]:
    """The case's last ``n`` alerts, newest first."""
    path = case.root.joinpath(*ALERTS_LOG)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-n:]
    return [json.loads(line) for line in reversed(lines) if line.strip()]


def line_writer(path: Path | None, echo: Callable[[str], None]) -> Callable[[str], None]:
    """Append each alert line to ``path`` (flushed and synced), or hand it to ``echo`` (stdout)."""
    if path is None:
        return echo

    def append(line: str) -> None:
        import os

        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    return append
