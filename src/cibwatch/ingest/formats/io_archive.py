"""X (Twitter) information-operations archive: the tweets files and the users files (``io-archive``).

Tweets files (tweetid, userid, …, tweet_time "2016-01-01 12:34", is_retweet, hashtags
"[a, b]" …) give a post per row and the row's profile columns as an account snapshot;
users files (userid, … without tweetid) give account snapshots only. User ids may be hashed
strings; they are kept as given.

``probed_at`` is null: the archive does not say when its profile columns were taken (X
published them at the accounts' suspension), and the tweet's time would misdate them. The
snapshot id ignores probed_at, so a profile repeated on every tweet row is stored once.
``mentions`` holds the mentioned user ids as the archive gives them (no screen names).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.csv_common import header_of, normalized_rows, raw_row, require_columns
from cibwatch.ingest.registry import Reader, Sink, emit, register
from cibwatch.ingest.source import MAX_FIELD_BYTES, Source, first_csv_header
from cibwatch.values import count, flag, parse_date_ms, shown, text_or_none

_USER_COLUMNS = ("userid", "user_screen_name", "account_creation_date")


def list_literal(value: str | None) -> list[str]:
    """ "['a', 'b']", "[a, b]", "a b" or "" to a list of strings.

    >>> list_literal("['a', 'b']"), list_literal("[a, b]"), list_literal("")
    (['a', 'b'], ['a', 'b'], [])
    """
    text = (value or "").strip()
    if not text or text.upper() in {"NA", "NULL", "NONE", "[]"}:
        return []
    if text.startswith("[") and text.endswith("]"):
        if "'" in text or '"' in text:
            if len(text) > MAX_FIELD_BYTES:  # literal_eval takes ~100 bytes of memory a character
                raise ValueError(f"list longer than MAX_FIELD_BYTES ({MAX_FIELD_BYTES:,} characters)")
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError, RecursionError, MemoryError):  # SyntaxError: too deep too
                raise ValueError(f"bad list {shown(value)} (expected e.g. ['a', 'b'])") from None
            if not isinstance(parsed, list):
                raise ValueError(f"bad list {shown(value)} (expected e.g. ['a', 'b'])")
            return [str(item).strip() for item in parsed if str(item).strip()]
        text = text[1:-1]
    return [item.strip() for item in text.replace(",", " ").split() if item.strip()]


def _account(row: dict[str, str]) -> dict[str, Any]:
    user_id = row["userid"].strip()
    if not user_id:
        raise ValueError("empty userid")
    created = text_or_none((row.get("account_creation_date") or "").strip())
    return {
        "account_id": user_id,
        "screen_name": text_or_none(row.get("user_screen_name")),
        "name": text_or_none(row.get("user_display_name")),
        "description": text_or_none(row.get("user_profile_description")),
        "created_at": parse_date_ms(created) if created else None,
        "followers": count(row.get("follower_count")),
        "following": count(row.get("following_count")),
        "location": text_or_none(row.get("user_reported_location")),
        "url": text_or_none(row.get("user_profile_url")),
        "lang": text_or_none(row.get("account_language")),
        "probed_at": None,
    }


def _id(row: dict[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value if value and value not in {"0", "NA", "NULL", "None"} else None


def _post(row: dict[str, str], account_id: str) -> dict[str, Any]:
    post_id = row["tweetid"].strip()
    if not post_id:
        raise ValueError("empty tweetid")
    when = (row.get("tweet_time") or "").strip()
    if not when:
        raise ValueError("empty tweet_time (expected e.g. 2016-01-01 12:34)")
    kind, ref_post, ref_account = "original", None, None
    if flag(row.get("is_retweet")):
        kind, ref_post, ref_account = "repost", _id(row, "retweet_tweetid"), _id(row, "retweet_userid")
    elif _id(row, "quoted_tweet_tweetid"):
        kind, ref_post = "quote", _id(row, "quoted_tweet_tweetid")
    elif _id(row, "in_reply_to_tweetid"):
        kind, ref_post = "reply", _id(row, "in_reply_to_tweetid")
        ref_account = _id(row, "in_reply_to_userid")
    for column in ("quote_count", "reply_count", "like_count", "retweet_count"):
        count(row.get(column))  # a wrong-typed engagement count marks a damaged row
    return {
        "post_id": post_id,
        "account_id": account_id,
        "created_at": parse_date_ms(when),
        "kind": kind,
        "ref_post_id": ref_post,
        "ref_account_id": ref_account,
        "text": text_or_none(row.get("tweet_text")),
        "lang": text_or_none(row.get("tweet_language")),
        "source_app": text_or_none(row.get("tweet_client_name")),
        "hashtags": list_literal(row.get("hashtags")),
        "urls": list_literal(row.get("urls")),
        "mentions": list_literal(row.get("user_mentions")),
        "media_hashes": [],
    }


@register
class IoArchiveReader(Reader):
    name = "io-archive"
    layout = ("tweetid", "userid", "user_screen_name", "tweet_time", "tweet_text")
    description = "X information-operations archive CSV: tweets files (tweetid, tweet_time…) and users files"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        header = set(first_csv_header(head))
        if {"tweetid", "userid", "tweet_time"} <= header:
            return True
        return set(_USER_COLUMNS) <= header and "follower_count" in header

    def read(self, source: Source, sink: Sink) -> None:
        header = header_of(source)
        tweets = "tweetid" in header
        if tweets:
            require_columns(source, header, self.name, ("tweetid",), ("userid",), ("tweet_time",))
        else:
            require_columns(source, header, self.name, ("userid",), ("user_screen_name",))
        for lineno, row, problem in normalized_rows(source):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            try:
                account = _account(row)
                records = [("accounts", account)]
                if tweets:
                    records.append(("posts", _post(row, account["account_id"])))
            except (ValueError, KeyError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
                continue
            emit(records, sink)
