"""The reader interface: sources, the sink readers write to, and the registry.

A reader turns one input file into normalized records. It never raises for a bad
record: it hands the record to ``sink.quarantine`` with the reason, so nothing is
lost silently. Adding a format is one new module that calls ``register``.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import io
import json
import lzma
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol

import orjson

from cibwatch.errors import InputFormatError

SNIFF_BYTES = 256 * 1024
MAX_JSON_VALUE_CHARS = 64 << 20

_MAGIC = {
    b"\x1f\x8b": "gz",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zst",
}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

# A reason with this prefix marks a record a reader keeps aside on purpose (a Bluesky like is not
# a post): quarantined, so it is counted and kept, but not bad input, so --strict does not stop on it.
SKIPPED = "skipped: "


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
    raw: IO[bytes] = io.BufferedReader(counter, buffer_size=1 << 20)
    kind = compression_of(path)
    if kind == "gz":
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw)
    elif kind == "bz2":
        stream = bz2.BZ2File(raw)
    elif kind == "xz":
        stream = lzma.LZMAFile(raw)  # noqa: SIM115 - closed by the caller
    elif kind == "zst":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    else:
        stream = raw
    return io.BufferedReader(stream, buffer_size=1 << 20) if kind else stream, counter  # type: ignore[arg-type]


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
                for line in fh:  # one loop for every line of the largest inputs: kept lean
                    if end is not None and offset >= end:
                        return
                    if not line.isspace():
                        yield line_number, offset, line
                    line_number += 1
                    offset += len(line)
        except _decompression_errors():
            yield line_number, offset, None

    def open_text(self) -> IO[str]:
        # surrogateescape keeps undecodable bytes visible so the reader can quarantine the row.
        return io.TextIOWrapper(
            self.open_binary(), encoding="utf-8-sig", errors="surrogateescape", newline=""
        )

    def csv_rows(self, **kwargs: Any) -> Iterator[tuple[int, dict[str, str], str | None]]:
        """(line number, row as dict, problem or None) for each CSV record."""
        with self.open_text() as fh:
            reader = csv.DictReader(fh, **kwargs)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield reader.line_num, {}, f"CSV error: {exc}"
                    continue
                except _decompression_errors():
                    yield reader.line_num + 1, {}, DAMAGED_STREAM
                    return
                problem = None
                if None in row:
                    problem = f"{len(row[None])} more fields than the header"  # type: ignore[index]
                elif any(v is None for v in row.values()):
                    problem = "fewer fields than the header"
                elif any(has_undecodable(v) for v in row.values()):
                    problem = "undecodable bytes (not UTF-8)"
                yield reader.line_num, row, problem


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
        try:
            yield JsonItem(lineno, offset, loads(line), raw=line)
        except orjson.JSONDecodeError as exc:
            yield JsonItem(lineno, offset, error=f"invalid JSON: {exc}", raw=line)


def _iter_stream(source: Source, *, array: bool) -> Iterator[JsonItem]:
    decoder = json.JSONDecoder()
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

        def refill() -> bool:
            nonlocal buf, pos, offset, eof, counted, damaged
            try:
                more = fh.read(chunk_chars)
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
            except json.JSONDecodeError as exc:
                # Maybe the value is only cut by the buffer: read on, up to a bound.
                if not eof and len(buf) - pos < MAX_JSON_VALUE_CHARS and refill():
                    continue
                # Unparseable: quarantine through the end of this line and resume after it.
                stop = buf.find("\n", pos)
                stop = len(buf) if stop < 0 else stop + 1
                raw = buf[pos:stop].encode("utf-8", "surrogateescape")
                yield JsonItem(line_at(pos), offset + pos, error=f"invalid JSON: {exc.msg}", raw=raw)
                pos = stop
                continue
            raw = buf[pos:end].encode("utf-8", "surrogateescape")
            yield JsonItem(line_at(pos), offset + pos, value, raw=raw)
            pos = end
