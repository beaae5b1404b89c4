"""The QUT coordination-network-toolkit's CSV input (``qut``).

Columns, in the toolkit's order: message_id, user_id, username, repost_id, reply_id,
message, timestamp (seconds, float), urls (space-separated). A repost_id makes the row a
repost of that message, else a reply_id a reply. The toolkit allows any consistent
offset for timestamps; cibwatch reads them as Unix epoch seconds.

Each row also yields a minimal account snapshot (screen_name from username, probed_at
null), so flagged accounts show a name; identical ones collapse in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.csv_common import (
    header_of,
    normalized_rows,
    raw_row,
    require_columns,
)
from cibwatch.ingest.registry import Reader, Sink, emit, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import hashtags_in, mentions_in, parse_date_ms, text_or_none

QUT_COLUMNS = ("message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls")


def _records(row: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    post_id = row["message_id"].strip()
    account_id = row["user_id"].strip()
    if not post_id or not account_id:
        raise ValueError("empty message_id or user_id")
    repost = (row.get("repost_id") or "").strip()
    reply = (row.get("reply_id") or "").strip()
    kind, ref = ("repost", repost) if repost else ("reply", reply) if reply else ("original", None)
    message = row.get("message") or ""
    post = {
        "post_id": post_id,
        "account_id": account_id,
        "created_at": parse_date_ms(row["timestamp"].strip()),
        "kind": kind,
        "ref_post_id": ref,
        "text": message or None,
        "hashtags": hashtags_in(message),
        # Split on whitespace: the toolkit's own split(" ") turns an empty field into [""].
        "urls": (row.get("urls") or "").split(),
        "mentions": mentions_in(message),
        "media_hashes": [],
    }
    records: list[tuple[str, dict[str, Any]]] = [("posts", post)]
    username = text_or_none((row.get("username") or "").strip())
    if username:
        records.append(("accounts", {"account_id": account_id, "screen_name": username, "probed_at": None}))
    return records


@register
class QutReader(Reader):
    name = "qut"
    layout = QUT_COLUMNS
    description = "QUT coordination-network-toolkit CSV (message_id,user_id,username,repost_id,…,urls)"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        header = first_csv_header(head)
        return {"message_id", "user_id", "repost_id", "reply_id", "timestamp"} <= set(header)

    def read(self, source: Source, sink: Sink) -> None:
        header = header_of(source)
        require_columns(source, header, self.name, *((c,) for c in QUT_COLUMNS if c != "urls"))
        for lineno, row, problem in normalized_rows(source):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            try:
                records = _records(row)
            except (ValueError, KeyError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
                continue
            emit(records, sink)
