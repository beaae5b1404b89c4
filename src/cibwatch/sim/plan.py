"""What tactics and traps plan: the accounts they add or recruit, and the posts they schedule.

A tactic (or trap) is one function registered with ``@tactic``; it receives a ``Context``
and schedules posts with ``ctx.post``. Adding a tactic is one function plus its decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from cibwatch.sim import events as ev
from cibwatch.sim import text, vocab
from cibwatch.sim.world import DAY_MS, World, make_profiles

HOUR_MS = 3_600_000
_CIRC = np.array(vocab.CIRCADIAN) / max(vocab.CIRCADIAN)

TacticFn = Callable[["Context"], None]


@dataclass(frozen=True)
class TacticInfo:
    name: str
    kind: str  # "operation" | "trap"
    fn: TacticFn
    summary: str


TACTICS: dict[str, TacticInfo] = {}


def tactic(name: str, kind: str = "operation") -> Callable[[TacticFn], TacticFn]:
    """Register a tactic (``kind="operation"``) or a trap (``kind="trap"``) under ``name``."""

    def wrap(fn: TacticFn) -> TacticFn:
        if name in TACTICS:
            raise ValueError(f"two tactics are called {name!r}")
        summary = (fn.__doc__ or "").strip().split("\n")[0]
        TACTICS[name] = TacticInfo(name, kind, fn, summary)
        return fn

    return wrap


@dataclass
class Context:
    """Everything a tactic may touch: the world, its own random stream and the plan."""

    world: World
    rng: np.random.Generator
    campaign_id: str
    tactic: str
    kind: str
    params: dict[str, Any]
    scale: float
    next_key: int
    parts: list[pl.DataFrame] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    # Posts planned by operations so far (the "real users repost an operation" trap reads them).
    operation_posts: pl.DataFrame | None = None

    @property
    def start_ms(self) -> int:
        return self.world.start_ms

    @property
    def end_ms(self) -> int:
        return self.world.end_ms

    def size(self, name: str, default: int) -> int:
        """An account count from the params, scaled with the world, at least 3."""
        return max(3, round(self.params.get(name, default) * self.scale))

    @property
    def role(self) -> str:
        return "organic-trap" if self.kind == "trap" else self.params.get("role", "bot")

    def new_accounts(self, n: int, role: str | None = None, **overrides: Any) -> np.ndarray:
        """``n`` new accounts drawn like organic ones, then ``overrides`` (arrays or scalars)."""
        profiles = make_profiles(
            self.rng,
            n,
            self.start_ms,
            role=role or self.role,
            campaign=self.campaign_id,
            tactic=self.tactic,
            created_ms=overrides.pop("created_ms", None),
        )
        for name, value in overrides.items():
            if isinstance(profiles[name], list):
                profiles[name] = list(value) if not isinstance(value, str) else [value] * n
            else:
                profiles[name] = np.broadcast_to(np.asarray(value), np.shape(profiles[name])).copy()
        return self.world.append(profiles)

    def recruit(self, n: int, *, min_rate: float = 0.05) -> np.ndarray:
        """``n`` organic people not yet in any trap or operation; they become this trap's."""
        roles = np.array(self.world["role"])
        pool = np.flatnonzero((roles == "organic") & (self.world["rate"] >= min_rate))
        n = min(n, len(pool))
        chosen = np.sort(self.rng.choice(pool, size=n, replace=False))
        self.world.set_truth(chosen, self.role, self.campaign_id, self.tactic)
        return chosen

    def post(
        self,
        author: np.ndarray,
        t: np.ndarray,
        *,
        kind: int = ev.ORIGINAL,
        ref_key: np.ndarray | None = None,
        body: pl.Series | list[str] | None = None,
        tag1: pl.Series | list[str | None] | str | None = None,
        tag2: pl.Series | list[str | None] | str | None = None,
        url: pl.Series | list[str | None] | None = None,
        source: np.ndarray | int | None = None,
        mention: np.ndarray | None = None,
    ) -> np.ndarray:
        """Schedule posts (one per element of ``author``); returns their keys."""
        author = np.asarray(author, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        n = len(author)
        inside = (t >= self.start_ms) & (t < self.end_ms)
        keys = ev.PLANNED_KEY_BASE + self.next_key + np.arange(n, dtype=np.int64)
        self.next_key += n
        if body is None and kind in (ev.ORIGINAL, ev.REPLY, ev.QUOTE):
            if kind == ev.REPLY:
                body = text.replies(self.rng, n)
            else:
                body = text.bodies(self.rng, self.world["topic"][author])
        columns: dict[str, Any] = {
            "key": keys,
            "t": t,
            "author": author,
            "kind": np.full(n, kind),
            "ref_key": ref_key,
            "root_key": keys,
            "root_t": t,
            "source": self.world["source"][author] if source is None else np.broadcast_to(source, n),
            "body": _series(body, n),
            "tag1": _series(tag1, n),
            "tag2": _series(tag2, n),
            "url": _series(url, n),
            "mention": mention,
        }
        frame = ev.frame(n, **columns).filter(pl.Series(inside))
        self.parts.append(frame)
        return keys

    # -- time helpers ---------------------------------------------------------------
    def circadian_times(self, author: np.ndarray, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        """One time per author in [lo, hi), following the author's local rhythm."""
        lo = self.start_ms if lo is None else lo
        hi = self.end_ms if hi is None else hi
        author = np.asarray(author)
        out = np.empty(len(author), dtype=np.int64)
        todo = np.arange(len(author))
        while len(todo):
            t = self.rng.integers(lo, max(hi, lo + 1), len(todo))
            local_hour = ((t + self.world["tz_s"][author[todo]] * 1000) // HOUR_MS) % 24
            flat = self.world["flat"][author[todo]]
            accept = self.rng.random(len(todo)) < (1 - flat) * _CIRC[local_hour] + flat
            out[todo[accept]] = t[accept]
            todo = todo[~accept]
        return out

    def office_times(
        self, n: int, tz_hours: float, lo: int | None = None, hi: int | None = None
    ) -> np.ndarray:
        """Times in an operator's office hours (09-18 local, Monday-Friday)."""
        lo = self.start_ms if lo is None else lo
        hi = self.end_ms if hi is None else hi
        out = np.empty(n, dtype=np.int64)
        todo = np.arange(n)
        while len(todo):
            t = self.rng.integers(lo, max(hi, lo + 1), len(todo))
            local = t + int(tz_hours * HOUR_MS)
            hour = (local // HOUR_MS) % 24
            weekday = (local // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
            ok = (hour >= 9) & (hour < 18) & (weekday < 5)
            if not ok.any() and hi - lo < 3 * DAY_MS:  # a short window with no office hours
                ok[:] = True
            out[todo[ok]] = t[ok]
            todo = todo[~ok]
        return out

    def frame(self) -> pl.DataFrame:
        return pl.concat(self.parts, how="vertical") if self.parts else ev.empty()


def _series(value: Any, n: int) -> pl.Series | None:
    if value is None:
        return None
    if isinstance(value, str):
        return pl.Series([value] * n, dtype=pl.String)
    if isinstance(value, pl.Series):
        return value.cast(pl.String)
    return pl.Series(list(value), dtype=pl.String)


def lognormal_ms(rng: np.random.Generator, median_s: float, sd: float, n: int) -> np.ndarray:
    return (rng.lognormal(np.log(median_s * 1000.0), sd, n)).astype(np.int64)
