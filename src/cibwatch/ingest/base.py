"""The reader interface: sources, the sink readers write to, and the registry.

A reader turns one input file into normalized records. It never raises for a bad
record: it hands the record to ``sink.quarantine`` with the reason, so nothing is
lost silently. Adding a format is one new module that calls ``register``.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import functools
import gzip
import io
import json
import lzma
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol

import orjson

from cibwatch.errors import InputFormatError

if TYPE_CHECKING:
    from zstandard import ZstdDecompressionReader

SNIFF_BYTES = 256 * 1024

# Bounds on one input record, so that a hostile record costs that record, never the file or the
# machine's memory (docs/architecture.md, "Hostile input"). What exceeds one is quarantined with
# a reason naming the bound, and reading goes on with the next record.
# A line (JSON Lines, CSV, TSV) longer than this is skipped while streaming, in bounded chunks:
# it is never held whole. Real inputs: twarc2 pages reach ~1 MB a line.
MAX_LINE_BYTES = 32 << 20
# One value of a JSON document (an element of a top-level array) is bounded like a line.
MAX_JSON_VALUE_CHARS = MAX_LINE_BYTES
# A CSV field longer than this (in characters) is refused; also the most ``ast.literal_eval``
# is given (about 100 MB of memory per MiB). Real inputs: 34 KB at most.
MAX_FIELD_BYTES = 1 << 20
# JSON nested deeper than this is refused: below orjson's own limits (1,024 to read, 254 to
# write) and Python's recursion limit, so a kept value can always be written back out.
MAX_DEPTH = 128
# Integers are stored as int64: a number outside this range (a count of 2**70, a 5,000-digit
# integer) makes its record a quarantine row rather than a null, as no value of it is storable.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)

_MAGIC = {
    b"\x1f\x8b": "gz",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zst",
}

csv.field_size_limit(MAX_FIELD_BYTES)

# A reason with this prefix marks a record a reader keeps aside on purpose (a Bluesky like is not
# a post): quarantined, so it is counted and kept, but not bad input, so --strict does not stop on it.
SKIPPED = "skipped: "
# Outcomes of an input unit that hands the sink nothing at the time (see ``Sink.unit``).
UNIT_USED = "used"
UNIT_MERGED = "merged"
UNIT_DUPLICATE = "duplicate"


# Bytes of an overlong line kept in its quarantine row, to show what it was.
PREVIEW_BYTES = 4096


class OverlongLine(bytes):
    """The first ``PREVIEW_BYTES`` of a line longer than ``MAX_LINE_BYTES``, as ``Source.lines``
    yields it in place of the line (skipped unread): readers quarantine it with ``OVERLONG_LINE``."""


OVERLONG_LINE = (
    f"line longer than MAX_LINE_BYTES ({MAX_LINE_BYTES:,} bytes): skipped to the next line unread "
    "(the raw column keeps its first bytes)"
)
TOO_DEEP = f"JSON nested deeper than MAX_DEPTH ({MAX_DEPTH} levels)"
FIELD_TOO_LONG = (
    f"CSV field longer than MAX_FIELD_BYTES ({MAX_FIELD_BYTES:,} characters): the row is "
    "quarantined (the raw column keeps the start of its first line)"
)
OVERLONG_VALUE = (
    f"JSON value longer than MAX_LINE_BYTES ({MAX_LINE_BYTES:,} characters): skipped to the end "
    "of its line (the raw column keeps its first characters)"
)


def _skip_to_next_line(fh: IO[bytes]) -> int:
    """Read ``fh`` past the next newline in bounded chunks; the bytes skipped."""
    skipped = 0
    while True:
        chunk = fh.readline(1 << 20)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def json_too_deep(raw: bytes | str) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects deeper than ``MAX_DEPTH``.

    Cheap for the common case (fewer brackets than the bound: no nesting can exceed it); else
    strings are cut out and innermost bracket pairs removed once a level, all in C.

    >>> json_too_deep(b'{"a": [1, {"b": "[[["}]}'), json_too_deep(b"[" * 200 + b"]" * 200)
    (False, True)
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return False
    outside = b"".join(data.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2])
    brackets = outside.translate(None, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):  # each pass removes the innermost pairs: one level
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def compression_of(path: Path) -> str | None:
    """The compression of ``path`` by its magic bytes (the extension may lie)."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


