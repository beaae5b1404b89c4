"""Account features for bot scoring, computed vectorized with polars.

Profile features (the BotometerLite set and a few more) come from the ``accounts`` table;
behaviour features from ``posts`` when the case holds the account's posts. A value that
cannot be known is NaN, never 0: a v2 profile has no likes count, an author-only row has no
profile at all, and the model is trained to treat missing as carrying no label.

>>> frame = profile_features(pl.DataFrame({"account_id": ["1"], "followers": [10]}))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from cibwatch.errors import ModelError

COUNT_FIELDS = ("followers", "following", "posts_count", "likes_count", "listed_count")
FLAG_FIELDS = ("default_profile", "default_profile_image", "profile_use_background_image", "verified")
DAY_MS = 86_400_000

# Ratios of two totals: both grow with the account's age, so a ratio means the same whatever year
# its set was collected in (chosen on grouped hold-outs, benchmark bots_select).
RATIO_FEATURES = (
    "likes_per_post",
    "likes_per_follower",
    "listed_per_follower",
    "listed_per_post",
    "posts_per_follower",
    "following_per_post",
)

PROFILE_FEATURES = [
    "posts_count",
    "followers",
    "following",
    "likes_count",
    "listed_count",
    "default_profile",
    "default_profile_image",
    "profile_use_background_image",
    "verified",
    "age_days",
    "posts_per_day",
    "followers_per_day",
    "following_per_day",
    "likes_per_day",
    "listed_per_day",
    "follower_ratio",
    *RATIO_FEATURES,
    "screen_name_length",
    "screen_name_digits",
    "name_length",
    "name_digits",
    "description_length",
    "screen_name_likelihood",
    "self_declared_bot",
]

# Each count beside the per-day rate made from it (see ``counts_without_rates``).
RATE_OF_COUNT = {
    "posts_count": "posts_per_day",
    "followers": "followers_per_day",
    "following": "following_per_day",
    "likes_count": "likes_per_day",
    "listed_count": "listed_per_day",
}

BEHAVIOUR_FEATURES = [
    "n_posts_seen",
    "gap_cv",
    "burstiness",
    "share_within_1s",
    "hour_entropy",
    "weekday_entropy",
    "repost_rate",
    "reply_rate",
    "quote_rate",
    "url_rate",
    "hashtag_rate",
    "mention_rate",
    "duplicate_share",
    "near_duplicate_share",
    "source_apps",
    "lexical_diversity",
    "top_language_share",
]


def counts_without_rates(x_profile: np.ndarray) -> np.ndarray:
    """The profile matrix as the model reads it: each count only where its per-day rate is unknown.

    A total grows with the account's age, and with the year its set was collected, so a model
    that reads totals learns the collection more than the account; a rate does not. Without an
    age (no probe time, as in some published sets), the total is all there is, and it is kept.
    """
    x = x_profile.copy()
    for count, rate in RATE_OF_COUNT.items():
        x[~np.isnan(x[:, PROFILE_FEATURES.index(rate)]), PROFILE_FEATURES.index(count)] = np.nan
    return x


# An account that calls itself a bot: "bot" as a word in its name or bio, or a handle such as
# quote_bot or QuoteBot (not Talbot or Abbott: a lowercase "bot" must follow an underscore).
_BOT_WORD = r"(?i)\bbots?\b"
_BOT_HANDLE = r"(?i:_bots?(?:_|$)|(?:^|_)bots?_)|[a-z0-9]Bots?(?:[^a-z]|$)"

# Accounts-table columns the profile features read, with their types.
PROFILE_INPUTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "screen_name": pl.String(),
    "name": pl.String(),
    "description": pl.String(),
    "created_at": pl.Int64(),
    "probed_at": pl.Int64(),
    **dict.fromkeys(COUNT_FIELDS, pl.Int64()),
    **dict.fromkeys(FLAG_FIELDS, pl.Boolean()),
}


class ScreenNameModel:
    """Character-bigram likelihood of a handle under the handles of human training accounts.

    BotometerLite's ``screen_name_likelihood``: the geometric mean of the bigram probabilities
    (add-one smoothed), so random-looking handles such as ``xk29384756`` score low. Fit on
    training data only; stored as JSON with the model.
    """

    def __init__(self, *, smoothing: float = 1.0) -> None:
        self.smoothing = smoothing

    def fit(self, screen_names: Iterable[str | None]) -> ScreenNameModel:
        if self.smoothing <= 0:
            raise ModelError(f"smoothing must be positive, got {self.smoothing}")
        counts: Counter[str] = Counter()
        for name in screen_names:
            if name:
                counts.update(_bigrams(name))
        self.counts_ = dict(counts)
        self.total_ = sum(counts.values())
        self.vocabulary_ = max(len(counts), 1) * 4  # room for unseen bigrams
        return self

    def log_likelihood(self, screen_names: Iterable[str | None]) -> np.ndarray:
        """Mean log-probability per bigram for each name; NaN for a missing or 1-character name."""
        if not hasattr(self, "counts_"):
            raise ModelError("ScreenNameModel is not fitted; call fit() or load a trained model")
        names = pl.Series("name", list(screen_names), dtype=pl.String)
        log_denom = math.log(self.total_ + self.smoothing * self.vocabulary_)
        if not hasattr(self, "_table"):
            self._table = pl.DataFrame(
                {
                    "gram": list(self.counts_),
                    "logp": [math.log(c + self.smoothing) - log_denom for c in self.counts_.values()],
                },
                schema={"gram": pl.String, "logp": pl.Float64},
            )
        unseen = math.log(self.smoothing) - log_denom
        # Vectorized: explode each name into its bigrams, look them up, average per name.
        grams = (
            pl.DataFrame({"row": np.arange(len(names)), "text": "^" + names.str.to_lowercase() + "$"})
            .filter(pl.col("text").str.len_chars() > 3)
            .with_columns(pl.int_ranges(0, pl.col("text").str.len_chars() - 1).alias("pos"))
            .explode("pos")
            .with_columns(pl.col("text").str.slice(pl.col("pos"), 2).alias("gram"))
            # An ordered join: a float mean depends on the order it sums in, so the same names
            # always give the same bits (groups are scattered back by row, in any order).
            .join(self._table, on="gram", how="left", maintain_order="left")
            .group_by("row")
            .agg(pl.col("logp").fill_null(unseen).mean())
        )
        out = np.full(len(names), np.nan)
        out[grams["row"].to_numpy()] = grams["logp"].to_numpy()
        return out

    def to_json(self) -> dict[str, Any]:
        return {"smoothing": self.smoothing, "counts": self.counts_, "vocabulary": self.vocabulary_}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScreenNameModel:
        model = cls(smoothing=data["smoothing"])
        model.counts_ = {k: int(v) for k, v in data["counts"].items()}
        model.total_ = sum(model.counts_.values())
        model.vocabulary_ = int(data["vocabulary"])
        return model


def _bigrams(name: str) -> list[str]:
    text = f"^{name.lower()}$"
    return [text[i : i + 2] for i in range(len(text) - 1)] if len(name) > 1 else []


def prepare_accounts(accounts: pl.DataFrame | pl.LazyFrame, *, now_ms: int | None = None) -> pl.DataFrame:
    """The profile inputs as plain typed columns, impossible values nulled and flagged.

    Negative counts and creation dates after the probe (or after ``now_ms``) become null, with
    a note in ``input_flags``; absent columns are added as nulls.
    """
    frame = accounts.lazy() if isinstance(accounts, pl.DataFrame) else accounts
    names = frame.collect_schema().names()
    now_ms = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    columns = []
    for name, dtype in PROFILE_INPUTS.items():
        if name not in names:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
        elif name in ("created_at", "probed_at"):
            columns.append(_as_epoch_ms(frame, name))
        else:
            columns.append(pl.col(name).cast(dtype, strict=False))
    extra = [c for c in ("platform", "dataset", "input_flags") if c in names]
    frame = frame.select(*columns, *extra)
    if "input_flags" not in extra:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("input_flags"))
    probe = pl.col("probed_at").fill_null(now_ms)
    problems = [
        pl.when(pl.col(c) < 0).then(pl.format(f"{c} is negative ({{}}); treated as missing", pl.col(c)))
        for c in COUNT_FIELDS
    ]
    problems.append(
        pl.when(pl.col("created_at") > pl.min_horizontal(probe, pl.lit(now_ms)) + DAY_MS).then(
            pl.lit("created_at is after the profile was seen; treated as missing")
        )
    )
    problems.append(
        pl.when(pl.col("probed_at") > now_ms + DAY_MS).then(
            pl.lit("probed_at is in the future; treated as missing")
        )
    )
    frame = frame.with_columns(
        pl.concat_str([pl.col("input_flags"), *problems], separator="; ", ignore_nulls=True).alias(
            "input_flags"
        )
    ).with_columns(
        *[pl.when(pl.col(c) >= 0).then(pl.col(c)).alias(c) for c in COUNT_FIELDS],
        pl.when(pl.col("created_at") <= pl.min_horizontal(probe, pl.lit(now_ms)) + DAY_MS)
        .then(pl.col("created_at"))
        .alias("created_at"),
        pl.when(pl.col("probed_at") <= now_ms + DAY_MS).then(pl.col("probed_at")).alias("probed_at"),
        pl.when(pl.col("input_flags") != "").then(pl.col("input_flags")).alias("input_flags"),
    )
    return frame.collect()


def _as_epoch_ms(frame: pl.LazyFrame, name: str) -> pl.Expr:
    dtype = frame.collect_schema()[name]
    if isinstance(dtype, pl.Datetime):
        return pl.col(name).dt.epoch("ms").alias(name)
    return pl.col(name).cast(pl.Int64, strict=False).alias(name)


def profile_features(
    accounts: pl.DataFrame, name_model: ScreenNameModel | None = None, *, now_ms: int | None = None
) -> pl.DataFrame:
    """``account_id``, the PROFILE_FEATURES (Float64, NaN when unknown) and ``input_flags``.

    Age and the per-day rates are measured at ``probed_at`` (when the snapshot was taken);
    without it they are NaN rather than guessed from today's date.
    """
    prepared = prepare_accounts(accounts, now_ms=now_ms)
    age = ((pl.col("probed_at") - pl.col("created_at")) / DAY_MS).clip(lower_bound=1.0)

    def rate(col: str) -> pl.Expr:
        return pl.col(col).cast(pl.Float64) / age

    def per(numerator: str, denominator: str) -> pl.Expr:
        return pl.col(numerator).cast(pl.Float64) / pl.max_horizontal(pl.col(denominator), pl.lit(1))

    def digits(col: str) -> pl.Expr:
        return pl.col(col).str.count_matches(r"\d").cast(pl.Float64)

    out = prepared.select(
        "account_id",
        *[pl.col(c).cast(pl.Float64) for c in COUNT_FIELDS],
        *[pl.col(c).cast(pl.Float64) for c in FLAG_FIELDS],
        age.alias("age_days"),
        rate("posts_count").alias("posts_per_day"),
        rate("followers").alias("followers_per_day"),
        rate("following").alias("following_per_day"),
        rate("likes_count").alias("likes_per_day"),
        rate("listed_count").alias("listed_per_day"),
        per("followers", "following").alias("follower_ratio"),
        per("likes_count", "posts_count").alias("likes_per_post"),
        per("likes_count", "followers").alias("likes_per_follower"),
        per("listed_count", "followers").alias("listed_per_follower"),
        per("listed_count", "posts_count").alias("listed_per_post"),
        per("posts_count", "followers").alias("posts_per_follower"),
        per("following", "posts_count").alias("following_per_post"),
        pl.col("screen_name").str.len_chars().cast(pl.Float64).alias("screen_name_length"),
        digits("screen_name").alias("screen_name_digits"),
        pl.col("name").str.len_chars().cast(pl.Float64).alias("name_length"),
        digits("name").alias("name_digits"),
        # Sources leave an empty description out: with a profile, absent means empty.
        pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in COUNT_FIELDS]))
        .then(pl.col("description").str.len_chars().fill_null(0))
        .cast(pl.Float64)
        .alias("description_length"),
        pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in ("screen_name", "name", "description")]))
        .then(
            pl.col("screen_name").str.contains(_BOT_HANDLE).fill_null(False)
            | pl.col("name").str.contains(_BOT_WORD).fill_null(False)
            | pl.col("description").str.contains(_BOT_WORD).fill_null(False)
        )
        .cast(pl.Float64)
        .alias("self_declared_bot"),
        "input_flags",
    )
    likelihood = (
        name_model.log_likelihood(prepared["screen_name"].to_list())
        if name_model is not None
        else np.full(prepared.height, np.nan)
    )
    out = out.with_columns(pl.Series("screen_name_likelihood", likelihood, dtype=pl.Float64))
    return out.select("account_id", *PROFILE_FEATURES, "input_flags").fill_null(np.nan)


def _entropy(col: str, bins: int) -> pl.Expr:
    # One share per bin, not value_counts(): its row order differs between the two places the
    # shares are used (p and p.log()), which paired mismatched values and made scores vary by run.
    n = pl.len().cast(pl.Float64)
    terms = []
    for b in range(bins):
        share = (pl.col(col) == b).sum().cast(pl.Float64) / n
        terms.append(pl.when(share > 0).then(-share * share.log()).otherwise(0.0))
    return (pl.sum_horizontal(terms) / math.log(bins)).alias(f"{col}_entropy")


def behaviour_features(posts: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """``account_id`` and the BEHAVIOUR_FEATURES from an account's posts (one row per account).

    Time features need at least 3 timed posts; the others need at least one post.
    Times are floored to whole seconds, so sources with minute-resolution timestamps do not
    differ from second-resolution ones by resolution alone beyond what that floor removes.
    """
    frame = posts.lazy() if isinstance(posts, pl.DataFrame) else posts
    names = frame.collect_schema().names()
    for col, dtype in {
        "created_at": pl.Int64,
        "kind": pl.String,
        "text": pl.String,
        "lang": pl.String,
        "source_app": pl.String,
    }.items():
        if col not in names:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    for col in ("urls", "hashtags", "mentions"):
        if col not in names:
            frame = frame.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias(col))
    created = frame.collect_schema()["created_at"]
    ts = pl.col("created_at").dt.epoch("ms") if isinstance(created, pl.Datetime) else pl.col("created_at")
    normalized = (
        pl.col("text")
        .str.to_lowercase()
        .str.replace_all(r"https?://\S+", "")
        .str.replace_all(r"^rt @\w+:?", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    skeleton = (
        normalized.str.replace_all(r"[@#]?\w*\d\w*|@\w+", "")
        .str.replace_all(r"[^\w ]", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    frame = frame.select(
        "account_id",
        (ts // 1000).alias("t"),
        "kind",
        "lang",
        "source_app",
        normalized.alias("norm"),
        skeleton.alias("skeleton"),
        # A post whose text the source did not keep (e.g. cascade edges) says nothing about its
        # links, hashtags or mentions: those counts are null there, not zero.
        pl.when(pl.col("text").is_not_null()).then(pl.col("urls").list.len().fill_null(0)).alias("n_urls"),
        pl.when(pl.col("text").is_not_null())
        .then(pl.col("hashtags").list.len().fill_null(0))
        .alias("n_tags"),
        pl.when(pl.col("text").is_not_null())
        .then(pl.col("mentions").list.len().fill_null(0))
        .alias("n_mentions"),
        pl.col("text").str.to_lowercase().str.extract_all(r"\w+").alias("tokens"),
    )
    timed = (
        frame.filter(pl.col("t").is_not_null())
        .sort("account_id", "t")
        .with_columns(
            pl.col("t").diff().over("account_id").alias("gap"),
            ((pl.col("t") // 3600) % 24).alias("hour"),
            ((pl.col("t") // 86400 + 3) % 7).alias("weekday"),
        )
        .group_by("account_id")
        .agg(
            pl.len().alias("n_timed"),
            (pl.col("gap").std() / pl.col("gap").mean()).alias("gap_cv"),
            (
                (pl.col("gap").std() - pl.col("gap").mean()) / (pl.col("gap").std() + pl.col("gap").mean())
            ).alias("burstiness"),
            (pl.col("gap") <= 1).mean().alias("share_within_1s"),
            _entropy("hour", 24),
            _entropy("weekday", 7),
        )
        .with_columns(
            [
                pl.when(pl.col("n_timed") >= 3).then(pl.col(c)).alias(c)
                for c in ("gap_cv", "burstiness", "share_within_1s", "hour_entropy", "weekday_entropy")
            ]
        )
        .drop("n_timed")
    )
    n = pl.len().cast(pl.Float64)
    content = frame.group_by("account_id").agg(
        n.alias("n_posts_seen"),
        ((pl.col("kind") == "repost").sum() / n).alias("repost_rate"),
        ((pl.col("kind") == "reply").sum() / n).alias("reply_rate"),
        ((pl.col("kind") == "quote").sum() / n).alias("quote_rate"),
        *[
            pl.when(pl.col(col).count() > 0).then((pl.col(col) > 0).sum() / pl.col(col).count()).alias(name)
            for col, name in (
                ("n_urls", "url_rate"),
                ("n_tags", "hashtag_rate"),
                ("n_mentions", "mention_rate"),
            )
        ],
        pl.when(pl.col("norm").count() > 0)
        .then(1 - pl.col("norm").drop_nulls().n_unique() / pl.col("norm").count())
        .alias("duplicate_share"),
        pl.when(pl.col("skeleton").count() > 0)
        .then(1 - pl.col("skeleton").drop_nulls().n_unique() / pl.col("skeleton").count())
        .alias("near_duplicate_share"),
        pl.when(pl.col("source_app").count() > 0)
        .then(pl.col("source_app").drop_nulls().n_unique())
        .alias("source_apps"),
        pl.when(pl.col("lang").count() > 0)
        .then(
            pl.col("lang").drop_nulls().value_counts(sort=True).struct.field("count").first()
            / pl.col("lang").count()
        )
        .alias("top_language_share"),
    )
    lexical = (
        frame.select("account_id", "tokens")
        .explode("tokens")
        .drop_nulls("tokens")
        .group_by("account_id")
        .agg((pl.col("tokens").n_unique() / pl.len()).alias("lexical_diversity"))
    )
    out = (
        content.join(timed, on="account_id", how="left").join(lexical, on="account_id", how="left").collect()
    )
    # group_by order varies run to run; training must see the same rows in the same order.
    return (
        out.select("account_id", *[pl.col(c).cast(pl.Float64) for c in BEHAVIOUR_FEATURES])
        .fill_null(np.nan)
        .sort("account_id")
    )
