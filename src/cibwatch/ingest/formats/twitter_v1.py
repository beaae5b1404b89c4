"""X (Twitter) API v1.1 tweets: JSON Lines, a JSON array, or a search response (``statuses``).

Embedded ``retweeted_status`` and ``quoted_status`` become posts of their own, and
every ``user`` object becomes an account snapshot taken at the tweet's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from cibwatch.ingest.base import Reader, Sink, Source, emit, iter_json, register
from cibwatch.ingest.values import count, flag, source_app, text_or_none, twitter_date_ms


def account_from_v1_user(user: dict[str, Any], probed_at: int | None) -> dict[str, Any]:
    """A v1.1 user object as an ``accounts`` record. Raises ValueError on impossible values."""
    account_id = user.get("id_str") or (str(user["id"]) if user.get("id") is not None else None)
    if not account_id:
        raise ValueError("user object without id")
    created = user.get("created_at")
    url = user.get("url")
    expanded = (((user.get("entities") or {}).get("url") or {}).get("urls") or [{}])[0].get("expanded_url")
    return {
        "account_id": account_id,
        "screen_name": user.get("screen_name"),
        "name": user.get("name"),
        "description": text_or_none(user.get("description")),
        "created_at": twitter_date_ms(created) if created else None,
        "followers": count(user.get("followers_count")),
        "following": count(user.get("friends_count")),
        "posts_count": count(user.get("statuses_count")),
        "likes_count": count(user.get("favourites_count")),
        "listed_count": count(user.get("listed_count")),
        "verified": flag(user.get("verified")),
        "default_profile": flag(user.get("default_profile")),
        "default_profile_image": flag(user.get("default_profile_image")),
        "profile_use_background_image": flag(user.get("profile_use_background_image")),
        "location": text_or_none(user.get("location")),
        "url": expanded or url,
        "lang": user.get("lang"),
        "probed_at": probed_at,
        "raw": user,  # serialized by the sink only if the snapshot is kept
    }


def _entities(tweet: dict[str, Any]) -> dict[str, Any]:
    extended = tweet.get("extended_tweet")
    if extended and extended.get("entities"):
        return extended["entities"]
    return tweet.get("entities") or {}


def _text(tweet: dict[str, Any]) -> str | None:
    extended = tweet.get("extended_tweet")
    if extended and extended.get("full_text"):
        return extended["full_text"]
    return tweet.get("full_text") or tweet.get("text")


def _id(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(f"{key}_str")
    if value:
        return value
    raw = obj.get(key)
    return str(raw) if raw is not None else None


def records_from_v1_tweet(tweet: dict[str, Any], out: list[tuple[str, dict[str, Any]]]) -> None:
    """Add ``tweet``, its embedded tweets and their users to ``out`` as (table, record).

    Raises ValueError on a bad tweet; the caller emits nothing of it then.
    """
    post_id = _id(tweet, "id")
    user = tweet.get("user")
    if not post_id or not isinstance(user, dict):
        raise ValueError("not a v1.1 tweet (needs id and user)")
    created_raw = tweet.get("created_at")
    if not created_raw:
        raise ValueError("tweet without created_at")
    created = twitter_date_ms(created_raw)
    account = account_from_v1_user(user, created)
    entities = _entities(tweet)
    kind, ref_post, ref_account = "original", None, None
    retweeted = tweet.get("retweeted_status")
    quoted = tweet.get("quoted_status")
    if isinstance(retweeted, dict):
        kind, ref_post = "repost", _id(retweeted, "id")
        ref_account = _id(retweeted.get("user") or {}, "id")
    elif tweet.get("is_quote_status") and (quoted or tweet.get("quoted_status_id_str")):
        kind = "quote"
        ref_post = tweet.get("quoted_status_id_str") or (_id(quoted, "id") if quoted else None)
        ref_account = _id((quoted or {}).get("user") or {}, "id")
    elif tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"):
        kind, ref_post = "reply", _id(tweet, "in_reply_to_status_id")
        ref_account = _id(tweet, "in_reply_to_user_id")
    media = (tweet.get("extended_entities") or entities).get("media") or []
    out.append(("accounts", account))
    out.append(
        (
            "posts",
            {
                "post_id": post_id,
                "account_id": account["account_id"],
                "created_at": created,
                "kind": kind,
                "ref_post_id": ref_post,
                "ref_account_id": ref_account,
                "text": _text(tweet),
                "lang": tweet.get("lang"),
                "source_app": source_app(tweet.get("source")),
                "hashtags": [h["text"] for h in entities.get("hashtags") or [] if h.get("text")],
                "urls": [
                    u.get("expanded_url") or u["url"] for u in entities.get("urls") or [] if u.get("url")
                ],
                "mentions": [
                    m["screen_name"] for m in entities.get("user_mentions") or [] if m.get("screen_name")
                ],
                # v1.1 carries no content hash of media; the media key identifies the upload.
                "media_hashes": [m["id_str"] for m in media if m.get("id_str")],
            },
        )
    )
    for embedded in (retweeted, quoted):
        if isinstance(embedded, dict):
            records_from_v1_tweet(embedded, out)


@register
class TwitterV1Reader(Reader):
    name = "twitter-v1"
    description = "X API v1.1 tweets: JSON Lines, JSON array or search response"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        start = head.lstrip()[:1]
        if start not in (b"{", b"["):
            return False
        compact = head.lstrip()[:200].replace(b" ", b"")
        if compact.startswith(b'[{"created_at":') and b'","user":{' in compact:
            return False  # a Bot Repository probe file ({created_at, user}), read by bot-repository
        return (
            (b'"id_str"' in head or b'"statuses"' in head) and b'"user"' in head and b'"created_at"' in head
        )

    def read(self, source: Source, sink: Sink) -> None:
        for item in iter_json(source):
            if item.error:
                sink.quarantine(item.error, item.raw, item.line, item.byte_offset)
                continue
            value = item.value
            tweets = value.get("statuses") if isinstance(value, dict) and "statuses" in value else value
            if not isinstance(tweets, list):
                tweets = [tweets]
            for tweet in tweets:
                try:
                    if not isinstance(tweet, dict):
                        raise ValueError(f"expected a tweet object, got {type(tweet).__name__}")
                    if "delete" in tweet or "limit" in tweet or "scrub_geo" in tweet:
                        raise ValueError("stream control message (delete/limit/scrub_geo), not a tweet")
                    records: list[tuple[str, dict[str, Any]]] = []
                    records_from_v1_tweet(tweet, records)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raw = item.raw if len(tweets) == 1 else orjson.dumps(tweet)
                    sink.quarantine(f"{type(exc).__name__}: {exc}", raw, item.line, item.byte_offset)
                    continue
                emit(records, sink)