class _CountingReader(io.RawIOBase):
    """Counts the compressed bytes consumed, for progress bars."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.consumed += n or 0
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_decompressed(path: Path) -> tuple[IO[bytes], _CountingReader]:
    """A binary stream of ``path``'s decompressed bytes, and the counter of raw bytes read."""
    counter = _CountingReader(open(path, "rb"))  # noqa: SIM115 - closed by the caller
    raw = io.BufferedReader(counter, buffer_size=1 << 20)
    kind = compression_of(path)
    if not kind:
        return raw, counter
    stream: io.BufferedIOBase | ZstdDecompressionReader
    if kind == "gz":
        stream = gzip.GzipFile(fileobj=raw)
    elif kind == "bz2":
        stream = bz2.BZ2File(raw)
    elif kind == "xz":
        stream = lzma.LZMAFile(raw)  # noqa: SIM115 - closed by the caller
    elif kind == "zst":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    else:
        stream = raw
    return io.BufferedReader(stream, buffer_size=1 << 20), counter


@dataclass
class Source:
    """One input file, opened lazily and decompressed transparently."""

    path: Path
    dataset: str
    # A byte range of an uncompressed line-oriented file, for parallel ingest; lines() honours it.
    start: int = 0
    end: int | None = None
    first_line: int = 1
    _counter: _CountingReader | None = field(default=None, repr=False)
    # Input units (non-blank lines, CSV data rows, top-level JSON values) parsed so far, counted
    # here where the bytes are parsed, whatever the reader makes of them: the left side of the
    # reconciliation. A sink reads it to tell units apart (see ``Sink.unit``).
    units_read: int = field(default=0, repr=False)

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def bytes_read(self) -> int:
        """Raw (possibly compressed) bytes consumed so far."""
        return self._counter.consumed if self._counter else 0

    def open_binary(self) -> IO[bytes]:
        stream, self._counter = open_decompressed(self.path)
        return stream

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        with open_decompressed(self.path)[0] as fh:
            try:
                return fh.read(n)
            except (OSError, EOFError, lzma.LZMAError, ValueError):
                return b""

    def lines(self) -> Iterator[tuple[int, int, bytes | None]]:
        """(1-based line number, byte offset in the decompressed stream, bytes) of each non-blank
        line; the bytes are None, once, where a compressed stream breaks off (a truncated download)."""
        line_number, offset, end = self.first_line, self.start, self.end
        try:
            with self.open_binary() as fh:
                if offset:
                    fh.seek(offset)
                # One loop for every line of the largest inputs: kept lean. readline's bound
                # keeps a hostile line from being held whole (MAX_LINE_BYTES).
                limit = MAX_LINE_BYTES + 1
                for line in iter(functools.partial(fh.readline, limit), b""):
                    if end is not None and offset >= end:
                        return
                    if len(line) == limit and line[-1] != 10:  # longer than MAX_LINE_BYTES
                        size = len(line) + _skip_to_next_line(fh)
                        self.units_read += 1
                        yield line_number, offset, OverlongLine(line[:PREVIEW_BYTES])
                        line_number += 1
                        offset += size
                        continue
                    if not line.isspace():
                        self.units_read += 1
                        yield line_number, offset, line
                    line_number += 1
                    offset += len(line)
        except _decompression_errors():
            self.units_read += 1  # the unreadable rest of the file: one unit, quarantined
            yield line_number, offset, None

    def open_text(self) -> IO[str]:
        # surrogateescape keeps undecodable bytes visible so the reader can quarantine the row.
        return io.TextIOWrapper(
            self.open_binary(), encoding="utf-8-sig", errors="surrogateescape", newline=""
        )

    def csv_rows(
        self, fieldnames: list[str] | None = None, *, skip_header: bool = False, **kwargs: Any
    ) -> Iterator[tuple[int, dict[str, str], str | None]]:
        """(line number, row as dict, problem or None) for each CSV data record, as
        ``csv.DictReader`` gives them (the first row is the header unless ``fieldnames`` is given;
        ``skip_header`` drops it when it is), each counted in ``units_read``.

        A quoted field whose quote never closes would swallow the rest of the file as one field:
        a record still open at the end of the file, or after ``MAX_CSV_RECORD_LINES`` lines, is
        yielded as an 'unterminated quote' problem with its first line, and reading resumes at
        the line after it, so one stray quote costs one row.
        """
        with self.open_text() as fh:
            lines = _RecordLines(fh)
            reader = csv.reader(lines, **kwargs)
            record = lines.record
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except _RunawayQuote:
                    first, spanned, at_end = record[0], len(record), lines.at_end
                    lines.rewind()
                    self.units_read += 1
                    where = "to the end of the file" if at_end else f"over more than {spanned - 1:,} lines"
                    yield (
                        lines.line,
                        {"": first.rstrip("\r\n")},
                        f"unterminated quote: a quoted field runs from this line {where}; "
                        "the row is quarantined and reading resumes at the next line",
                    )
                    continue
                except _LineTooLong as exc:
                    self.units_read += 1
                    yield lines.line, {"": str(exc.args[0]).rstrip("\r\n")}, OVERLONG_LINE
                    continue
                except csv.Error as exc:
                    if "field limit" in str(exc) and record:  # longer than MAX_FIELD_BYTES
                        first = record[0]
                        lines.rewind()  # lines after the first are read again: one bad field, one row
                        self.units_read += 1
                        yield lines.line, {"": first[:PREVIEW_BYTES].rstrip("\r\n")}, FIELD_TOO_LONG
                        continue
                    record.clear()
                    self.units_read += 1
                    yield lines.line, {}, f"CSV error: {exc}"
                    continue
                except _decompression_errors():
                    self.units_read += 1
                    yield lines.line + 1, {}, DAMAGED_STREAM
                    return
                record.clear()
                if not values:  # a blank line: not a unit
                    continue
                if fieldnames is None:
                    fieldnames = values
                    continue
                if skip_header:
                    skip_header = False
                    continue
                self.units_read += 1
                # As csv.DictReader's rows: extra fields under None (a list), missing ones None.
                row: dict[Any, Any] = dict(zip(fieldnames, values, strict=False))
                problem = None
                if len(values) > len(fieldnames):
                    row[None] = values[len(fieldnames) :]
                    problem = f"{len(values) - len(fieldnames)} more fields than the header"
                elif len(values) < len(fieldnames):
                    row.update(dict.fromkeys(fieldnames[len(values) :]))
                    problem = "fewer fields than the header"
                elif any(has_undecodable(v) for v in values):
                    problem = "undecodable bytes (not UTF-8)"
                yield lines.line, row, problem


