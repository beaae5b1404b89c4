"""CooRTweet's example and input tables (``coortweet``), in two forms.

(a) object_id, account_id, content_id, timestamp_share: CooRTweet's generic input, as in
    ``russian_coord_tweets`` where object_id is the retweeted post. Each content_id is a
    repost with ``ref_post_id`` = object_id.
(b) account_id, post_id, url_id, hashtag_id, domain_id, phash_id, timestamp (as in
    ``german_elections``): one row per trace occurrence, so a post spans several rows.

Rows of one post are merged into ONE post. They are usually adjacent but not always (in
german_elections up to ~40k rows apart), so open posts are held in a window keyed by post id
and written once no row of theirs came for ``WINDOW_ROWS`` rows (or at the end). Open posts are
bounded by the window; only the ids of written posts are kept beyond it. A row whose post
was already written (farther apart than the window) is quarantined with that reason rather
than silently dropped; sort the file by post id to avoid it. A row repeating an earlier row of
its post exactly is counted as a duplicate; a further trace row of a post, as merged.

Merged lists: urls ← "url:<url_id>" and "domain:<domain_id>", hashtags ← hashtag_id,
media_hashes ← phash_id. Ids are prefixed in urls because url and domain ids are two
numberings that would otherwise collide; a detector wanting links only drops "domain:" items.
In form (a) a content that references several objects (39 in russian_coord_tweets) gets its
first object as ``ref_post_id`` and one further repost "<content_id>/<object_id>" per extra
object, so a co-repost of any of them stays visible.

Platform: account ids starting "fb_" are Facebook, "ig_" Instagram, anything else Twitter.
Accounts get the driver's author-only rows (the tables carry no profiles).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from cibwatch.ingest.formats.csv_common import (
    header_of,
    normalized_rows,
    raw_row,
    require_columns,
)
from cibwatch.ingest.registry import UNIT_DUPLICATE, UNIT_MERGED, UNIT_USED, Reader, Sink, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import parse_date_ms

WINDOW_ROWS = 200_000
_OBJECT_FORM = ("object_id", "account_id", "content_id", "timestamp_share")
_TRACE_FORM = ("account_id", "post_id", "timestamp")
_TRACES = ("url_id", "hashtag_id", "domain_id", "phash_id")
_PLATFORMS = {"fb": "facebook", "ig": "instagram", "tw": "twitter"}


def platform_of(account_id: str) -> str:
    """'fb_12' → 'facebook', 'tw_3' → 'twitter'; unprefixed ids are Twitter."""
    prefix, sep, _ = account_id.partition("_")
    return _PLATFORMS.get(prefix.lower(), "twitter") if sep else "twitter"


def _value(row: dict[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value if value and value.upper() not in {"NA", "NULL", "NAN"} else None


def _time(row: dict[str, str], column: str) -> int:
    value = _value(row, column)
    if value is None:
        raise ValueError(f"empty {column} (expected a date or epoch seconds)")
    return parse_date_ms(value)


class _OpenPost:
    __slots__ = ("account_id", "created_at", "hashtags", "last_row", "media", "refs", "rows", "urls")

    def __init__(self, account_id: str, created_at: int, last_row: int) -> None:
        self.account_id = account_id
        self.created_at = created_at
        self.refs: list[str] = []
        self.urls: list[str] = []
        self.hashtags: list[str] = []
        self.media: list[str] = []
        self.last_row = last_row
        self.rows: set[tuple[str, ...]] = set()  # this post's rows so far: a repeat is a duplicate


def _add(items: list[str], value: str | None) -> None:
    if value is not None and value not in items:
        items.append(value)


@register
class CoortweetReader(Reader):
    name = "coortweet"
    layout = _OBJECT_FORM
    description = "CooRTweet tables: object_id,account_id,content_id,timestamp_share or german_elections form"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        header = set(first_csv_header(head))
        if set(_OBJECT_FORM) <= header:
            return True
        return set(_TRACE_FORM) <= header and bool(header & set(_TRACES))

    def read(self, source: Source, sink: Sink) -> None:
        header = header_of(source)
        object_form = "content_id" in header or "object_id" in header
        required = _OBJECT_FORM if object_form else _TRACE_FORM
        require_columns(source, header, self.name, *((c,) for c in required))
        id_col, time_col = ("content_id", "timestamp_share") if object_form else ("post_id", "timestamp")
        open_posts: OrderedDict[tuple[str, str], _OpenPost] = OrderedDict()
        written: set[tuple[str, str]] = set()
        row_no = 0
        for lineno, row, problem in normalized_rows(source):
            row_no += 1
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            try:
                account_id = _value(row, "account_id")
                post_id = _value(row, id_col)
                if account_id is None or post_id is None:
                    raise ValueError(f"empty account_id or {id_col}")
                created = _time(row, time_col)
                key = (platform_of(account_id), post_id)
                post = open_posts.get(key)
                if post is None:
                    if key in written:
                        raise ValueError(
                            f"{id_col} {post_id} was already written: its rows are more than "
                            f"{WINDOW_ROWS} rows apart; sort the file by {id_col}"
                        )
                    post = _OpenPost(account_id, created, row_no)
                elif post.account_id != account_id:
                    raise ValueError(f"{id_col} {post_id} has rows by {post.account_id} and {account_id}")
            except ValueError as exc:
                sink.quarantine(f"ValueError: {exc}", raw_row(row), lineno)
                continue
            # Each row's outcome, named here where it is merged: its post (or extra repost) is
            # written later, an exact repeat of a row of this post is a duplicate, and a further
            # trace row is merged into its post.
            values = tuple(row.values())
            if values in post.rows:
                sink.unit(UNIT_DUPLICATE)
            elif not post.rows or (object_form and _value(row, "object_id") not in post.refs):
                sink.unit(UNIT_USED)
            else:
                sink.unit(UNIT_MERGED)
            post.rows.add(values)
            if object_form:
                _add(post.refs, _value(row, "object_id"))
            else:
                url, domain = _value(row, "url_id"), _value(row, "domain_id")
                _add(post.urls, f"url:{url}" if url else None)
                _add(post.urls, f"domain:{domain}" if domain else None)
                _add(post.hashtags, _value(row, "hashtag_id"))
                _add(post.media, _value(row, "phash_id"))
            post.last_row = row_no
            open_posts[key] = post
            open_posts.move_to_end(key)
            while open_posts:
                oldest_key, oldest = next(iter(open_posts.items()))
                if row_no - oldest.last_row < WINDOW_ROWS:
                    break
                del open_posts[oldest_key]
                written.add(oldest_key)
                self._write(oldest_key, oldest, sink)
        for key, post in open_posts.items():
            self._write(key, post, sink)

    @staticmethod
    def _write(key: tuple[str, str], post: _OpenPost, sink: Sink) -> None:
        platform, post_id = key
        base = {"account_id": post.account_id, "created_at": post.created_at, "platform": platform}
        kind = "repost" if post.refs else "original"
        sink.post(
            {
                **base,
                "post_id": post_id,
                "kind": kind,
                "ref_post_id": post.refs[0] if post.refs else None,
                "hashtags": post.hashtags,
                "urls": post.urls,
                "mentions": [],
                "media_hashes": post.media,
            }
        )
        for extra in post.refs[1:]:
            sink.post(
                {
                    **base,
                    "post_id": f"{post_id}/{extra}",
                    "kind": "repost",
                    "ref_post_id": extra,
                    "hashtags": [],
                    "urls": [],
                    "mentions": [],
                    "media_hashes": [],
                }
            )
