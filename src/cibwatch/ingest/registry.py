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
        raise InputFormatError(
            f"Can't tell the format of {source.name}; pass --format "
            f"{'|'.join(sorted(readers()))} (expected one of: {describe_formats()})"
        )
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


def describe_formats() -> str:
    return "; ".join(f"{n} ({c.description})" for n, c in sorted(readers().items()))
