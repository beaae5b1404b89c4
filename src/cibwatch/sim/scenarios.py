"""Named scenarios: a world size, a period, and the tactics and traps mixed into it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cibwatch.errors import ConfigError

ALL_OPERATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("repost_ring", {}),
    ("copy_paste", {}),
    ("hashtag_push", {}),
    ("hashtag_hijack", {}),
    ("link_farm", {}),
    ("sleeper", {}),
    ("cyborg", {}),
    ("state_media", {}),
)
ALL_TRAPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("fan_community", {}),
    ("breaking_news", {}),
    ("activist_campaign", {}),
    ("wire_story", {}),
    ("op_amplified", {}),  # last: it reposts what the operations planned
)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    accounts: int  # organic accounts
    days: int
    tactics: tuple[tuple[str, dict[str, Any]], ...] = field(default=ALL_OPERATIONS + ALL_TRAPS)
    start: str = "2024-03-04T00:00:00+00:00"  # fixed: no wall clock in the output
    chunk_hours: int = 24
    # Operation and trap sizes are given for 4,000 accounts and scale with the square root.
    reference_accounts: int = 4000

    @property
    def start_ms(self) -> int:
        return int(datetime.fromisoformat(self.start).astimezone(UTC).timestamp() * 1000)

    @property
    def scale(self) -> float:
        return (self.accounts / self.reference_accounts) ** 0.5

    def with_size(self, accounts: int | None = None, days: int | None = None) -> Scenario:
        if accounts is not None and (not isinstance(accounts, int) or accounts < 200):
            raise ConfigError(f"--accounts must be a whole number of at least 200. Got {accounts!r} instead.")
        if days is not None and (not isinstance(days, int) or not 1 <= days <= 366):
            raise ConfigError(f"--days must be a whole number from 1 to 366. Got {days!r} instead.")
        return replace(self, accounts=accounts or self.accounts, days=days or self.days)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("demo", "Small and quick: every tactic and trap, tens of thousands of posts.", 4000, 7),
        Scenario(
            "default", "A mid-size benchmark world (about a million posts).", 60_000, 14, chunk_hours=12
        ),
        Scenario("large", "A benchmark world of more than ten million posts.", 400_000, 30, chunk_hours=3),
    )
}


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ConfigError(f"Unknown scenario {name!r}; expected one of: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
