"""Cresci et al. 2015 timelines, user_id,tid,time,tweet (``cresci-timelines``).

"RT @handle: text" posts are reposts; the reposted post's id is not in the file, so
``ref_post_id`` is derived from the handle and normalized text with the helper ira-538 uses
(``csv_common.repost_of_text``): the same retweeted text gets the same id in both datasets.
``ref_account_id`` is "@" + the lower-cased handle: these account ids are numeric, so the
"@" marks a handle, not an id. Hashtags, links and mentions come from the text.

Sniffing: the ``cresci`` reader (labeled sets) also claims this header and adds the set's
label, so this reader is chosen only with ``--format cresci-timelines``; ingest the same
file with ``cresci`` too to get labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.csv_common import (
    header_of,
    is_rt_text,
    normalized_rows,
    raw_row,
    repost_of_text,
    require_columns,
)
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.source import Source
from cibwatch.values import hashtags_in, mentions_in, parse_date_ms, urls_in

COLUMNS = ("user_id", "tid", "time", "tweet")


def _post(row: dict[str, str]) -> dict[str, Any]:
    post_id, account_id = row["tid"].strip(), row["user_id"].strip()
    if not post_id.isdigit() or not account_id.isdigit():
        raise ValueError(f"bad tid or user_id ({post_id!r}, {account_id!r}); expected numeric ids")
    text = row["tweet"]
    kind, ref_post, ref_account = "original", None, None
    if is_rt_text(text):
        ref_post, handle = repost_of_text(text)
        kind, ref_account = "repost", f"@{handle}" if handle else None
    return {
        "post_id": post_id,
        "account_id": account_id,
        "created_at": parse_date_ms(row["time"].strip()),
        "kind": kind,
        "ref_post_id": ref_post,
        "ref_account_id": ref_account,
        "text": text or None,
        "hashtags": hashtags_in(text),
        "urls": urls_in(text),
        "mentions": mentions_in(text),
        "media_hashes": [],
    }


@register
class CresciTimelinesReader(Reader):
    name = "cresci-timelines"
    layout = COLUMNS
    description = "cresci-2015 timelines (user_id,tid,time,tweet) without labels; --format only"
    covered_by = "cresci"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        # The cresci reader owns auto-detection of this header (see the module docstring).
        return False

    def read(self, source: Source, sink: Sink) -> None:
        require_columns(source, header_of(source), self.name, *((c,) for c in COLUMNS))
        for lineno, row, problem in normalized_rows(source):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            try:
                post = _post(row)
            except (ValueError, KeyError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
                continue
            sink.post(post)
