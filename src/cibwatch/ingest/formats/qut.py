"""The QUT coordination-network-toolkit's CSV input (``qut``).

Columns, in the toolkit's order: message_id, user_id, username, repost_id, reply_id,
message, timestamp (seconds, float), urls (space-separated). A repost_id makes the row a
repost of that message, else a reply_id a reply. The toolkit allows any consistent
offset for timestamps; cibwatch reads them as Unix epoch seconds.

Each row also yields a minimal account snapshot (screen_name from username, probed_at
null), so flagged accounts show a name; identical ones collapse in the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from cibwatch.ingest.formats.csv_columnar import PYTHON_WHITESPACE, read_blocks
from cibwatch.ingest.formats.csv_common import (
    header_of,
    normalized_rows,
    raw_row,
    require_columns,
)
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.sink import account_record, profile_fingerprint
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import (
    HASHTAG_PATTERN,
    MAX_TIME_MS,
    MENTION_PATTERN,
    hashtags_in,
    mentions_in,
    parse_date_ms,
    text_or_none,
)

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
_NAMES_KEPT = 1_000_000  # accounts whose last username the fast path remembers
# Posts columns the fast path builds; the rest of ``schema.POST_ROW`` is null or empty.
_ID_COLUMNS = ("message_id", "user_id", "username", "repost_id", "reply_id", "timestamp")
_WHITESPACE = list(PYTHON_WHITESPACE)


def _ascii_word(pattern: str) -> str:
    """``pattern`` with \\w spelled in ASCII: the same matches in an ASCII text, and far cheaper for
    Rust's regex engine than the Unicode class (\\w{1,30} above all)."""
    return pattern.replace(r"[^\w", "[^0-9A-Za-z_").replace(r"\w", "[0-9A-Za-z_]")


_ASCII_HASHTAG, _ASCII_MENTION = _ascii_word(HASHTAG_PATTERN), _ascii_word(MENTION_PATTERN)
# Every non-ASCII character Python's \w matches (str.isalnum) is in this class (a test checks it).
_NON_ASCII_WORD = r"[\p{L}\p{N}&&[^\x00-\x7F]]"
# Timestamps the fast path reads (epoch seconds or ms, as parse_date_ms does); others: the row path.
_EPOCH = r"^[0-9]{1,15}(?:\.[0-9]{1,9})?$"
_NO_NAMES = ["NULL", "NA"]  # text_or_none's nulls (upper-cased)


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
        snapshots = _Snapshots(sink, self.platform)
        try:
            # The columnar path needs a sink that takes Arrow columns (the staging sink does).
            blocks = read_blocks(source, header, self._columns) if hasattr(sink, "post_batch") else None
            if blocks is None:
                self._read_rows(normalized_rows(source), sink, snapshots)
                return
            for block in blocks:
                if block.built is None:
                    self._read_rows(block.rows, sink, snapshots)
                    continue
                posts, names = block.built
                sink.post_batch(posts, block.units)  # type: ignore[attr-defined]
                snapshots.add_columns(names)
        finally:
            sink.duplicate("accounts", snapshots.unchanged)

    def _read_rows(
        self, rows: Iterable[tuple[int, dict[str, str], str | None]], sink: Sink, snapshots: _Snapshots
    ) -> None:
        """The row path: one post (or quarantine row) and snapshot a CSV record."""
        platform = self.platform
        for lineno, row, problem in rows:
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
            if username:
                snapshots.add(post[1], username)

    def _columns(self, table: pa.Table) -> tuple[pa.Table, pl.DataFrame] | None:
        """A block's posts in ``schema.POST_ROW`` order and its (account_id, username) pairs in
        file order, exactly as ``_post_row`` and the row path make them; None for a block with
        any record the row path would quarantine or read otherwise (it reads that block)."""
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        if "urls" not in frame.columns:
            frame = frame.with_columns(urls=pl.lit(""))
        message, urls = pl.col("message"), pl.col("urls")
        unusual = pl.any_horizontal(
            pl.col("message_id") == "",
            pl.col("user_id") == "",
            ~pl.col("timestamp").str.contains(_EPOCH),
            # Values the row path strips: the fast path takes none (Python's whitespace, not Rust's).
            *(pl.col(c).str.head(1).is_in(_WHITESPACE) for c in _ID_COLUMNS),
            *(pl.col(c).str.tail(1).is_in(_WHITESPACE) for c in _ID_COLUMNS),
            urls.str.contains(f"[{PYTHON_WHITESPACE.replace(' ', '')}]"),  # split on spaces only
        )
        if frame.select(unusual.any()).item():
            return None
        number = frame["timestamp"].cast(pl.Float64).to_numpy()
        if number.max(initial=0) > MAX_TIME_MS:
            return None
        # epoch_ms: above 1e11 the number is ms already (truncated), else seconds rounded half to even.
        created = np.where(number > 1e11, np.trunc(number), np.rint(number * 1000.0)).astype(np.int64)
        repost, reply = pl.col("repost_id"), pl.col("reply_id")
        # Tags and handles by the values module's patterns, \w spelled in ASCII, in Rust: exact
        # where every non-ASCII character is a non-word one for Python (emoji, punctuation);
        # texts with a non-ASCII letter or digit and a '#' or an '@' go to hashtags_in/mentions_in.
        plain_text = ~message.str.contains(_NON_ASCII_WORD)
        found = frame.select(
            pl.when(repost != "")
            .then(pl.lit("repost"))
            .when(reply != "")
            .then(pl.lit("reply"))
            .otherwise(pl.lit("original"))
            .alias("kind"),
            pl.when(repost != "").then(repost).when(reply != "").then(reply).alias("ref_post_id"),
            pl.when(message != "").then(message).alias("text"),
            _found(message, "#", _ASCII_HASHTAG).alias("hashtags"),
            urls.str.split(" ").list.eval(pl.element().filter(pl.element() != "")).alias("urls"),
            _found(message, "@", _ASCII_MENTION).alias("mentions"),
            (~plain_text & message.str.contains("#", literal=True)).alias("python_tags"),
            (~plain_text & message.str.contains("@", literal=True)).alias("python_handles"),
        )
        n = frame.height
        for flag, column, find in (
            ("python_tags", "hashtags", hashtags_in),
            ("python_handles", "mentions", mentions_in),
        ):
            at = found[flag].arg_true().to_list()
            if at:
                values: list[list[str] | None] = [None] * n
                for i, text in zip(at, frame["message"].gather(at).to_list(), strict=True):
                    values[i] = find(text)
                by_python = pl.Series(pa.array(values, pa.list_(pa.string())))  # Arrow builds it in C
                found = found.with_columns(
                    pl.when(pl.col(flag)).then(by_python).otherwise(pl.col(column)).alias(column)
                )
        empty = pa.ListArray.from_arrays(np.zeros(n + 1, dtype=np.int32), pa.array([], pa.string()))
        posts = pa.table(
            {
                "post_id": frame["message_id"].to_arrow(),
                "account_id": frame["user_id"].to_arrow(),
                "created_at": pa.array(created),
                "kind": found["kind"].to_arrow(),
                "ref_post_id": found["ref_post_id"].to_arrow(),
                "ref_account_id": pa.nulls(n, pa.string()),
                "text": found["text"].to_arrow(),
                "lang": pa.nulls(n, pa.string()),
                "source_app": pa.nulls(n, pa.string()),
                "hashtags": found["hashtags"].to_arrow(),
                "urls": found["urls"].to_arrow(),
                "mentions": found["mentions"].to_arrow(),
                "media_hashes": empty,
                "platform": pa.repeat(self.platform, n),
                "dataset": pa.nulls(n, pa.string()),
            }
        )
        username = pl.col("username")
        names = frame.select(account_id="user_id", username="username").filter(
            (username != "") & ~username.str.to_uppercase().is_in(_NO_NAMES)
        )
        return posts, names


