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
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.sink import profile_fingerprint
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import hashtags_in, mentions_in, parse_date_ms, text_or_none

QUT_COLUMNS = ("message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls")


def _post_row(row: dict[str, str], platform: str) -> tuple[Any, ...]:
    """The row's post in ``schema.POST_ROW`` order. Raises ValueError or KeyError on a bad row."""
    post_id = row["message_id"].strip()
    account_id = row["user_id"].strip()
    if not post_id or not account_id:
        raise ValueError("empty message_id or user_id")
    repost = (row.get("repost_id") or "").strip()
    reply = (row.get("reply_id") or "").strip()
    kind, ref = ("repost", repost) if repost else ("reply", reply) if reply else ("original", None)
    message = row.get("message") or ""
    created = parse_date_ms(row["timestamp"].strip())
    return (
        post_id,
        account_id,
        created,
        kind,
        ref,
        None,  # ref_account_id
        message or None,
        None,  # lang
        None,  # source_app
        hashtags_in(message) if "#" in message else _EMPTY,  # the patterns need a '#' or an '@'
        # Split on whitespace: the toolkit's own split(" ") turns an empty field into [""].
        (row.get("urls") or "").split(),
        mentions_in(message) if "@" in message else _EMPTY,
        _EMPTY,  # media_hashes
        platform,
        None,  # dataset: the source's
    )


_EMPTY = ()  # one shared empty list value
_PROFILES_KEPT = 100_000  # (account, username) fingerprints remembered: bounds memory


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
        platform = self.platform
        # A snapshot (account, username) to its fingerprint: most rows repeat their author's.
        fingerprints: dict[tuple[str, str], int] = {}
        unchanged = 0  # snapshots known to repeat the account's last one, counted at the end
        try:
            for lineno, row, problem in normalized_rows(source):
                if problem:
                    sink.quarantine(problem, raw_row(row), lineno)
                    continue
                try:
                    post = _post_row(row, platform)
                except (ValueError, KeyError) as exc:
                    sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
                    continue
                sink.post_rows([post], None)
                username = text_or_none((row.get("username") or "").strip())
                if not username:
                    continue
                account_id = post[1]
                fingerprint = fingerprints.get((account_id, username))
                if fingerprint is None:
                    snapshot = {"account_id": account_id, "screen_name": username, "probed_at": None}
                    fingerprint = profile_fingerprint({**snapshot, "platform": platform})
                    if len(fingerprints) >= _PROFILES_KEPT:
                        fingerprints.clear()
                    fingerprints[account_id, username] = fingerprint
                elif sink.profile_unchanged(platform, account_id, fingerprint):
                    unchanged += 1
                    continue
                sink.account(
                    {
                        "account_id": account_id,
                        "screen_name": username,
                        "probed_at": None,
                        "_fingerprint": fingerprint,
                    }
                )
        finally:
            sink.duplicate("accounts", unchanged)
