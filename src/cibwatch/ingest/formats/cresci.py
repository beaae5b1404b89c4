"""Cresci et al. sets: cresci-2017 ``users.csv`` / ``tweets.csv`` and cresci-2015 timelines.

The label is not a column: it is the set, named by the file or folder
(``genuine_accounts`` → human; ``social_spambots_1``, ``traditional_spambots_1``,
``fake_followers`` → bot, with the set name as ``label_detail``). A file whose path names
no set gets no labels; ``--dataset NAME`` names the set when the file name does not
(e.g. ``--dataset fake_followers``). Some copies have no header row (sammac22's
``realusers.txt``, ``tweets.txt``): the column order of the originals is assumed then.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from cibwatch.errors import InputFormatError
from cibwatch.ingest.formats.cresci_timelines import _post as timeline_post
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import (
    any_date_ms,
    count,
    flag,
    hashtags_in,
    mentions_in,
    source_app,
    text_or_none,
    urls_in,
)

USERS_COLUMNS = [
    "id",
    "name",
    "screen_name",
    "statuses_count",
    "followers_count",
    "friends_count",
    "favourites_count",
    "listed_count",
    "url",
    "lang",
    "time_zone",
    "location",
    "default_profile",
    "default_profile_image",
    "geo_enabled",
    "profile_image_url",
    "profile_banner_url",
    "profile_use_background_image",
    "profile_background_image_url_https",
    "profile_text_color",
    "profile_image_url_https",
    "profile_sidebar_border_color",
    "profile_background_tile",
    "profile_sidebar_fill_color",
    "profile_background_image_url",
    "profile_background_color",
    "profile_link_color",
    "utc_offset",
    "is_translator",
    "follow_request_sent",
    "protected",
    "verified",
    "notifications",
    "description",
    "contributors_enabled",
    "following",
    "created_at",
    "timestamp",
    "crawled_at",
    "updated",
    "test_set_1",
    "test_set_2",
]
TWEETS_COLUMNS = [
    "id",
    "text",
    "source",
    "user_id",
    "truncated",
    "in_reply_to_status_id",
    "in_reply_to_user_id",
    "in_reply_to_screen_name",
    "retweeted_status_id",
    "geo",
    "place",
    "contributors",
    "retweet_count",
    "reply_count",
    "favorite_count",
    "favorited",
    "retweeted",
    "possibly_sensitive",
    "num_hashtags",
    "num_urls",
    "num_mentions",
    "created_at",
    "timestamp",
    "crawled_at",
    "updated",
]
TIMELINE_COLUMNS = ["user_id", "tid", "time", "tweet"]

_HUMAN_SETS = ("genuine", "geniune", "legitimate", "realusers", "realtweets", "human")
_BOT_SETS = ("spambot", "fake_follower", "fakeusers", "fakefollower", "bot")


def label_from_name(name: str) -> tuple[str, str] | None:
    """('human' | 'bot', set name) inferred from a file/set name, or None when it names no set.

    >>> label_from_name("social_spambots_1")
    ('bot', 'social_spambots_1')
    """
    low = name.lower()
    if any(word in low for word in _HUMAN_SETS):
        return "human", name
    if any(word in low for word in _BOT_SETS):
        return "bot", name
    return None


def _set_label(source: Source) -> tuple[str, str] | None:
    # --dataset (or the file name) first, then the folder: .../fake_followers.csv/users.csv
    return label_from_name(source.dataset) or label_from_name(source.path.parent.name)


def _headerless_width(head: bytes) -> int | None:
    first = head.decode("utf-8", "replace").split("\n", 1)[0]
    if not re.match(r'^"\d+","', first):
        return None
    try:
        return len(next(csv.reader([first])))
    except (csv.Error, StopIteration):
        return None


def _kind(head: bytes) -> str | None:
    header = first_csv_header(head)
    if {"screen_name", "statuses_count", "friends_count", "crawled_at"} <= set(header):
        return "users"
    if {"id", "text", "user_id", "retweeted_status_id"} <= set(header):
        return "tweets"
    if header[:4] == TIMELINE_COLUMNS:
        return "timeline"
    width = _headerless_width(head)
    if width in (len(USERS_COLUMNS) - 2, len(USERS_COLUMNS) - 1, len(USERS_COLUMNS)):
        return "users-noheader"
    if width == len(TWEETS_COLUMNS):
        return "tweets-noheader"
    return None


def _dump_flag(value: str | None) -> bool | None:
    # The MySQL dumps write true as "1" and false as an empty field; NULL means not recorded.
    return False if value == "" else flag(value)


def _account(row: dict[str, str]) -> dict[str, Any]:
    account_id = row["id"].strip()
    if not account_id.isdigit():
        raise ValueError(f"bad account id {account_id!r}")
    created = text_or_none(row.get("created_at"))
    probed = next((row[k] for k in ("crawled_at", "updated", "timestamp") if text_or_none(row.get(k))), None)
    return {
        "account_id": account_id,
        "screen_name": text_or_none(row.get("screen_name")),
        "name": text_or_none(row.get("name")),
        "description": text_or_none(row.get("description")),
        "created_at": _date(created),
        "followers": count(row.get("followers_count")),
        "following": count(row.get("friends_count")),
        "posts_count": count(row.get("statuses_count")),
        "likes_count": count(row.get("favourites_count")),
        "listed_count": count(row.get("listed_count")),
        "verified": _dump_flag(row.get("verified")),
        "default_profile": _dump_flag(row.get("default_profile")),
        "default_profile_image": _dump_flag(row.get("default_profile_image")),
        "profile_use_background_image": _dump_flag(row.get("profile_use_background_image")),
        "location": text_or_none(row.get("location")),
        "url": text_or_none(row.get("url")),
        "lang": text_or_none(row.get("lang")),
        "probed_at": any_date_ms(probed),
        "raw": None,
    }


def _date(value: str | None) -> int | None:
    # Some copies hold epoch ms as Java longs: '1183552203000L'.
    if value and value.endswith("L") and value[:-1].isdigit():
        value = value[:-1]
    return any_date_ms(value)


def _nonzero_id(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and value not in {"0", "NULL"} else None


def _post(
    post_id: str, account_id: str, created: int | None, text: str | None, **extra: Any
) -> dict[str, Any]:
    if not post_id.isdigit() or not account_id.isdigit():
        raise ValueError(f"bad post or account id ({post_id!r}, {account_id!r})")
    text = text or ""
    kind = extra.pop("kind", None) or ("repost" if text.startswith("RT @") else "original")
    return {
        "post_id": post_id,
        "account_id": account_id,
        "created_at": created,
        "kind": kind,
        "ref_post_id": extra.get("ref_post_id"),
        "ref_account_id": extra.get("ref_account_id"),
        "text": text or None,
        "lang": None,
        "source_app": extra.get("source_app"),
        "hashtags": hashtags_in(text),
        "urls": urls_in(text),
        "mentions": mentions_in(text),
        "media_hashes": [],
    }


def _tweet(row: dict[str, str]) -> dict[str, Any]:
    reposted = _nonzero_id(row.get("retweeted_status_id"))
    replied = _nonzero_id(row.get("in_reply_to_status_id"))
    kind = "repost" if reposted else "reply" if replied else None
    created = text_or_none(row.get("created_at"))
    return _post(
        row["id"].strip(),
        row["user_id"].strip(),
        _date(created) if created else any_date_ms(row.get("timestamp")),
        text_or_none(row.get("text")),
        kind=kind,
        ref_post_id=reposted or replied,
        ref_account_id=_nonzero_id(row.get("in_reply_to_user_id")) if replied else None,
        source_app=source_app(row.get("source")),
    )


def _timeline_post(row: dict[str, str]) -> dict[str, Any]:
    # The same posts as the unlabeled cresci-timelines reader, reposts' derived ids included.
    return timeline_post(row)


@register
class CresciReader(Reader):
    name = "cresci"
    description = (
        "Cresci et al. labeled sets: cresci-2017 users.csv / tweets.csv (with or without header) and "
        "cresci-2015 timelines (user_id,tid,time,tweet); label from the set's file or folder name"
    )

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return _kind(head) is not None

    def read(self, source: Source, sink: Sink) -> None:
        kind = _kind(source.head())
        if kind is None:
            raise InputFormatError(
                f"{source.name} has no header cresci knows and does not look like a headerless "
                "users.csv or tweets.csv; expected a first line naming the columns, e.g. "
                f"{','.join(TIMELINE_COLUMNS)} (a cresci-2015 timeline) or the users/tweets columns. "
                "Add the header line, or pass the right --format."
            )
        fieldnames = None
        if kind.endswith("-noheader"):
            kind = kind.removesuffix("-noheader")
            width = _headerless_width(source.head()) or 0
            fieldnames = (USERS_COLUMNS if kind == "users" else TWEETS_COLUMNS)[:width]
        label = _set_label(source)
        labeled: set[str] = set()
        to_record = {"users": _account, "tweets": _tweet, "timeline": _timeline_post}[kind]
        for lineno, row, problem in source.csv_rows(fieldnames=fieldnames):
            raw = ",".join(str(v) for v in row.values()) if row else None
            if problem:
                sink.quarantine(problem, raw, lineno)
                continue
            try:
                record = to_record(row)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw, lineno)
                continue
            (sink.account if kind == "users" else sink.post)(record)
            if label and record["account_id"] not in labeled:
                labeled.add(record["account_id"])
                sink.label({"account_id": record["account_id"], "label": label[0], "label_detail": label[1]})
