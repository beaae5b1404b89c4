"""FiveThirtyEight / Clemson IRA tweets (``ira-538``) and the by-author accounts list (``ira-538-authors``).

Two layouts of the posts: the original 538 files (``author``, ``publish_date`` as
"M/D/YYYY HH:MM", ``tweet_id``, ``account_category``…) and the by-author concatenation
(``author_id``, "YYYY-MM-DD HH:MM:SS", post_type R/Q, no tweet id). Both are minute resolution, UTC.

Identity: ``account_id`` is the lower-cased handle, in posts and in ``authors.csv`` alike.
``post_id`` is ``tweet_id`` when the file has one, else ``ira538:`` + a hash of (handle,
publish_date, post type, content): two identical rows are one post, stored once.

Reposts (post_type RETWEET/R or retweet=1) carry the reposted text, not its id:
``ref_post_id`` is derived from the normalized text and the "RT @handle:" prefix when
present (``csv_common.repost_of_text``, shared with other readers), and ``ref_account_id``
is that handle lower-cased: the same namespace as IRA account ids, so a repost of another
IRA account points at it. Quotes (QUOTE_TWEET/Q) keep kind "quote" but no ``ref_post_id``:
their content is the quoting comment plus a per-tweet t.co link, so nothing in the row names
the quoted post, and hashing the comment would make every "😂" quote cite one post.

Labels: ``account_category`` (RightTroll, NewsFeed…) is a dataset label, never a feature:
one ``account_labels`` row per account, label "bot", when the file carries the column.
Profile counts (following, followers, updates) change with nearly every row; the reader keeps
one snapshot per account, from its latest ``harvested_date`` (probed_at), emitted at the end of
the file (memory grows with accounts, not rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.csv_common import (
    header_of,
    normalized_rows,
    raw_row,
    repost_of_text,
    require_columns,
)
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import count, hashtags_in, mentions_in, parse_date_ms, stable_id, urls_in

_REPOST_TYPES = {"RETWEET", "R"}
_QUOTE_TYPES = {"QUOTE_TWEET", "Q"}
_LANGS = {
    "english": "en",
    "russian": "ru",
    "german": "de",
    "ukrainian": "uk",
    "italian": "it",
    "spanish": "es",
    "french": "fr",
    "arabic": "ar",
    "portuguese": "pt",
    "dutch": "nl",
    "serbian": "sr",
    "bulgarian": "bg",
    "macedonian": "mk",
    "belarusian": "be",
    "polish": "pl",
    "farsi (persian)": "fa",
    "japanese": "ja",
    "turkish": "tr",
    "swedish": "sv",
    "norwegian": "no",
    "romanian": "ro",
    "estonian": "et",
    "croatian": "hr",
    "lithuanian": "lt",
    "latvian": "lv",
    "hungarian": "hu",
    "finnish": "fi",
    "czech": "cs",
    "uzbek": "uz",
    "kazakh": "kk",
    "vietnamese": "vi",
    "hindi": "hi",
    "hebrew": "he",
    "greek": "el",
    "korean": "ko",
    "somali": "so",
}


def _lang(value: str | None) -> str | None:
    if not value:
        return None
    return _LANGS.get(value.strip().lower(), value.strip().lower() or None)


def _is_posts_header(header: list[str]) -> bool:
    columns = set(header)
    return {"content", "publish_date"} <= columns and bool(columns & {"author", "author_id"})


@register
class Ira538Reader(Reader):
    name = "ira-538"
    layout = ("author|author_id", "content", "publish_date", "harvested_date")
    description = "FiveThirtyEight IRA tweets (original files or the by-author concatenation)"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        header = first_csv_header(head)
        return _is_posts_header(header) and "harvested_date" in header

    def read(self, source: Source, sink: Sink) -> None:
        header = header_of(source)
        require_columns(source, header, self.name, ("author", "author_id"), ("content",), ("publish_date",))
        handle_col = "author" if "author" in header else "author_id"
        has_counts = "followers" in header or "following" in header or "updates" in header
        labeled: set[str] = set()
        latest: dict[str, dict[str, Any]] = {}
        for lineno, row, problem in normalized_rows(source):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            try:
                records = self._records(row, handle_col, has_counts, latest, labeled)
            except (ValueError, KeyError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
                continue
            for table, record in records:
                if table == "posts":
                    sink.post(record)
                elif table == "accounts":
                    sink.account(record)
                else:
                    sink.label(record)
        for snapshot in latest.values():
            sink.account(snapshot)

    @staticmethod
    def _records(
        row: dict[str, str],
        handle_col: str,
        has_counts: bool,
        latest: dict[str, dict[str, Any]],
        labeled: set[str],
    ) -> list[tuple[str, dict[str, Any]]]:
        handle = row[handle_col].strip()
        if not handle:
            raise ValueError(f"empty {handle_col} (the account's handle)")
        account_id = handle.lower()
        published = row["publish_date"]
        created = parse_date_ms(published)
        content = row["content"]
        post_type = (row.get("post_type") or "").strip().upper()
        retweet = (row.get("retweet") or "").strip()
        if retweet not in {"", "0", "1"}:
            raise ValueError(f"bad retweet flag {retweet!r} (expected 0 or 1)")
        kind, ref_post, ref_account = "original", None, None
        if post_type in _QUOTE_TYPES:
            kind = "quote"
        elif post_type in _REPOST_TYPES or retweet == "1":
            kind = "repost"
        if kind == "repost":
            ref_post, ref_account = repost_of_text(content)
        tweet_id = (row.get("tweet_id") or "").strip()
        if tweet_id and not tweet_id.isdigit():
            raise ValueError(
                f"bad tweet_id {tweet_id!r} (expected digits; was the file re-saved by a spreadsheet?)"
            )
        post_id = tweet_id or stable_id(account_id, published.strip(), kind, content, prefix="ira538:")
        records: list[tuple[str, dict[str, Any]]] = []
        if has_counts:
            harvested = (row.get("harvested_date") or "").strip()
            probed = parse_date_ms(harvested) if harvested else None
            snapshot = {
                "account_id": account_id,
                "screen_name": handle,
                "following": count(row.get("following")),
                "followers": count(row.get("followers")),
                "posts_count": count(row.get("updates")),
                "probed_at": probed,
            }
            previous = latest.get(account_id)
            # Latest harvest wins; ties keep the first row seen, so the choice is deterministic.
            if previous is None or (probed or -1) > (previous["probed_at"] or -1):
                latest[account_id] = snapshot
        category = (row.get("account_category") or "").strip()
        if category and account_id not in labeled:
            labeled.add(account_id)
            records.append(
                ("account_labels", {"account_id": account_id, "label": "bot", "label_detail": category})
            )
        records.append(
            (
                "posts",
                {
                    "post_id": post_id,
                    "account_id": account_id,
                    "created_at": created,
                    "kind": kind,
                    "ref_post_id": ref_post,
                    "ref_account_id": ref_account,
                    "text": content or None,
                    "lang": _lang(row.get("language")),
                    # The substring tests skip a regex on most rows.
                    "hashtags": hashtags_in(content) if "#" in content else [],
                    "urls": urls_in(content) if "http" in content else [],
                    "mentions": mentions_in(content) if "@" in content else [],
                    "media_hashes": [],
                },
            )
        )
        return records


@register
class Ira538AuthorsReader(Reader):
    name = "ira-538-authors"
    layout = ("author_id|author", "account_category")
    description = "the IRA by-author accounts list (authors.csv): author_id → label bot, account_category"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        header = set(first_csv_header(head))
        return {"author_id", "account_category"} <= header and "content" not in header

    def read(self, source: Source, sink: Sink) -> None:
        header = header_of(source)
        require_columns(source, header, self.name, ("author_id", "author"), ("account_category",))
        handle_col = "author_id" if "author_id" in header else "author"
        for lineno, row, problem in normalized_rows(source):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            handle = row[handle_col].strip()
            category = row["account_category"].strip()
            if not handle or not category:
                sink.quarantine(f"empty {handle_col} or account_category", raw_row(row), lineno)
                continue
            sink.label({"account_id": handle.lower(), "label": "bot", "label_detail": category})
