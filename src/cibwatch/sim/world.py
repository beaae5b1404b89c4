"""The accounts of a simulated platform, held column-wise (numpy arrays and string lists).

Organic accounts and the accounts tactics add are drawn by the same generator, so no
single profile field separates them; tactics only shift distributions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cibwatch.sim import vocab

DAY_MS = 86_400_000
# X's snowflake epoch (2010-11-04): ids made after it encode their creation time.
TWEPOCH_MS = 1_288_834_974_657
_SNOWFLAKE_FROM_MS = 1_370_000_000_000  # accounts made after mid-2013 have snowflake ids

_NUMERIC = {
    "user_id": np.int64,
    "created_ms": np.int64,
    "followers": np.int64,
    "following": np.int64,
    "listed": np.int64,
    "likes": np.int64,
    "tweet_count": np.int64,
    "verified": np.bool_,
    "default_profile": np.bool_,
    "default_profile_image": np.bool_,
    "background": np.bool_,
    "tz_s": np.int64,
    "rate": np.float64,  # organic posts per day (0: only a tactic makes this account post)
    "flat": np.float64,  # share of activity independent of the local hour (automation)
    "source": np.int64,
    "community": np.int64,
    "topic": np.int64,
    "p_tag": np.float64,
    "p_url": np.float64,
    "image_id": np.int64,
}
_MIX_COLUMNS = 4  # original, repost, reply, quote
_STRINGS = ("username", "name", "description", "location", "url", "role", "campaign", "tactic")


@dataclass
class World:
    """All accounts. Index ``i`` is the same account in every column."""

    start_ms: int
    days: int
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    mix: np.ndarray = field(default_factory=lambda: np.zeros((0, _MIX_COLUMNS)))
    strings: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in _STRINGS})

    @property
    def n(self) -> int:
        return len(self.strings["username"])

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.days * DAY_MS

    def __getitem__(self, name: str) -> Any:
        return self.cols[name] if name in self.cols else self.strings[name]

    def append(self, profiles: dict[str, Any]) -> np.ndarray:
        """Add accounts; returns their indices."""
        first = self.n
        count = len(profiles["username"])
        for name, dtype in _NUMERIC.items():
            values: np.ndarray = np.asarray(profiles[name], dtype=dtype)
            self.cols[name] = values if name not in self.cols else np.concatenate([self.cols[name], values])
        self.mix = np.concatenate([self.mix, np.asarray(profiles["mix"], dtype=np.float64)])
        for name in _STRINGS:
            self.strings[name].extend(profiles[name])
        return np.arange(first, first + count)

    def set_truth(self, index: np.ndarray, role: str, campaign: str, tactic: str) -> None:
        for i in np.asarray(index).tolist():
            self.strings["role"][i] = role
            self.strings["campaign"][i] = campaign
            self.strings["tactic"][i] = tactic

    def finish_ids(self) -> None:
        """Make user ids and handles unique (rare collisions are bumped deterministically)."""
        seen: set[str] = set()
        names = self.strings["username"]
        for i, name in enumerate(names):
            key, k = name.lower(), 0
            while key in seen:
                k += 1
                name = f"{names[i][:11]}_{k}"
                key = name.lower()
            seen.add(key)
            names[i] = name
        ids = self.cols["user_id"]
        while True:
            order = np.argsort(ids, kind="stable")
            dup = np.zeros(len(ids), dtype=bool)
            dup[order[1:]] = ids[order[1:]] == ids[order[:-1]]
            if not dup.any():
                return
            ids[dup] += 1


def user_ids(rng: np.random.Generator, created_ms: np.ndarray) -> np.ndarray:
    """Ids shaped like X's: small sequential ones for old accounts, snowflakes for newer ones."""
    old = (created_ms // 1000 - 1_142_000_000) * 2 + rng.integers(0, 2, len(created_ms))
    snow = ((created_ms - TWEPOCH_MS) << 22) | rng.integers(0, 1 << 22, len(created_ms))
    return np.where(created_ms >= _SNOWFLAKE_FROM_MS, snow, np.maximum(old, 12)).astype(np.int64)


def make_profiles(
    rng: np.random.Generator,
    n: int,
    start_ms: int,
    *,
    role: str = "organic",
    campaign: str = "",
    tactic: str = "",
    n_communities: int = 1,
    created_ms: np.ndarray | None = None,
) -> dict[str, Any]:
    """``n`` person-like profiles; callers override columns to make other kinds."""
    city_w = np.array([c[3] for c in vocab.CITIES])
    city = rng.choice(len(vocab.CITIES), size=n, p=city_w / city_w.sum())
    if created_ms is None:
        age_days = np.clip(np.exp(rng.normal(np.log(1400), 0.95, n)), 2, 6200)
        created_ms = start_ms - (age_days * DAY_MS).astype(np.int64) - rng.integers(0, DAY_MS, n)
    age_days = np.maximum((start_ms - created_ms) / DAY_MS, 0.5)
    # Activity (posts/day) is log-normal with a Pareto tail: a few accounts post a lot.
    z = rng.normal(0, 1, n)
    rate = np.exp(-0.9 + 1.25 * z)
    heavy = rng.random(n) < 0.02
    rate[heavy] *= rng.pareto(1.6, heavy.sum()) + 3
    rate = np.minimum(rate, 150.0)
    log_f = rng.normal(4.6, 1.7, n) + 0.45 * z + 0.1 * np.log(age_days)
    followers = np.floor(np.exp(log_f)).astype(np.int64)
    following = np.floor(np.exp(rng.normal(5.6, 1.0, n) + 0.25 * z)).astype(np.int64)
    tweet_count = np.floor(rate * age_days * np.exp(rng.normal(0, 0.6, n))).astype(np.int64) + 1
    likes = np.floor(tweet_count * np.exp(rng.normal(0.3, 1.1, n))).astype(np.int64)
    listed = rng.poisson(followers / 250.0).astype(np.int64)
    verified = (followers > 80_000) & (rng.random(n) < 0.45) | (rng.random(n) < 0.002)
    young = age_days < 365
    default_profile = rng.random(n) < np.where(young, 0.45, 0.18)
    default_image = rng.random(n) < np.where(young, 0.08, 0.02)
    background = ~default_profile | (rng.random(n) < 0.5)
    src_w = np.array(vocab.ORGANIC_SOURCE_WEIGHTS)
    source = rng.choice(len(vocab.SOURCES), size=n, p=src_w / src_w.sum())
    mix = rng.dirichlet([4.0, 3.5, 2.0, 0.5], size=n)
    names, usernames = _names(rng, n)
    return {
        "user_id": user_ids(rng, created_ms),
        "created_ms": created_ms,
        "followers": followers,
        "following": following,
        "listed": listed,
        "likes": likes,
        "tweet_count": tweet_count,
        "verified": verified,
        "default_profile": default_profile,
        "default_profile_image": default_image,
        "background": background,
        "tz_s": (np.array([c[2] for c in vocab.CITIES])[city] * 3600).astype(np.int64),
        "rate": rate,
        "flat": rng.beta(1.0, 12.0, n),
        "source": source,
        "community": _zipf_choice(rng, n_communities, n, 0.9),
        "topic": rng.integers(0, len(vocab.TOPICS), n),
        "p_tag": rng.beta(0.8, 4.0, n),
        "p_url": rng.beta(0.7, 4.0, n),
        "image_id": rng.integers(10**17, 10**18, n),
        "mix": mix,
        "username": usernames,
        "name": names,
        "description": _bios(rng, n),
        "location": _locations(rng, city),
        "url": [
            f"https://{u.lower()}.com" if r < 0.06 else ""
            for u, r in zip(usernames, rng.random(n), strict=False)
        ],
        "role": [role] * n,
        "campaign": [campaign] * n,
        "tactic": [tactic] * n,
    }


def _zipf_choice(rng: np.random.Generator, k: int, n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** s
    return rng.choice(k, size=n, p=w / w.sum())


def _names(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    first = rng.integers(0, len(vocab.FIRST_NAMES), n).tolist()
    last = rng.integers(0, len(vocab.LAST_NAMES), n).tolist()
    style = rng.choice(6, size=n, p=[0.22, 0.14, 0.2, 0.2, 0.14, 0.1]).tolist()
    digits = rng.integers(0, 10**8, n).tolist()
    names, usernames = [], []
    for f, la, st, d in zip(first, last, style, digits, strict=False):
        fn, ln = vocab.FIRST_NAMES[f], vocab.LAST_NAMES[la]
        if st == 0:
            user = f"{fn}{ln}"
        elif st == 1:
            user = f"{fn}_{ln}"
        elif st == 2:
            user = f"{fn.lower()}{ln.lower()}{d % 100:02d}"
        elif st == 3:  # the handle X suggests at sign-up: name plus eight digits
            user = f"{fn}{ln[:1]}{d:08d}"
        elif st == 4:
            user = f"{fn[:1].lower()}{ln.lower()}{d % 1000}"
        else:
            user = f"the{fn.lower()}{ln[:3].lower()}"
        usernames.append(user[:15])
        names.append(f"{fn} {ln}" if st != 5 else fn)
    # Handles are unique on the platform.
    seen: dict[str, int] = {}
    for i, u in enumerate(usernames):
        key = u.lower()
        if key in seen:
            seen[key] += 1
            usernames[i] = f"{u[:12]}{seen[key] % 1000}"
        else:
            seen[key] = 0
    return names, usernames


def _bios(rng: np.random.Generator, n: int) -> list[str]:
    roles = rng.integers(0, len(vocab.BIO_ROLES), n).tolist()
    likes = rng.integers(0, len(vocab.BIO_LIKES), (n, 2))
    tails = rng.integers(0, len(vocab.BIO_TAILS), n).tolist()
    empty = (rng.random(n) < 0.22).tolist()
    out = []
    # Two flat lists rather than a list of pairs: n small lists would wake the garbage collector.
    for r, a, b, t, e in zip(roles, likes[:, 0].tolist(), likes[:, 1].tolist(), tails, empty, strict=False):
        if e:
            out.append("")
            continue
        text = f"{vocab.BIO_ROLES[r].capitalize()}. {vocab.BIO_LIKES[a].capitalize()}"
        if a != b:
            text += f", {vocab.BIO_LIKES[b]}"
        out.append(f"{text}. {vocab.BIO_TAILS[t]}".strip())
    return out


def _locations(rng: np.random.Generator, city: np.ndarray) -> list[str]:
    style = rng.choice(4, size=len(city), p=[0.45, 0.2, 0.3, 0.05]).tolist()
    out = []
    for c, s in zip(city.tolist(), style, strict=False):
        name, region, _, _ = vocab.CITIES[c]
        out.append(f"{name}, {region}" if s == 0 else name if s == 1 else "" if s == 2 else "Earth")
    return out


def build_organic(rng: np.random.Generator, n: int, start_ms: int, days: int) -> World:
    """The organic population: ``n`` people in communities of Zipf-distributed sizes."""
    world = World(start_ms=start_ms, days=days)
    world.append(make_profiles(rng, n, start_ms, n_communities=max(1, n // 400)))
    return world