# Lines one CSV record may span before its quote counts as unterminated (a tweet's text has a few).
MAX_CSV_RECORD_LINES = 10_000


class _RunawayQuote(Exception):
    """A CSV record still open at the end of the file or after MAX_CSV_RECORD_LINES lines."""


class _OverlongText(str):
    """The first characters of a CSV line longer than MAX_LINE_BYTES, which was skipped."""


class _LineTooLong(Exception):
    """A CSV line longer than MAX_LINE_BYTES; its first characters are the argument."""


class _RecordLines:
    """A text file's lines for ``csv.reader``, keeping those of the record being parsed, so that
    a record whose quote never closes can be given up and its lines read again from the second.
    ``csv.reader`` asks for a further line inside a record only while a quoted field is open."""

    __slots__ = ("_fh", "_readline", "_replay", "at_end", "line", "record")

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        # Bounded: a line longer than MAX_LINE_BYTES (characters here) is never held whole.
        self._readline = functools.partial(fh.readline, MAX_LINE_BYTES + 1)
        self._replay: list[str] = []  # reversed: pop() gives the next line
        self.record: list[str] = []
        self.line = 0  # lines handed to the parser
        self.at_end = False

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        record = self.record
        if len(record) > MAX_CSV_RECORD_LINES:
            raise _RunawayQuote
        if self._replay:
            line = self._replay.pop()
        else:
            line = self._readline()
            if not line:
                self.at_end = True
                if record:
                    raise _RunawayQuote
                raise StopIteration
            if len(line) > MAX_LINE_BYTES and line[-1] not in "\r\n":
                while (rest := self._fh.readline(1 << 20)) and rest[-1] not in "\r\n":
                    pass  # skipped to the end of the line, a bounded chunk at a time
                line = _OverlongText(line[:PREVIEW_BYTES])
        if line.__class__ is _OverlongText:
            if record:  # inside an open quote: give that record up first, then this line
                self._replay.append(line)
                raise _RunawayQuote
            self.line += 1
            raise _LineTooLong(line)
        record.append(line)
        self.line += 1
        return line

    def rewind(self) -> None:
        """Give up the open record: its first line is done, the rest are read again."""
        again = self.record[1:]
        self._replay.extend(reversed(again))
        self.line -= len(again)
        self.record.clear()
        self.at_end = False


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def has_undecodable(text: str) -> bool:
    # isascii() and the regex run in C: this check is on every field of every CSV row.
    return bool(text) and not text.isascii() and _UNDECODABLE.search(text) is not None


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