def _found(message: pl.Expr, mark: str, pattern: str) -> pl.Expr:
    """hashtags_in / mentions_in of texts whose only word characters are ASCII (those with
    ``mark``; the others: empty). A match is a character or none, ``mark``, then the tag or
    handle (word characters): the group is what follows the match's last ``mark``."""
    items = message.str.extract_all(pattern).list.eval(
        pl.element().str.split(mark).list.last().str.to_lowercase()
    )
    return (
        pl.when(message.str.contains(mark, literal=True))
        .then(items)
        .otherwise(pl.lit([], pl.List(pl.String)))
    )


class _Snapshots:
    """The reader's minimal account snapshots (account, username), each handed to the sink
    unless it repeats the account's last one in the run (then counted as a duplicate)."""

    def __init__(self, sink: Sink, platform: str) -> None:
        self.sink, self.platform = sink, platform
        # A snapshot (account, username) to its fingerprint: most rows repeat their author's.
        self.fingerprints: dict[tuple[str, str], int] = {}
        self.unchanged = 0  # snapshots known to repeat the account's last one, counted at the end
        # The last username given for each account in this file (the sink's last snapshot of it).
        self.last_name: dict[str, str] = {}

    def add(self, account_id: str, username: str) -> None:
        if len(self.last_name) >= _NAMES_KEPT:
            self.last_name.clear()  # then add_columns asks the sink again, as the row path does
        self.last_name[account_id] = username
        fingerprint = self.fingerprints.get((account_id, username))
        if fingerprint is not None and self.sink.profile_unchanged(self.platform, account_id, fingerprint):
            self.unchanged += 1
            return
        record = account_record(self.platform, account_id=account_id, screen_name=username)
        if fingerprint is None:
            fingerprint = profile_fingerprint(record)
            if len(self.fingerprints) >= _PROFILES_KEPT:
                self.fingerprints.clear()
            self.fingerprints[account_id, username] = fingerprint
        record["_fingerprint"] = fingerprint
        self.sink.account(record)

    def add_columns(self, names: pl.DataFrame) -> None:
        """``add`` for each (account_id, username) row in order, looking one by one only at
        those that may differ from the account's last snapshot: a row repeating its account's
        previous one in ``names``, or the name last given for it, repeats that snapshot."""
        account, username = pl.col("account_id"), pl.col("username")
        if names.n_unique(["account_id", "username"]) == names["account_id"].n_unique():
            changed = names.unique("account_id", keep="first", maintain_order=True)  # one name each
        else:
            changed = names.filter(username.shift(1).over(account).ne_missing(username))
        self.unchanged += names.height - changed.height
        last_name = self.last_name
        for account_id, name in zip(
            changed["account_id"].to_list(), changed["username"].to_list(), strict=True
        ):
            if last_name.get(account_id) == name:
                self.unchanged += 1
            else:
                self.add(account_id, name)
