"""Scoring accounts: from records in memory, or a case's tables into its ``bot_scores`` table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from cibwatch import schema
from cibwatch.bots.explain import Reason, reasons
from cibwatch.bots.features import (
    BEHAVIOUR_FEATURES,
    COUNT_FIELDS,
    FLAG_FIELDS,
    PROFILE_FEATURES,
    behaviour_features,
    profile_features,
)
from cibwatch.bots.model import MIN_POSTS_FOR_BEHAVIOUR, BotModel, profile_present
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store.case import Case
from cibwatch.values import any_date_ms

OUTPUT_COLUMNS = ["account_id", "screen_name", "dataset", "bot_score", "bot_label", "bot_type", "top_reasons"]

# v1.1 / v2 names accepted in records passed to ``score``.
_ALIASES = {
    "id_str": "account_id",
    "id": "account_id",
    "username": "screen_name",
    "followers_count": "followers",
    "friends_count": "following",
    "following_count": "following",
    "statuses_count": "posts_count",
    "tweet_count": "posts_count",
    "favourites_count": "likes_count",
    "listed_count": "listed_count",
}

_model_cache: dict[str, BotModel] = {}


def load_model(directory: str | None = None) -> BotModel:
    """The shipped model (loaded once), or the one in ``directory``."""
    key = directory or ""
    if key not in _model_cache:
        _model_cache[key] = BotModel.load(directory)
    return _model_cache[key]


def score(
    records: Iterable[Mapping[str, Any]] | pl.DataFrame | Any,
    *,
    posts: pl.DataFrame | None = None,
    model: BotModel | None = None,
    explain: bool = True,
) -> pl.DataFrame:
    """Score profiles given as dicts (accounts-table fields, or v1.1/v2 user objects) or a DataFrame.

    Impossible values (negative counts, future or unparseable dates) are treated as missing
    and reported in ``input_flags``.

    >>> score([{"account_id": "1", "followers": 0, "following": 1203}])  # doctest: +SKIP
    """
    model = model or load_model()
    if isinstance(records, pl.DataFrame):
        frame = records
    elif hasattr(records, "to_dict") and hasattr(records, "columns"):  # pandas
        frame = pl.from_pandas(records)
    else:
        frame = records_frame(records)
    if "account_id" not in frame.columns:
        from cibwatch.errors import ConfigError

        raise ConfigError("records need an account_id (or id / id_str) field")
    frame = frame.with_columns(pl.col("account_id").cast(pl.String))
    return _score_frame(frame, posts, model, explain=explain)


def records_frame(records: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Dicts to a typed accounts frame; values that cannot be read are nulled and flagged."""
    rows = []
    for record in records:
        row: dict[str, Any] = {}
        flags: list[str] = []
        for key, value in record.items():
            key = _ALIASES.get(key, key)
            if key in row and row[key] is not None:
                continue
            row[key] = value
        metrics = record.get("public_metrics")
        if isinstance(metrics, Mapping):
            for key, value in metrics.items():
                row.setdefault(_ALIASES.get(key) or key, value)
        out: dict[str, Any] = {
            "account_id": None if row.get("account_id") is None else str(row["account_id"])
        }
        for key in ("screen_name", "name", "description", "platform", "dataset"):
            value = row.get(key)
            out[key] = None if value is None else str(value)
        for key in COUNT_FIELDS:
            out[key] = _number(row.get(key), key, flags)
        for key in FLAG_FIELDS:
            out[key] = _flag(row.get(key), key, flags)
        for key in ("created_at", "probed_at"):
            out[key] = _date(row.get(key), key, flags)
        out["input_flags"] = "; ".join(flags) or None
        rows.append(out)
    schema_ = {
        "account_id": pl.String,
        "screen_name": pl.String,
        "name": pl.String,
        "description": pl.String,
        "platform": pl.String,
        "dataset": pl.String,
        **dict.fromkeys(COUNT_FIELDS, pl.Int64),
        **dict.fromkeys(FLAG_FIELDS, pl.Boolean),
        "created_at": pl.Int64,
        "probed_at": pl.Int64,
        "input_flags": pl.String,
    }
    return pl.DataFrame(rows, schema=schema_)


def _number(value: Any, key: str, flags: list[str]) -> int | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip())
        if number != number:
            return None
        return int(number)
    except ValueError:
        flags.append(f"{key} is not a number ({value!r}); treated as missing")
        return None