def _safe_sniff(cls: type[Reader], head: bytes, path: Path) -> bool:
    try:
        return bool(cls.sniff(head, path))
    except Exception:
        return False


def describe_formats() -> str:
    return "; ".join(f"{n} ({c.description})" for n, c in sorted(readers().items()))


def first_csv_header(head: bytes) -> list[str]:
    """The header fields of a CSV/TSV whose first bytes are ``head`` (lower-cased, stripped)."""
    text = head.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0].rstrip("\r")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        fields = next(csv.reader([first], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []
    return [f.strip().strip('"').lower() for f in fields]


ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(slots=True)  # one per line of a large file: slots make it cheaper to build
class JsonItem:
    """One top-level JSON value of a source, or the reason it could not be parsed."""

    line: int
    byte_offset: int
    value: Any = None
    error: str | None = None
    raw: bytes = b""


_WS = b" \t\r\n"


def iter_json(source: Source) -> Iterator[JsonItem]:
    """Every top-level JSON value of ``source``: JSON Lines, a JSON array, or concatenated documents.

    JSON Lines is the fast path (one ``orjson.loads`` a line). A top-level array is streamed
    element by element; pretty-printed documents are decoded incrementally. A bad line or
    element is yielded with ``error`` set, and reading resumes at the next line.
    """
    if _starts_array(source):
        yield from _iter_stream(source, array=True)
    elif source.start > 0 or is_json_lines(source):
        yield from _iter_lines(source)
    else:
        yield from _iter_stream(source, array=False)


def raw_json_lines(source: Source) -> Iterator[tuple[int, int, bytes | None]] | None:
    """The non-blank lines of a JSON Lines source, undecoded, for readers with a typed decoder:
    (line, byte offset, bytes), the bytes None where a compressed stream broke off. None if the
    source is not JSON Lines (read it with ``iter_json``)."""
    if _starts_array(source) or not (source.start > 0 or is_json_lines(source)):
        return None
    return source.lines()


def _starts_array(source: Source) -> bool:
    return source.head(SNIFF_BYTES).lstrip(_WS + b"\xef\xbb\xbf").startswith(b"[")


def is_json_lines(source: Source) -> bool:
    """Whether the first line of ``source`` is a whole JSON value (JSON Lines, not a document)."""
    head = source.head(SNIFF_BYTES).lstrip(_WS + b"\xef\xbb\xbf")
    if head.startswith(b"["):
        return False
    first = head.split(b"\n", 1)[0].strip()
    if b"\n" not in head:  # a first line longer than the head (a twarc2 page): read all of it
        with (
            contextlib.suppress(OSError, EOFError, lzma.LZMAError, ValueError),
            open_decompressed(source.path)[0] as fh,
        ):
            first = fh.readline(MAX_JSON_VALUE_CHARS).strip()
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        # A damaged first record still looks like one object on one line.
        return len(first) > 1 and first.startswith(b"{") and first.endswith(b"}")
    return True


DAMAGED_STREAM = "damaged compressed stream (a truncated download?): the rest of the file could not be read"


def _decompression_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, lzma.LZMAError)
    with contextlib.suppress(ImportError):
        import zstandard

        errors += (zstandard.ZstdError,)
    return errors


def _iter_lines(source: Source) -> Iterator[JsonItem]:
    loads = orjson.loads
    for lineno, offset, line in source.lines():
        if line is None:  # the compressed stream broke off: say so, for the rest of the file
            yield JsonItem(lineno, offset, error=DAMAGED_STREAM)
            return
        if isinstance(line, OverlongLine):
            yield JsonItem(lineno, offset, error=OVERLONG_LINE, raw=line)
            continue
        try:
            value = loads(line)
        except orjson.JSONDecodeError as exc:
            reason = TOO_DEEP if "recursion" in str(exc) or "depth" in str(exc) else f"invalid JSON: {exc}"
            yield JsonItem(lineno, offset, error=reason, raw=line)
            continue
        if json_too_deep(line):
            yield JsonItem(lineno, offset, error=TOO_DEEP, raw=line)
            continue
        yield JsonItem(lineno, offset, value, raw=line)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _iter_stream(source: Source, *, array: bool) -> Iterator[JsonItem]:
    decoder = json.JSONDecoder(parse_constant=_refuse_constant)  # NaN, Infinity: not JSON
    chunk_chars = 1 << 20
    with io.TextIOWrapper(source.open_binary(), encoding="utf-8-sig", errors="surrogateescape") as fh:
        buf = ""
        pos = 0
        line = 1  # line number at buf[counted]
        counted = 0
        offset = 0  # characters before buf[0]: the byte offset for ASCII text
        eof = False
        started = not array

        def line_at(p: int) -> int:
            nonlocal line, counted
            line += buf.count("\n", counted, p)
            counted = p
            return line

        damaged = False

        def refill(size: int = chunk_chars) -> bool:
            nonlocal buf, pos, offset, eof, counted, damaged
            try:
                more = fh.read(max(size, chunk_chars))
            except _decompression_errors():
                more, damaged = "", True
            if not more:
                eof = True
                return False
            line_at(pos)
            offset += pos
            buf = buf[pos:] + more
            pos = counted = 0
            return True

        while True:
            while True:  # skip separators between values
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buf) or not refill():
                    break
            if pos >= len(buf):
                if damaged:
                    source.units_read += 1
                    yield JsonItem(line_at(pos), offset + pos, error=DAMAGED_STREAM)
                return
            if not started and buf[pos] == "[":
                started = True
                pos += 1
                continue
            if array and buf[pos] == "]":
                pos += 1
                array = False  # anything after is a further top-level document
                continue
            try:
                value, end = decoder.raw_decode(buf, pos)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
                too_long = len(buf) - pos >= MAX_JSON_VALUE_CHARS
                # Maybe the value is only cut by the buffer: read on (doubling), up to a bound.
                cut = isinstance(exc, json.JSONDecodeError) and not eof and not too_long
                if cut and refill(len(buf) - pos):
                    continue
                if isinstance(exc, RecursionError):
                    reason = TOO_DEEP
                elif too_long:
                    reason = OVERLONG_VALUE
                elif isinstance(exc, json.JSONDecodeError):
                    reason = f"invalid JSON: {exc.msg}"
                else:  # an integer of more digits than Python converts, NaN, Infinity
                    reason = f"invalid JSON: number out of range ({exc})"
                # Unparseable: quarantine through the end of this line and resume after it.
                at_line, at_offset = line_at(pos), offset + pos
                stop = buf.find("\n", pos)
                stop = len(buf) if stop < 0 else stop + 1
                shown_end = min(stop, pos + PREVIEW_BYTES) if too_long else stop
                raw = buf[pos:shown_end].encode("utf-8", "surrogateescape")
                if too_long and stop == len(buf):  # the line goes on: skip to its end, chunk by chunk
                    pos = len(buf)
                    while refill():
                        newline = buf.find("\n")
                        if newline >= 0:
                            stop = newline + 1
                            break
                        pos = len(buf)
                    else:
                        stop = len(buf)
                source.units_read += 1
                yield JsonItem(at_line, at_offset, error=reason, raw=raw)
                pos = stop
                continue
            raw = buf[pos:end].encode("utf-8", "surrogateescape")
            source.units_read += 1
            if json_too_deep(raw):
                yield JsonItem(line_at(pos), offset + pos, error=TOO_DEEP, raw=raw)
            else:
                yield JsonItem(line_at(pos), offset + pos, value, raw=raw)
            pos = end
