"""Explanations: the features that pushed a score, as short sentences with training percentiles."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from cibwatch.bots.model import BotModel

# How to say a feature's value: (template with {v}, format of the value).
_PHRASES: dict[str, str] = {
    "posts_count": "has posted {v} times",
    "followers": "has {v} followers",
    "following": "follows {v} accounts",
    "likes_count": "has liked {v} posts",
    "listed_count": "is on {v} lists",
    "age_days": "the account was {v} days old when seen",
    "posts_per_day": "posts {v} times a day",
    "followers_per_day": "gains {v} followers a day",
    "following_per_day": "follows {v} new accounts a day",
    "likes_per_day": "likes {v} posts a day",
    "listed_per_day": "is added to {v} lists a day",
    "follower_ratio": "has {v} followers per account followed",
    "likes_per_post": "has liked {v} posts per post of its own",
    "likes_per_follower": "has liked {v} posts per follower",
    "listed_per_follower": "is on {v} lists per follower",
    "listed_per_post": "is on {v} lists per post",
    "posts_per_follower": "has posted {v} times per follower",
    "following_per_post": "follows {v} accounts per post",
    "screen_name_length": "the handle is {v} characters long",
    "screen_name_digits": "the handle has {v} digits",
    "name_length": "the display name is {v} characters long",
    "name_digits": "the display name has {v} digits",
    "description_length": "the bio is {v} characters long",
    "screen_name_likelihood": "the handle's letter pattern scores {v} under human handles",
    "gap_cv": "the time between posts varies by a factor of {v}",
    "burstiness": "posting burstiness is {v}",
    "share_within_1s": "{v} of posts come within a second of the previous one",
    "hour_entropy": "hour-of-day spread is {v} (1 = evenly spread over all hours)",
    "weekday_entropy": "day-of-week spread is {v}",
    "repost_rate": "{v} of posts are reposts",
    "reply_rate": "{v} of posts are replies",
    "quote_rate": "{v} of posts are quotes",
    "url_rate": "{v} of posts carry a link",
    "hashtag_rate": "{v} of posts carry a hashtag",
    "mention_rate": "{v} of posts mention someone",
    "duplicate_share": "{v} of posts repeat an earlier text",
    "near_duplicate_share": "{v} of posts nearly repeat an earlier text",
    "source_apps": "posts from {v} different apps",
    "lexical_diversity": "{v} of the words used are distinct",
    "top_language_share": "{v} of posts are in its main language",
}
_FLAGS = {
    "default_profile": ("keeps the default profile theme", "has a customised profile theme"),
    "default_profile_image": ("keeps the default profile image", "has its own profile image"),
    "profile_use_background_image": ("uses a background image", "uses no background image"),
    "verified": ("is verified", "is not verified"),
    "self_declared_bot": ("calls itself a bot in its handle, name or bio", "does not call itself a bot"),
}
_SHARES = {
    "share_within_1s",
    "repost_rate",
    "reply_rate",
    "quote_rate",
    "url_rate",
    "hashtag_rate",
    "mention_rate",
    "duplicate_share",
    "near_duplicate_share",
    "lexical_diversity",
    "top_language_share",
}


_ONE = re.compile(r"(\b1 )(account|list|follower|post|time|day|digit|character|app)s\b")


@dataclass
class Reason:
    """One feature's part in a score: its value, push (log-odds) and the sentence saying so."""

    feature: str
    value: float
    contribution: float  # > 0 pushes toward bot
    sentence: str


def format_value(feature: str, value: float) -> str:
    if feature in _SHARES:
        return f"{value:.0%}"
    if feature == "screen_name_likelihood":
        return f"{value:.2f}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:,.1f}"


def sentence(model: BotModel, feature: str, value: float) -> str:
    """'posts 312 times a day — more than 99.8% of human accounts in training'."""
    if feature in _FLAGS:
        text = _FLAGS[feature][0 if value >= 0.5 else 1]
        stats = model.percentiles.get(feature)
        if stats:
            share = stats["mean"] if value >= 0.5 else 1 - stats["mean"]
            text += f" — as do {_pct(100 * share)} of human accounts in training"
        return text
    text = _PHRASES.get(feature, feature + " is {v}").format(v=format_value(feature, value))
    text = _ONE.sub(r"\1\2", text)  # "follows 1 account", not "1 accounts"
    pct = model.human_percentile(feature, value)
    if pct is not None:
        if pct >= 50:
            text += f" — more than {_pct(pct)} of human accounts in training"
        else:
            text += f" — lower than {_pct(100 - pct)} of human accounts in training"
    return text


def _pct(value: float) -> str:
    # A share of a finite sample: never say 100% or 0%.
    value = min(max(value, 0.1), 99.9)
    return f"{value:.1f}%" if 99 < value < 100 or 0 < value < 1 else f"{value:.0f}%"


def reasons(
    model: BotModel,
    names: list[str],
    values: np.ndarray,
    contributions: np.ndarray,
    *,
    toward_bot: bool,
    limit: int = 3,
) -> list[Reason]:
    """The ``limit`` features pushing hardest in the direction of the label, with sentences."""
    push = contributions[: len(names)]
    order = np.argsort(-push if toward_bot else push, kind="stable")
    out = []
    for i in order[:limit]:
        c = float(push[i])
        if (c <= 0 if toward_bot else c >= 0) or math.isnan(values[i]):
            continue
        out.append(Reason(names[i], float(values[i]), c, sentence(model, names[i], float(values[i]))))
    return out
