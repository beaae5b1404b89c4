"""Vectorized post text: slot templates filled by index arrays, concatenated in polars.

No per-post Python: each slot is a gather from a small vocabulary Series.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cibwatch.sim import vocab

_DETAILS = ("", "", "", "", "today", "again", "this morning", "tonight", "right now", "this week", "lately")
_TOPIC_NAMES = tuple(vocab.TOPICS)


def _flat(pools: list[tuple[str, ...]]) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    values = [w for pool in pools for w in pool]
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return pl.Series(values, dtype=pl.String), offsets, sizes


_SUBJECTS = _flat([vocab.TOPICS[t][0] for t in _TOPIC_NAMES])
_OBJECTS = _flat([vocab.TOPICS[t][1] for t in _TOPIC_NAMES])
_OPENERS = pl.Series([f"{o} " if o else "" for o in vocab.OPENERS])
_VERBS = pl.Series(vocab.VERBS)
_ENDINGS = pl.Series(vocab.ENDINGS)
_DETAIL = pl.Series([f" {d}" if d else "" for d in _DETAILS])
_REPLIES = pl.Series(vocab.REPLY_BODIES)
_QUOTES = pl.Series(vocab.QUOTE_BODIES)
_TAGS = pl.Series(vocab.ORGANIC_HASHTAGS)
_DOMAINS = pl.Series(vocab.ORGANIC_DOMAINS)
_SECTIONS = pl.Series(vocab.URL_SECTIONS)
_SLUGS = pl.Series(vocab.SLUG_WORDS)


def _pick(rng: np.random.Generator, series: pl.Series, n: int) -> pl.Series:
    return series.gather(rng.integers(0, len(series), n))


def _topical(rng: np.random.Generator, flat: tuple[pl.Series, np.ndarray, np.ndarray], topic: np.ndarray):
    values, offsets, sizes = flat
    idx = offsets[topic] + (rng.random(len(topic)) * sizes[topic]).astype(np.int64)
    return values.gather(idx)


def bodies(rng: np.random.Generator, topic: np.ndarray) -> pl.Series:
    """Organic-looking sentences about each post's topic (indices into ``vocab.TOPICS``)."""
    n = len(topic)
    if n == 0:
        return pl.Series([], dtype=pl.String)
    frame = pl.DataFrame(
        {
            "o": _pick(rng, _OPENERS, n),
            "s": _topical(rng, _SUBJECTS, topic),
            "v": _pick(rng, _VERBS, n),
            "b": _topical(rng, _OBJECTS, topic),
            "d": _pick(rng, _DETAIL, n),
            "e": _pick(rng, _ENDINGS, n),
            "swap": rng.random(n) < 0.3,
        }
    )
    # Openers carry their trailing space and details their leading one, so no whitespace clean-up.
    main = pl.concat_str(
        [pl.col("o"), pl.col("s"), pl.lit(" "), pl.col("v"), pl.lit(" "), pl.col("b"), pl.col("d")]
    )
    flipped = pl.concat_str(
        [pl.col("b"), pl.lit("? "), pl.col("s"), pl.lit(" "), pl.col("v"), pl.lit(" it"), pl.col("d")]
    )
    text = pl.when(pl.col("swap")).then(flipped).otherwise(main) + pl.col("e")
    return frame.select(text.alias("text")).to_series()


def replies(rng: np.random.Generator, n: int) -> pl.Series:
    frame = pl.DataFrame({"r": _pick(rng, _REPLIES, n), "e": _pick(rng, _ENDINGS, n)})
    return frame.select(pl.concat_str([pl.col("r"), pl.col("e")]).alias("text")).to_series()


def quotes(rng: np.random.Generator, n: int) -> pl.Series:
    frame = pl.DataFrame({"r": _pick(rng, _QUOTES, n), "e": _pick(rng, _ENDINGS, n)})
    return frame.select(pl.concat_str([pl.col("r"), pl.col("e")]).alias("text")).to_series()


def organic_tags(rng: np.random.Generator, n: int) -> pl.Series:
    """Organic hashtags with Zipf popularity."""
    k = len(_TAGS)
    w = 1.0 / np.arange(1, k + 1) ** 1.1
    return _TAGS.gather(rng.choice(k, size=n, p=w / w.sum()))


def organic_urls(rng: np.random.Generator, n: int) -> pl.Series:
    """Links to popular sites (Zipf), each to its own page."""
    k = len(_DOMAINS)
    w = 1.0 / np.arange(1, k + 1) ** 1.0
    frame = pl.DataFrame(
        {
            "d": _DOMAINS.gather(rng.choice(k, size=n, p=w / w.sum())),
            "s": _pick(rng, _SECTIONS, n),
            "a": _pick(rng, _SLUGS, n),
            "b": _pick(rng, _SLUGS, n),
            "i": rng.integers(10_000, 99_999_999, n),
        }
    )
    return frame.select(
        pl.concat_str(
            [
                pl.lit("https://"),
                pl.col("d"),
                pl.lit("/"),
                pl.col("s"),
                pl.lit("/"),
                pl.col("a"),
                pl.lit("-"),
                pl.col("b"),
                pl.lit("-"),
                pl.col("i").cast(pl.String),
            ]
        ).alias("url")
    ).to_series()


def maybe(rng: np.random.Generator, values: pl.Series, p: np.ndarray | float) -> pl.Series:
    """``values`` where a coin with probability ``p`` lands, null elsewhere."""
    keep = rng.random(len(values)) < p
    return pl.select(pl.when(pl.lit(pl.Series(keep))).then(pl.lit(values))).to_series().alias(values.name)
