"""The reader interface: the sink readers write to, the ``Reader`` base, the registry and sniffing.

A reader turns one input file into normalized records. It never raises for a bad
record: it hands the record to ``sink.quarantine`` with the reason, so nothing is
lost silently. Adding a format is one new module that calls ``register``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, ClassVar, Protocol

from cibwatch.errors import InputFormatError
from cibwatch.ingest.mapping import columns_of, suggested_map
from cibwatch.ingest.source import Source

# A reason with this prefix marks a record a reader keeps aside on purpose (a Bluesky like is not
# a post): quarantined, so it is counted and kept, but not bad input, so --strict does not stop on it.
SKIPPED = "skipped: "
# Outcomes of an input unit that hands the sink nothing at the time (see ``Sink.unit``).
UNIT_USED = "used"
UNIT_MERGED = "merged"
UNIT_DUPLICATE = "duplicate"


class Sink(Protocol):
    """Where a reader puts what it read. Fields follow ``cibwatch.schema``."""

    def post(self, record: dict[str, Any]) -> None: ...

    def post_rows(self, rows: list[tuple[Any, ...]], line: int | None) -> None:
        """Posts as tuples of the values of ``schema.POST_ROW``, all from source line ``line``."""

    def account(self, record: dict[str, Any]) -> None:
        """A profile snapshot. ``raw`` may be a dict or bytes (serialized only if kept); an int
        ``_fingerprint`` (e.g. a hash of the raw bytes) stands for the values in dedupe."""

    def profile_unchanged(self, platform: str, account_id: str, fingerprint: int) -> bool:
        """Whether the last snapshot of this account in the run had this fingerprint."""
        ...

    def duplicate(self, table: str, n: int = 1) -> None:
        """Count ``n`` records read and known to be duplicates without building them."""

    def unit(self, outcome: str) -> None:
        """Name the outcome of the input unit being read (``Source.units_read``) when it hands the
        sink nothing now: ``UNIT_USED`` (its record is written later, e.g. once merged),
        ``UNIT_MERGED`` (its values went into another unit's record), ``UNIT_DUPLICATE`` (an exact
        copy of an earlier unit). A unit that gives records or quarantines needs no call; one that
        gets no outcome at all breaks the reconciliation."""

    def label(self, record: dict[str, Any]) -> None: ...

    def quarantine(
        self,
        reason: str,
        raw: str | bytes | None,
        line: int | None = None,
        byte_offset: int | None = None,
    ) -> None: ...


class Reader:
    """Base of every reader. Subclasses set the class attributes and implement ``read``."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    # A reader for a variant of a format another reader detects (say, without its labels) is
    # chosen with --format only; ``covered_by`` names the reader that auto-detection picks.
    covered_by: ClassVar[str | None] = None
    platform: ClassVar[str] = "twitter"
    description: ClassVar[str] = ""
    # Columns a table of this format has (CSV readers; "a|b" for either): a refusal names the
    # closest layouts by them.
    layout: ClassVar[tuple[str, ...]] = ()
    # What a reader was made with by ``configure`` (the mapped reader's column map), as plain
    # data: it crosses to worker processes with the reader's name.
    settings: ClassVar[dict[str, Any]] = {}

    @classmethod
    def configure(cls, settings: dict[str, Any]) -> type[Reader]:
        """This reader made with ``settings`` (no settings: the reader itself)."""
        if not settings:
            return cls
        return type(cls.__name__, (cls,), {"settings": settings, **cls.settings_attributes(settings)})

    @classmethod
    def settings_attributes(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """Class attributes ``settings`` set (e.g. the platform), for ``configure``."""
        return {}

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        """Whether the decompressed first bytes look like this format."""
        raise NotImplementedError

    def read(self, source: Source, sink: Sink) -> None:
        raise NotImplementedError

    @classmethod
    def tag(cls) -> str:
        return f"{cls.name}@{cls.version}"

    @classmethod
    def splittable(cls, source: Source) -> bool:
        """Whether ``source`` can be read as independent byte ranges of whole lines (parallel ingest)."""
        return False


def emit(records: list[tuple[str, Any]], sink: Sink, line: int | None = None) -> None:
    """Hand (table, record) pairs to the sink, once all of a source record parsed.

    ``("duplicate", table)`` counts a record already known to be a duplicate. ``line``: the
    source line, kept on each record so that one Arrow later refuses is quarantined with it.
    """
    for table, record in records:
        if table == "duplicate":
            sink.duplicate(record)
            continue
        if line is not None:
            record["_line"] = line
        if table == "posts":
            sink.post(record)
        elif table == "accounts":
            sink.account(record)
        else:
            sink.label(record)


_REGISTRY: dict[str, type[Reader]] = {}


def register(cls: type[Reader]) -> type[Reader]:
    """Class decorator: make a reader known to ``--format`` and to sniffing."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two readers are called {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def readers() -> dict[str, type[Reader]]:
    from cibwatch.ingest import formats  # noqa: F401 - registers the built-in readers

    return dict(_REGISTRY)


def get_reader(name: str) -> type[Reader]:
    known = readers()
    if name not in known:
        raise InputFormatError(f"Unknown format {name!r}; pass --format auto|{'|'.join(sorted(known))}")
    return known[name]


def sniff_format(source: Source) -> type[Reader]:
    """The one reader whose ``sniff`` accepts the file, or a clear error."""
    head = source.head()
    if not head.strip():
        raise InputFormatError(f"{source.name} is empty (after decompression); nothing to read")
    matches = [cls for cls in readers().values() if _safe_sniff(cls, head, source.path)]
    if not matches:
        raise InputFormatError(refusal(source.name, columns_of(head, source.path)))
    if len(matches) > 1:
        names = ", ".join(sorted(c.name for c in matches))
        raise InputFormatError(f"{source.name} could be any of {names}; pass --format NAME to choose")
    return matches[0]


# What a sniff may raise on bytes of another format: decoding (UnicodeDecodeError and the JSON
# decoders' errors are ValueErrors), CSV parsing, deep nesting, or the reader refusing outright.
# Anything else is a bug in the reader and propagates.
_NOT_THIS_FORMAT = (ValueError, csv.Error, RecursionError, InputFormatError)


def _safe_sniff(cls: type[Reader], head: bytes, path: Path) -> bool:
    try:
        return bool(cls.sniff(head, path))
    except _NOT_THIS_FORMAT:
        return False


def refusal(name: str, columns: list[str]) -> str:
    """Why a file's format cannot be told, in a few lines: the columns seen, the known layouts
    closest to them and what they miss, and a ``--map`` line to edit.

    >>> print(refusal("x.csv", ["tweetid", "user_screen_name", "tweet_time"]).splitlines()[-1])
      --map account=user_screen_name,time=tweet_time,post=tweetid
    """
    seen = set(columns)
    if not columns:
        return (
            f"Can't tell the format of {name}: it shows no header or JSON object keys. "
            "Run `cibwatch formats` for the formats cibwatch reads, and pass --format NAME."
        )
    shown_columns = ", ".join(columns[:25]) + (f" … ({len(columns)} in all)" if len(columns) > 25 else "")

    def has(column: str) -> bool:  # "author|author_id": either
        return any(name in seen for name in column.split("|"))

    scored = sorted(
        ((sum(map(has, c.layout)) / len(c.layout), n, c) for n, c in readers().items() if c.layout),
        key=lambda t: (-t[0], t[1]),
    )
    closest = [
        f"{n} (misses {', '.join(col.replace('|', ' or ') for col in c.layout if not has(col))})"
        for share, n, c in scored[:3]
        if share > 0
    ]
    lines = [f"Can't tell the format of {name}.", f"  columns seen: {shown_columns}"]
    if closest:
        lines.append(f"  closest known layouts: {'; '.join(closest)}")
    lines.append(
        "  To read it as is, name its columns: add this (edit as needed; `cibwatch formats --explain "
        f"{name} --map …` previews, `cibwatch formats` lists the known formats)"
    )
    lines.append(f"  --map {suggested_map(columns)}")
    return "\n".join(lines)


def describe_formats() -> str:
    return "; ".join(f"{n} ({c.description})" for n, c in sorted(readers().items()))