def _flag(value: Any, key: str, flags: list[str]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "t", "yes"}:
        return True
    if text in {"0", "false", "f", "no"}:
        return False
    if text not in {"", "null", "none", "nan", "na"}:
        flags.append(f"{key} is not true/false ({value!r}); treated as missing")
    return None


def _date(value: Any, key: str, flags: list[str]) -> int | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            return int(value.timestamp() * 1000)
        if isinstance(value, date):
            return int(datetime(value.year, value.month, value.day).timestamp() * 1000)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value) if value > 1e11 else int(value * 1000)
        return any_date_ms(str(value))
    except (ValueError, OverflowError, OSError):
        flags.append(f"{key} is not a date ({value!r}); treated as missing")
        return None


def _score_frame(
    accounts: pl.DataFrame, posts: pl.DataFrame | None, model: BotModel, *, explain: bool
) -> pl.DataFrame:
    profile = profile_features(accounts, model.name_model)
    behaviour = behaviour_features(posts) if posts is not None and not posts.is_empty() else None
    scored = model.predict(profile, behaviour)
    n = profile.height
    top: list[str | None] = [None] * n
    if explain:
        top = _top_reasons(model, profile, behaviour, scored)
    flags = profile["input_flags"].to_list()
    no_score = scored["bot_score"].is_null().to_list()
    flags = [
        "; ".join(
            x for x in (f, "no profile, and too few posts with text to score" if missing else None) if x
        )
        or None
        for f, missing in zip(flags, no_score, strict=True)
    ]
    meta = {
        c: accounts[c] if c in accounts.columns else pl.Series(c, [None] * n, pl.String)
        for c in ("screen_name", "dataset", "platform")
    }
    table = pl.DataFrame(
        {
            "account_id": profile["account_id"],
            "platform": meta["platform"].fill_null("twitter"),
            "screen_name": meta["screen_name"],
            "dataset": meta["dataset"],
            "bot_score": scored["bot_score"],
            "bot_label": scored["bot_label"],
            "bot_type": scored["bot_type"],
            "top_reasons": pl.Series("top_reasons", top, pl.String),
            "head": scored["head"],
            "model_version": pl.Series("model_version", [model.version] * n, pl.String),
            "input_flags": pl.Series("input_flags", flags, pl.String),
        }
    )
    return pl.from_arrow(table.to_arrow().cast(schema.BOT_SCORES))  # type: ignore[return-value]


def explain_rows(
    model: BotModel,
    profile: pl.DataFrame,
    behaviour: pl.DataFrame | None,
    scored: pl.DataFrame,
    limit: int = 3,
) -> list[list[Reason]]:
    """For each account, the reasons behind its label (profile and, when used, behaviour head)."""
    values = profile.select(PROFILE_FEATURES).to_numpy().astype(np.float64)
    present = profile_present(values)
    # A reason quotes a value the model read: a count hidden behind its rate is never one.
    values = model.profile_inputs(values)
    labels = scored["bot_label"].to_list()
    heads = scored["head"].to_list()
    labelled = np.array([label is not None for label in labels], dtype=bool)
    # pred_contrib (TreeSHAP) is the costly part: only for the rows whose reasons are shown.
    contrib = _rows_only(model.contributions, profile, present & labelled, len(PROFILE_FEATURES))
    b_values: np.ndarray | None = None
    b_contrib: np.ndarray | None = None
    if behaviour is not None and "behaviour" in model.boosters:
        aligned = profile.select("account_id").join(behaviour, on="account_id", how="left")
        b_values = aligned.select(BEHAVIOUR_FEATURES).to_numpy().astype(np.float64)
        used = labelled & (np.array(heads, dtype=object) == "profile+behaviour")
        b_contrib = _rows_only(model.behaviour_contributions, aligned, used, len(BEHAVIOUR_FEATURES))
    out: list[list[Reason]] = []
    for i, label in enumerate(labels):
        if label is None:
            out.append([])
            continue
        # An uncertain account is shown what pushed it toward bot: that is what a reviewer weighs.
        toward_bot = label in ("bot", "uncertain")
        found = []
        if heads[i] == "profile+behaviour" and b_values is not None and b_contrib is not None:
            found += reasons(
                model, BEHAVIOUR_FEATURES, b_values[i], b_contrib[i], toward_bot=toward_bot, limit=limit
            )
        if present[i]:
            found += reasons(
                model, PROFILE_FEATURES, values[i], contrib[i], toward_bot=toward_bot, limit=limit
            )
        found.sort(key=lambda r: -abs(r.contribution))
        out.append(found[:limit])
    return out


