"""TwiBot-20 / TwiBot-22 users: a JSON array (or JSON Lines) of user records.

TwiBot-20 nests a v1.1-like ``profile`` whose values are strings with a trailing space
("True ", "15349596 "), lists tweet texts (no ids or times) under ``tweet`` and carries a
``label`` ("1" bot, "0" human) in the labeled splits. TwiBot-22 users are X API v2-like
(``public_metrics``, ``username``, ids prefixed ``u``). Tweets become posts with an id derived
from the account and position, and no time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from cibwatch.ingest.formats.twitter_v1 import account_from_v1_user
from cibwatch.ingest.jsonstream import iter_json
from cibwatch.ingest.registry import Reader, Sink, emit, register
from cibwatch.ingest.source import Source
from cibwatch.values import (
    any_date_ms,
    count,
    flag,
    hashtags_in,
    mentions_in,
    stable_id,
    text_or_none,
    urls_in,
)

_NONE = {"None", "null", "NULL", ""}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value in _NONE:
            return None
        if value in ("True", "False"):
            return value == "True"
    return value


def _label(value: Any) -> str | None:
    text = str(value).strip().lower() if value is not None else ""
    return {"1": "bot", "bot": "bot", "0": "human", "human": "human"}.get(text)


def _v2_account(user: dict[str, Any]) -> dict[str, Any]:
    metrics = user.get("public_metrics") or {}
    account_id = str(user.get("id") or "").strip().removeprefix("u")
    if not account_id:
        raise ValueError("user without id")
    created = _clean(user.get("created_at"))
    return {
        "account_id": account_id,
        "screen_name": _clean(user.get("username")),
        "name": _clean(user.get("name")),
        "description": text_or_none(_clean(user.get("description"))),
        "created_at": any_date_ms(str(created)) if created is not None else None,
        "followers": count(metrics.get("followers_count")),
        "following": count(metrics.get("following_count")),
        "posts_count": count(metrics.get("tweet_count")),
        "likes_count": None,  # v2 profiles carry no likes count
        "listed_count": count(metrics.get("listed_count")),
        "verified": flag(_clean(user.get("verified"))),
        "default_profile": None,
        "default_profile_image": None,
        "profile_use_background_image": None,
        "location": text_or_none(_clean(user.get("location"))),
        "url": text_or_none(_clean(user.get("url"))),
        "lang": None,
        "probed_at": None,
        "raw": orjson.dumps(user).decode(),
    }


def records_from_user(item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The account, its posts and its label (if any) of one TwiBot user record."""
    profile = item.get("profile")
    if isinstance(profile, dict):
        cleaned = {k: _clean(v) for k, v in profile.items()}
        if not isinstance(cleaned.get("entities"), dict):
            cleaned.pop("entities", None)  # TwiBot-20 stores it as a Python repr string
        cleaned.setdefault("id_str", str(item.get("ID") or "").strip() or None)
        account = account_from_v1_user(cleaned, None)
        account["raw"] = orjson.dumps(profile).decode()
    elif "public_metrics" in item or "username" in item:
        account = _v2_account(item)
    else:
        raise ValueError("expected a TwiBot user (with 'profile', or v2 'public_metrics'/'username')")
    account_id = account["account_id"]
    out: list[tuple[str, dict[str, Any]]] = [("accounts", account)]
    for i, text in enumerate(item.get("tweet") or []):
        if not isinstance(text, str):
            raise ValueError(f"tweet {i} is not a text")
        text = text.rstrip("\n")
        out.append(
            (
                "posts",
                {
                    "post_id": stable_id(account_id, str(i), text, prefix="tb"),
                    "account_id": account_id,
                    "created_at": None,
                    "kind": "repost" if text.startswith("RT @") else "original",
                    "text": text,
                    "hashtags": hashtags_in(text),
                    "urls": urls_in(text),
                    "mentions": mentions_in(text),
                    "media_hashes": [],
                },
            )
        )
    label = _label(item.get("label"))
    if label:
        out.append(
            ("account_labels", {"account_id": account_id, "label": label, "label_detail": str(item["label"])})
        )
    return out


@register
class TwiBotReader(Reader):
    name = "twibot"
    description = (
        "TwiBot-20/22 users: JSON with 'profile' (v1.1-like) or 'public_metrics' (v2-like), optional label"
    )

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        start = head.lstrip()[:2000]
        if start[:1] not in (b"[", b"{"):
            return False
        twibot20 = b'"ID"' in start and b'"profile"' in start
        twibot22 = b'"public_metrics"' in start and b'"username"' in start and b'"data"' not in start[:20]
        return twibot20 or (twibot22 and b'"text"' not in start)

    def read(self, source: Source, sink: Sink) -> None:
        for item in iter_json(source):
            if item.error:
                sink.quarantine(item.error, item.raw, item.line, item.byte_offset)
                continue
            try:
                if not isinstance(item.value, dict):
                    raise ValueError(f"expected a user object, got {type(item.value).__name__}")
                records = records_from_user(item.value)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", item.raw, item.line, item.byte_offset)
                continue
            emit(records, sink)
