"""Twitter15/16 propagation trees (Ma et al. 2017), flattened one edge a row (``twitter15-16``).

Columns: dataset, source_tweet_id, veracity_label, parent_uid, parent_tweet_id,
parent_delay_min, child_uid, child_tweet_id, child_delay_min, child_time_ms_est.

The ROOT row (parent_uid "ROOT") is the source post: an original by child_uid at
child_time_ms_est. Every other row is a repost of the source: ``ref_post_id`` is the source
tweet and ``ref_account_id`` its author (the root's child_uid), not the tree parent, since
a retweet on X always points at the original and co-repost coordination counts the source.
In most rows child_tweet_id repeats the source id (the retweet's own id was not kept), so
such a repost's ``post_id`` is ``t1516:`` + a hash of (source, child_uid, child_time_ms_est):
the same user at the same time in several rows (different tree parents) is one post,
stored once. A child with its own tweet id keeps it.

Rows of a cascade are contiguous; the ROOT row usually comes first, else the cascade's
rows are held until it comes (or the cascade ends, leaving ref_account_id null).
veracity_label (true/false/unverified/non-rumor) is about the story, not the accounts: it
is not a bot label and is not stored. Accounts get the driver's author-only rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.csv_common import header_of, normalized_rows, raw_row, require_columns
from cibwatch.ingest.registry import UNIT_USED, Reader, Sink, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import stable_id, time_ms

REQUIRED = ("source_tweet_id", "parent_uid", "child_uid", "child_tweet_id", "child_time_ms_est")


def _post(row: dict[str, str], root_uid: str | None) -> dict[str, Any]:
    source_id = row["source_tweet_id"].strip()
    child_uid = row["child_uid"].strip()
    child_id = row["child_tweet_id"].strip()
    if not source_id.isdigit() or not child_uid or not child_id.isdigit():
        raise ValueError("bad source_tweet_id, child_uid or child_tweet_id (expected numeric ids)")
    time_text = row["child_time_ms_est"].strip()
    try:
        created = time_ms(round(float(time_text)), time_text)
    except (ValueError, OverflowError):
        raise ValueError(f"bad child_time_ms_est {time_text!r} (expected epoch milliseconds)") from None
    if created < 0:
        raise ValueError(f"bad child_time_ms_est {time_text!r} (negative)")
    if row["parent_uid"].strip() == "ROOT":
        return {"post_id": source_id, "account_id": child_uid, "created_at": created, "kind": "original"}
    post_id = (
        child_id if child_id != source_id else stable_id(source_id, child_uid, str(created), prefix="t1516:")
    )
    return {
        "post_id": post_id,
        "account_id": child_uid,
        "created_at": created,
        "kind": "repost",
        "ref_post_id": source_id,
        "ref_account_id": root_uid,
    }


@register
class Twitter1516Reader(Reader):
    name = "twitter15-16"
    layout = REQUIRED
    description = (
        "Twitter15/16 retweet cascades, one tree edge a row (source_tweet_id, parent_uid, child_uid…)"
    )

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return set(REQUIRED) <= set(first_csv_header(head))

    def read(self, source: Source, sink: Sink) -> None:
        require_columns(source, header_of(source), self.name, *((c,) for c in REQUIRED))
        cascade: tuple[str, str] | None = None
        root_uid: str | None = None
        pending: list[tuple[int, dict[str, str]]] = []  # rows seen before their cascade's ROOT row

        def flush() -> None:
            for pending_line, pending_row in pending:
                self._emit(pending_row, root_uid, pending_line, sink)
            pending.clear()

        for lineno, row, problem in normalized_rows(source):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            key = ((row.get("dataset") or "").strip(), row["source_tweet_id"].strip())
            if key != cascade:
                flush()
                cascade, root_uid = key, None
            if row["parent_uid"].strip() == "ROOT":
                root_uid = row["child_uid"].strip() or None
                self._emit(row, root_uid, lineno, sink)
                flush()
            elif root_uid is None:
                pending.append((lineno, row))
                sink.unit(UNIT_USED)  # its post is emitted once the cascade's root is known
            else:
                self._emit(row, root_uid, lineno, sink)
        flush()

    @staticmethod
    def _emit(row: dict[str, str], root_uid: str | None, lineno: int, sink: Sink) -> None:
        try:
            post = _post(row, root_uid)
        except (ValueError, KeyError) as exc:
            sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
            return
        post.update(text=None, hashtags=[], urls=[], mentions=[], media_hashes=[])
        sink.post(post)