def _rows_only(
    contributions: Callable[[pl.DataFrame], np.ndarray],
    frame: pl.DataFrame,
    rows: np.ndarray,
    n_features: int,
) -> np.ndarray:
    """``contributions(frame)`` computed for ``rows`` only; the other rows stay NaN (never read)."""
    out = np.full((frame.height, n_features + 1), np.nan)
    if rows.any():
        out[rows] = contributions(frame.filter(pl.Series(rows)))
    return out


def _top_reasons(
    model: BotModel, profile: pl.DataFrame, behaviour: pl.DataFrame | None, scored: pl.DataFrame
) -> list[str | None]:
    return [
        "; ".join(r.sentence for r in found) or None
        for found in explain_rows(model, profile, behaviour, scored)
    ]


def case_inputs(case: Case) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The current profile of every account in the case (by account id) and its posts (if any)."""
    accounts = case.sql(
        "SELECT account_id, platform, screen_name, name, description, created_at, probed_at, followers, "
        "following, posts_count, likes_count, listed_count, default_profile, default_profile_image, "
        "profile_use_background_image, verified, dataset FROM accounts_current ORDER BY account_id"
    ).pl()
    posts = None
    if case.has_table("posts"):
        posts = case.sql(
            "SELECT account_id, created_at, kind, text, lang, source_app, urls, hashtags, mentions FROM posts"
        ).pl()
        # Without a probe time, age is measured at the account's latest post in the case.
        last_post = posts.group_by("account_id").agg(pl.col("created_at").max().alias("_last_post"))
        accounts = (
            accounts.join(last_post, on="account_id", how="left", maintain_order="left")
            .with_columns(pl.coalesce("probed_at", "_last_post").alias("probed_at"))
            .drop("_last_post")
        )
    return accounts, posts


def score_case(
    case: Case, *, model: BotModel | None = None, progress: Progress | None = None
) -> pl.DataFrame:
    """Score every account of ``case`` and write the ``bot_scores`` table (replacing an earlier one).

    >>> from cibwatch import open_case
    >>> table = score_case(open_case("out/case"))              # doctest: +SKIP
    """
    model = model or load_model()
    if progress:
        progress(ProgressEvent("bots", "bot scores", 0, 3))
    accounts, posts = case_inputs(case)
    if progress:
        progress(ProgressEvent("bots", "bot scores", 1, 3))
    table = _score_frame(accounts, posts, model, explain=True)
    if progress:
        progress(ProgressEvent("bots", "bot scores", 2, 3))
    case.replace_table("bot_scores", table.to_arrow().cast(schema.BOT_SCORES))
    if progress:
        progress(ProgressEvent("bots", "bot scores", 3, 3))
    return table


def explain_account(
    case: Case, account_id: str, *, model: BotModel | None = None, limit: int = 8
) -> dict[str, Any]:
    """The full explanation of one account's score: value, push and sentence of each feature."""
    from cibwatch.errors import ConfigError

    model = model or load_model()
    accounts, posts = case_inputs(case)
    accounts = accounts.filter(pl.col("account_id") == account_id)
    if accounts.is_empty():
        raise ConfigError(
            f"Account {account_id!r} is not in the case {case.root}; list accounts with `cibwatch bots score`"
        )
    if posts is not None:
        posts = posts.filter(pl.col("account_id") == account_id)
    profile = profile_features(accounts, model.name_model)
    behaviour = behaviour_features(posts) if posts is not None and not posts.is_empty() else None
    scored = model.predict(profile, behaviour)
    row = scored.row(0, named=True)
    found = explain_rows(model, profile, behaviour, scored, limit=limit)[0]
    return {
        "account_id": account_id,
        "screen_name": accounts["screen_name"][0],
        "bot_score": row["bot_score"],
        "bot_label": row["bot_label"],
        "bot_type": row["bot_type"],
        "head": row["head"],
        "threshold": model.threshold,
        "uncertain_threshold": model.uncertain_threshold,
        "model_version": model.version,
        "input_flags": profile["input_flags"][0],
        "posts_in_case": 0 if posts is None else posts.height,
        "min_posts_for_behaviour": MIN_POSTS_FOR_BEHAVIOUR,
        "reasons": [
            {"feature": r.feature, "value": r.value, "push": round(r.contribution, 4), "sentence": r.sentence}
            for r in found
        ],
    }
