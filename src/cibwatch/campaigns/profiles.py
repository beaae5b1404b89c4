"""Account provenance inside a campaign: creation bursts and shared profile patterns.

Pure functions over plain values, so they are easy to test and reuse.

>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2016, 1, 1, tzinfo=UTC)
>>> [b.n_members for b in creation_bursts({"a": t0, "b": t0 + timedelta(days=1), "c": t0}, 3.0, 3)]
[3]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

_HANDLE_DIGITS = re.compile(r"^(.*?[a-z_])[_\-.]?(\d{2,})$")
_SPACES = re.compile(r"\s+")


@dataclass
class Burst:
    """Members created within ``window_days`` of each other (chained), with the case baseline."""

    start: datetime
    end: datetime
    members: list[str]
    expected: float | None = None  # members expected in [start, end] from the case's creation dates

    @property
    def n_members(self) -> int:
        return len(self.members)

    @property
    def ratio(self) -> float | None:
        if self.expected is None:
            return None
        return self.n_members / max(self.expected, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_members": self.n_members,
            "members": sorted(self.members),
            "expected": None if self.expected is None else round(self.expected, 3),
            "ratio_to_expected": None if ratio is None else round(min(ratio, 1e6), 2),
        }


def creation_bursts(
    created: Mapping[str, datetime | None],
    window_days: float,
    min_members: int,
    baseline_share: Callable[[datetime, datetime], float | None] | None = None,
) -> list[Burst]:
    """Groups of at least ``min_members`` accounts created within ``window_days`` of each other.

    ``baseline_share(start, end)`` gives the share of all the case's accounts created in that span, so
    a burst says how many members were expected there by chance.
    """
    dated = sorted((t, a) for a, t in created.items() if t is not None)
    window = timedelta(days=window_days)
    in_burst = [False] * len(dated)
    j = 0
    for i in range(len(dated)):
        j = max(j, i)
        while j + 1 < len(dated) and dated[j + 1][0] - dated[i][0] <= window:
            j += 1
        if j - i + 1 >= min_members:
            for k in range(i, j + 1):
                in_burst[k] = True
    bursts: list[Burst] = []
    for k, (t, account) in enumerate(dated):
        if not in_burst[k]:
            continue
        # A marked account continues the current burst when it lies within the window of the last one.
        if bursts and k > 0 and in_burst[k - 1] and t - bursts[-1].end <= window:
            bursts[-1].members.append(account)
            bursts[-1].end = t
        else:
            bursts.append(Burst(start=t, end=t, members=[account]))
    if baseline_share is not None:
        for burst in bursts:
            share = baseline_share(burst.start, burst.end)
            if share is not None:
                burst.expected = share * len(dated)
    return bursts


def handle_stem(screen_name: str | None) -> str | None:
    """``"patriot_jane1984" -> "patriot_jane"``: the letters before a run of digits, when long enough."""
    if not screen_name:
        return None
    match = _HANDLE_DIGITS.match(screen_name.lower())
    if match is None or len(match.group(1).strip("_")) < 3:
        return None
    return match.group(1).rstrip("_-.")


def _norm_text(value: str | None) -> str | None:
    if not value:
        return None
    text = _SPACES.sub(" ", value.strip().lower())
    return text or None


@dataclass
class ProfilePatterns:
    """Patterns shared by at least ``min_shared`` members, and which members carry them."""

    patterns: dict[str, list[str]] = field(default_factory=dict)  # pattern -> members
    default_image_share: float | None = None

    def of(self, account_id: str) -> list[str]:
        return sorted(p for p, members in self.patterns.items() if account_id in members)

    def share(self, n_members: int) -> float:
        covered = {a for members in self.patterns.values() for a in members}
        return len(covered) / n_members if n_members else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "patterns": {p: sorted(m) for p, m in sorted(self.patterns.items())},
            "default_image_share": self.default_image_share,
        }


def profile_patterns(profiles: Mapping[str, Mapping[str, Any]], min_shared: int) -> ProfilePatterns:
    """Handle stems (prefix + digits), identical names and identical descriptions among members.

    ``profiles`` maps account_id to a dict with ``screen_name``, ``name``, ``description`` and
    ``default_profile_image`` (any may be missing).
    """
    groups: dict[str, set[str]] = defaultdict(set)
    defaults = [p.get("default_profile_image") for p in profiles.values()]
    for account, profile in profiles.items():
        stem = handle_stem(profile.get("screen_name"))
        if stem:
            groups[f"handle:{stem}+digits"].add(account)
        name = _norm_text(profile.get("name"))
        if name:
            groups[f"name:{name}"].add(account)
        description = _norm_text(profile.get("description"))
        if description and len(description) >= 8:
            groups[f"description:{description[:60]}"].add(account)
    known = [d for d in defaults if d is not None]
    return ProfilePatterns(
        patterns={p: sorted(m) for p, m in groups.items() if len(m) >= min_shared},
        default_image_share=(sum(known) / len(known)) if known else None,
    )
