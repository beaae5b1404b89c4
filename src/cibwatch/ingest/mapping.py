"""``--map``: which column of a table holds which normalized field.

A map is ``field=column`` pairs (``account=user_screen_name,time=tweet_time,text=tweet_text``),
or ``@mapping.toml`` (the same pairs under ``[columns]``, settings at the top). Settings are
literal values, not columns: ``platform`` (default ``other``) and ``tz``, the zone of times
written without one (default: the run's, UTC unless ``ingest --tz`` says otherwise). In JSON
Lines and Parquet a column may be a dotted path into nested objects or structs
(``user.screen_name``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cibwatch.errors import InputFormatError
from cibwatch.values import zone

# field -> what it holds (shown by errors and ``formats --explain``). Post fields first.
POST_FIELDS: dict[str, str] = {
    "account": "the author's id or handle (posts.account_id) [required]",
    "time": "when it was posted (posts.created_at) [required]",
    "post": "the post's id (posts.post_id); without it, a stable id derived from account, time and text",
    "text": "the post's text",
    "kind": "original | repost | reply | quote (retweet, forward, share, comment are read too)",
    "repost_of": "id of the reposted post: the row is a repost",
    "repost_of_account": "account reposted (a Telegram forward's source): the row is a repost",
    "is_repost": "true/false: the row is a repost",
    "reply_to": "id of the post replied to: the row is a reply",
    "reply_to_account": "account replied to",
    "quote_of": "id of the quoted post: the row is a quote",
    "lang": "the post's language",
    "source_app": "the app it was posted with",
    "hashtags": "hashtags (a list, or text such as '[a, b]'); default: those in the text",
    "urls": "links (a list or text); default: those in the text",
    "mentions": "mentioned accounts (a list or text); default: those in the text",
    "media": "media hashes (a list or text)",
}
ACCOUNT_FIELDS: dict[str, str] = {
    "screen_name": "the author's handle",
    "name": "the author's display name",
    "description": "the author's bio",
    "account_created": "when the account was created",
    "followers": "follower count",
    "following": "following count",
    "posts_count": "the account's post count",
    "likes_count": "the account's like count",
    "listed_count": "the account's listed count",
    "verified": "true/false",
    "default_profile": "true/false",
    "default_profile_image": "true/false",
    "profile_use_background_image": "true/false",
    "location": "the author's stated location",
    "profile_url": "the author's profile link",
    "account_lang": "the author's language",
    "probed_at": "when the profile values were taken",
}
LABEL_FIELDS: dict[str, str] = {
    "label": "bot | human: a label of the author (account_labels)",
    "label_detail": "the source's own label text",
}
FIELDS: dict[str, str] = {**POST_FIELDS, **ACCOUNT_FIELDS, **LABEL_FIELDS}
REQUIRED = ("account", "time")
ALIASES = {"url": "urls", "id": "post", "user": "account", "date": "time", "handle": "screen_name"}
SETTINGS = ("platform", "tz")


@dataclass(frozen=True)
class ColumnMap:
    """Normalized field -> source column (or dotted path), plus the platform and default zone.

    >>> ColumnMap.parse("account=user,time=when,platform=telegram").columns
    {'account': 'user', 'time': 'when'}
    """

    columns: dict[str, str]
    platform: str = "other"
    # None: the run's zone (``ingest --tz``, UTC unless set).
    tz: str | None = None
    origin: str = field(default="--map", compare=False)

    @classmethod
    def parse(cls, spec: str) -> ColumnMap:
        """A map from ``field=column,…`` or ``@file.toml``; InputFormatError for a bad one."""
        spec = spec.strip()
        if spec.startswith("@"):
            return cls.load(Path(spec[1:]))
        pairs: dict[str, str] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, column = item.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise InputFormatError(
                    f"--map: {item!r} is not field=column; "
                    "e.g. --map account=user_screen_name,time=tweet_time"
                )
            pairs[name.strip().lower()] = column.strip()
        return cls.from_pairs(pairs, "--map")

    @classmethod
    def load(cls, path: Path) -> ColumnMap:
        """A map from TOML: ``platform``/``tz`` at the top, ``field = "column"`` under ``[columns]``."""
        try:
            raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputFormatError(f"--map @{path}: no such file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"--map @{path}: not valid TOML ({exc})") from None
        columns = raw.pop("columns", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise InputFormatError(f'--map @{path}: [columns] must hold field = "column" pairs')
        unknown = sorted(set(raw) - set(SETTINGS))
        if unknown:
            raise InputFormatError(
                f"--map @{path}: unknown setting(s) {', '.join(unknown)}; the top level takes "
                f"{', '.join(SETTINGS)}, the columns go under [columns]"
            )
        return cls.from_pairs({**{k.lower(): v for k, v in columns.items()}, **raw}, f"--map @{path}")

    @classmethod
    def from_pairs(cls, pairs: dict[str, Any], origin: str = "--map") -> ColumnMap:
        settings = {k: str(pairs.pop(k)) for k in SETTINGS if k in pairs}
        columns = {ALIASES.get(k, k): str(v) for k, v in pairs.items()}
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise InputFormatError(
                f"{origin}: unknown field(s) {', '.join(unknown)}. Fields: {', '.join(FIELDS)}; "
                f"settings: {', '.join(SETTINGS)} (see `cibwatch formats --explain FILE`)"
            )
        missing = [f for f in REQUIRED if f not in columns]
        if missing:
            raise InputFormatError(
                f"{origin}: map at least {' and '.join(REQUIRED)} (missing {', '.join(missing)}); "
                "e.g. --map account=user_screen_name,time=tweet_time,text=tweet_text"
            )
        platform = settings.get("platform", "other").strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,39}", platform):
            raise InputFormatError(f"{origin}: platform {platform!r} must be a short lower-case name")
        tz = settings.get("tz")
        if tz is not None:
            try:
                zone(tz)
            except ValueError as exc:
                raise InputFormatError(f"{origin}: {exc}") from None
        return cls(columns=columns, platform=platform, tz=tz, origin=origin)

    def as_settings(self) -> dict[str, Any]:
        """Plain data for ``Reader.configure`` (it crosses to worker processes)."""
        return {"columns": dict(self.columns), "platform": self.platform, "tz": self.tz}

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ColumnMap:
        return cls(columns=dict(settings["columns"]), platform=settings["platform"], tz=settings["tz"])

    def as_spec(self) -> str:
        """The ``--map`` text of this map."""
        extra = [f"platform={self.platform}"] if self.platform != "other" else []
        extra += [f"tz={self.tz}"] if self.tz is not None else []
        return ",".join([*(f"{k}={v}" for k, v in self.columns.items()), *extra])


# Header names that usually hold a field, most telling first (matched after lower-casing and
# dropping '_', '-', ' ' and '.'), for the --map line a refusal suggests.
_GUESSES: dict[str, tuple[str, ...]] = {
    "account": (
        "userid",
        "authorid",
        "accountid",
        "userscreenname",
        "screenname",
        "username",
        "author",
        "user",
        "account",
        "channel",
        "channelid",
        "handle",
        "from",
        "fromid",
        "sender",
        "owner",
    ),
    "time": (
        "tweettime",
        "createdat",
        "publishedat",
        "publishdate",
        "timestamp",
        "datetime",
        "date",
        "time",
        "posted",
        "postedat",
        "created",
    ),
    "text": ("tweettext", "text", "content", "message", "body", "caption", "fulltext", "description"),
    "post": ("tweetid", "postid", "messageid", "statusid", "videoid", "id", "msgid"),
    "repost_of": ("retweettweetid", "retweetid", "repostid", "repostof", "sharedpostid"),
    "repost_of_account": ("forwardedfrom", "fwdfrom", "forwardfrom", "retweetuserid"),
    "reply_to": ("inreplytotweetid", "replytoid", "replyto", "inreplyto", "replyid", "parentid"),
    "hashtags": ("hashtags", "tags"),
    "urls": ("urls", "links", "url"),
    "followers": ("followercount", "followerscount", "followers", "subscribers"),
    "following": ("followingcount", "friendscount", "following"),
    "account_created": ("accountcreationdate", "accountcreatedat", "usercreatedat"),
    "name": ("userdisplayname", "displayname", "authorname"),
    "lang": ("tweetlanguage", "language", "lang"),
}


def _key(name: str) -> str:
    return re.sub(r"[\s_.\-]", "", name.lower())


def guess_map(columns: list[str]) -> dict[str, str]:
    """field -> column guessed from a header's names (each column used once), for a suggestion.

    >>> guess_map(["tweetid", "user_screen_name", "tweet_time", "tweet_text"])
    {'account': 'user_screen_name', 'time': 'tweet_time', 'text': 'tweet_text', 'post': 'tweetid'}
    """
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_key(column), column)
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for field_name, candidates in _GUESSES.items():
        for candidate in candidates:
            found = by_key.get(candidate)
            if found is not None and found not in used:
                chosen[field_name] = found
                used.add(found)
                break
    return chosen


_KIND_BY_SUFFIX = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                   ".csv": "csv", ".tsv": "csv"}  # fmt: skip


def table_kind(head: bytes, path: Path | None = None) -> str:
    """'parquet', 'jsonl' or 'csv' (CSV and TSV): by the file's name (``.jsonl.gz`` is JSON Lines),
    else by its first (decompressed) bytes."""
    if head.startswith(b"PAR1"):
        return "parquet"
    for suffix in reversed(path.suffixes if path is not None else []):
        if suffix.lower() in _KIND_BY_SUFFIX:
            return _KIND_BY_SUFFIX[suffix.lower()]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return "jsonl"
    return "csv"


def columns_of(head: bytes, path: Path) -> list[str]:
    """The column names a table shows in its first bytes: a CSV header, the keys of the first JSON
    object (nested ones as dotted paths), or a Parquet file's schema (struct fields dotted)."""
    kind = table_kind(head, path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return _dotted_arrow(pq.read_schema(path))
        except (OSError, ValueError):
            return []
    if kind == "jsonl":
        import orjson

        try:
            first = orjson.loads(head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0])
        except ValueError:
            return []
        return _dotted_keys(first) if isinstance(first, dict) else []
    from cibwatch.ingest.source import first_csv_header

    return first_csv_header(head)


def _dotted_keys(record: dict[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    names: list[str] = []
    for key, value in record.items():
        if isinstance(value, dict) and value and depth < 3:
            names += _dotted_keys(value, f"{prefix}{key}.", depth + 1)
        else:
            names.append(f"{prefix}{key}")
    return names


def _dotted_arrow(schema: Any, prefix: str = "") -> list[str]:
    import pyarrow as pa

    names: list[str] = []
    for item in schema:
        if pa.types.is_struct(item.type):
            names += _dotted_arrow(list(item.type), f"{prefix}{item.name}.")
        else:
            names.append(f"{prefix}{item.name}")
    return names


def suggested_map(columns: list[str]) -> str:
    """A ready-to-edit ``--map`` value for a table with ``columns``: guessed fields, and
    ``account=COLUMN``/``time=COLUMN`` placeholders for the required ones it could not guess."""
    guessed = guess_map(columns)
    pairs = {f: guessed.get(f, "COLUMN") for f in REQUIRED}
    pairs.update(guessed)
    return map_spec(pairs)


def map_spec(pairs: dict[str, str]) -> str:
    """``field=column,…`` for ``pairs``; a column with ',' or '=' in its name cannot be written so."""
    return ",".join(f"{k}={v}" for k, v in pairs.items())
