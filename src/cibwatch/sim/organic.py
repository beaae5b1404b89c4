"""The organic platform, one time window at a time.

Originals follow each account's rate and its local circadian rhythm. Each original then
draws a cascade: reposts, replies and quotes whose expected number grows with the
author's followers (so cascade sizes are heavy-tailed), by accounts chosen in proportion
to their own engagement, mostly from the author's community. Some replies turn into
conversations with the author. Posts due after the window are returned as pending.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cibwatch.sim import events as ev
from cibwatch.sim import text, vocab
from cibwatch.sim.world import World

HOUR_MS = 3_600_000
MAX_DELAY_MS = 72 * HOUR_MS
_CIRC = np.array(vocab.CIRCADIAN) / np.mean(vocab.CIRCADIAN)

# (mix column, follower exponent, delay median seconds, delay log-sd)
_RESPONSES = {
    ev.REPOST: (1, 0.72, 1500.0, 1.5),
    ev.REPLY: (2, 0.5, 1100.0, 1.3),
    ev.QUOTE: (3, 0.6, 3600.0, 1.4),
}


class _Sampler:
    """Draw accounts in proportion to a weight, mostly from a given community."""

    def __init__(self, weights: np.ndarray, community: np.ndarray, p_local: float) -> None:
        self.order = np.lexsort((np.arange(len(weights)), community))
        w = weights[self.order]
        self.cum = np.cumsum(w)
        comm_sorted = community[self.order]
        k = int(community.max()) + 1 if len(community) else 1
        self.lo = np.searchsorted(comm_sorted, np.arange(k), "left")
        self.hi = np.searchsorted(comm_sorted, np.arange(k), "right")
        self.p_local = p_local

    def draw(self, rng: np.random.Generator, community_of_target: np.ndarray) -> np.ndarray:
        n = len(community_of_target)
        total = self.cum[-1]
        base = np.where(self.lo > 0, self.cum[np.maximum(self.lo - 1, 0)], 0.0)[community_of_target]
        top = self.cum[np.maximum(self.hi - 1, 0)][community_of_target]
        local = (rng.random(n) < self.p_local) & (top > base)
        u = np.where(local, base + rng.random(n) * (top - base), rng.random(n) * total)
        pos = np.minimum(np.searchsorted(self.cum, u, "right"), len(self.cum) - 1)
        return self.order[pos]


class OrganicEngine:
    def __init__(self, world: World, repost_scale: float = 1.0) -> None:
        self.world = world
        rate, mix = world["rate"], world.mix
        self.active = np.flatnonzero(rate > 0)
        self.orig_rate = rate[self.active] * mix[self.active, 0] / 24.0  # per hour
        self.flat = world["flat"][self.active]
        self.one_minus_flat = 1 - self.flat
        self.tz_h = world["tz_s"][self.active] // 3600 % 24
        f = world["followers"].astype(np.float64) + 1.0
        self.samplers: dict[int, _Sampler] = {}
        self.kappa: dict[int, float] = {}
        orig_total = rate * mix[:, 0]
        for kind, (col, exponent, _, _) in _RESPONSES.items():
            weight = rate * mix[:, col]
            self.samplers[kind] = _Sampler(weight, world["community"], p_local=0.6)
            # Scale cascades so responses of this kind match what accounts want to post.
            scale = repost_scale if kind == ev.REPOST else 1.0
            denom = float((orig_total * f**exponent).sum() * np.exp(0.5))
            self.kappa[kind] = scale * float(weight.sum()) / denom if denom > 0 else 0.0

    def window(
        self, rng: np.random.Generator, t0: int, hours: int, next_key: int
    ) -> tuple[pl.DataFrame, int]:
        """All organic posts started in [t0, t0 + hours); some fall later (the caller defers them)."""
        world = self.world
        # Row i: the circadian factor of account i's local hours, a slice of the repeated day
        # starting at its first local hour (a gather of rows rather than a modulo per cell).
        first = self.tz_h + t0 // HOUR_MS % 24
        days = np.tile(_CIRC, (hours + 46 + 23) // 24)  # first hour + hours - 1 < 46 + hours
        lam = np.lib.stride_tricks.sliding_window_view(days, hours)[first]
        lam *= self.one_minus_flat[:, None]
        lam += self.flat[:, None]
        lam *= self.orig_rate[:, None]
        counts = rng.poisson(lam)
        rows, cols = np.nonzero(counts)
        reps = counts[rows, cols]
        author = np.repeat(self.active[rows], reps)
        t = t0 + np.repeat(cols, reps).astype(np.int64) * HOUR_MS + rng.integers(0, HOUR_MS, len(author))
        n = len(author)
        keys = next_key + np.arange(n, dtype=np.int64)
        next_key += n
        originals = ev.frame(
            n,
            key=keys,
            t=t,
            author=author,
            kind=np.full(n, ev.ORIGINAL),
            root_key=keys,
            root_t=t,
            source=world["source"][author],
            body=text.bodies(rng, world["topic"][author]),
            tag1=text.maybe(rng, text.organic_tags(rng, n), world["p_tag"][author]),
            tag2=text.maybe(rng, text.organic_tags(rng, n), world["p_tag"][author] * 0.25),
            url=text.maybe(rng, text.organic_urls(rng, n), world["p_url"][author]),
        )
        parts = [originals]
        f = world["followers"][author].astype(np.float64) + 1.0
        for kind, (_, exponent, median_s, sd) in _RESPONSES.items():
            mean = self.kappa[kind] * f**exponent * rng.lognormal(0.0, 1.0, n)
            size = rng.poisson(np.minimum(mean, 0.3 * world.n))
            target = np.repeat(np.arange(n), size)
            who = self.samplers[kind].draw(rng, world["community"][author[target]])
            ok = who != author[target]
            # One response per account and post (X allows a single repost of a post).
            pair = target.astype(np.int64) * world.n + who
            _, first = np.unique(pair, return_index=True)
            keep = np.zeros(len(pair), dtype=bool)
            keep[first] = True
            target, who = target[ok & keep], who[ok & keep]
            delay = np.clip(rng.lognormal(np.log(median_s * 1000), sd, len(target)), 5000, MAX_DELAY_MS)
            m = len(target)
            rkeys = next_key + np.arange(m, dtype=np.int64)
            next_key += m
            rt = t[target] + delay.astype(np.int64)
            columns = {
                "key": rkeys,
                "t": rt,
                "author": who,
                "kind": np.full(m, kind),
                "ref_key": keys[target],
                "ref_t": t[target],
                "ref_author": author[target],
                "root_key": keys[target] if kind == ev.REPLY else rkeys,
                "root_t": t[target] if kind == ev.REPLY else rt,
                "source": world["source"][who],
            }
            if kind == ev.REPLY:
                columns["body"] = text.replies(rng, m)
            elif kind == ev.QUOTE:
                columns["body"] = text.quotes(rng, m)
            parts.append(ev.frame(m, **columns))
            if kind == ev.REPLY and m:
                convo, next_key = self._conversation(rng, columns, next_key)
                parts.extend(convo)
        batch = pl.concat(parts, how="vertical")
        return ev.with_likes(ev.link_refs(batch), rng), next_key

    def _conversation(
        self, rng: np.random.Generator, replies: dict, next_key: int
    ) -> tuple[list[pl.DataFrame], int]:
        """The author answers some replies, and some repliers answer back."""
        out = []
        parent_key, parent_t = replies["key"], replies["t"]
        parent_author, other = replies["author"], replies["ref_author"]
        root_key, root_t = replies["ref_key"], replies["ref_t"]
        for p in (0.3, 0.35):
            pick = np.flatnonzero(rng.random(len(parent_key)) < p)
            m = len(pick)
            if m == 0:
                break
            keys = next_key + np.arange(m, dtype=np.int64)
            next_key += m
            t = parent_t[pick] + np.clip(rng.lognormal(np.log(700_000), 1.1, m), 20_000, MAX_DELAY_MS).astype(
                np.int64
            )
            who = other[pick]
            out.append(
                ev.frame(
                    m,
                    key=keys,
                    t=t,
                    author=who,
                    kind=np.full(m, ev.REPLY),
                    ref_key=parent_key[pick],
                    ref_t=parent_t[pick],
                    ref_author=parent_author[pick],
                    root_key=root_key[pick],
                    root_t=root_t[pick],
                    source=self.world["source"][who],
                    body=text.replies(rng, m),
                )
            )
            parent_key, parent_t, other, parent_author = keys, t, parent_author[pick], who
            root_key, root_t = root_key[pick], root_t[pick]
        return out, next_key
