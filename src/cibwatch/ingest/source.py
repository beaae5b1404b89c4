"""Input files: transparent decompression, the ``Source`` a reader reads, and bounded line and
CSV iteration.

A hostile record costs that record, never the file or the machine's memory: lines and CSV
fields past their bounds are yielded as problems for the reader to quarantine, and a damaged
compressed stream ends the file with one unit that says so.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import functools
import gzip
import io
import lzma
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zstandard import ZstdDecompressionReader

SNIFF_BYTES = 256 * 1024

# Bounds on one input record, so that a hostile record costs that record, never the file or the
# machine's memory (docs/guarantees.md, "Hostile input"). What exceeds one is quarantined with
# a reason naming the bound, and reading goes on with the next record. The JSON bounds are in
# ``jsonstream``, the integer range in ``values``.
# A line (JSON Lines, CSV, TSV) longer than this is skipped while streaming, in bounded chunks:
# it is never held whole. Real inputs: twarc2 pages reach ~1 MB a line.
MAX_LINE_BYTES = 32 << 20
# A CSV field longer than this (in characters) is refused; also the most ``ast.literal_eval``
# is given (about 100 MB of memory per MiB). Real inputs: 34 KB at most.
MAX_FIELD_BYTES = 1 << 20

_MAGIC = {
    b"\x1f\x8b": "gz",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zst",
}

csv.field_size_limit(MAX_FIELD_BYTES)


# Bytes of an overlong line kept in its quarantine row, to show what it was.
PREVIEW_BYTES = 4096


class OverlongLine(bytes):
    """The first ``PREVIEW_BYTES`` of a line longer than ``MAX_LINE_BYTES``, as ``Source.lines``
    yields it in place of the line (skipped unread): readers quarantine it with ``OVERLONG_LINE``."""


OVERLONG_LINE = (
    f"line longer than MAX_LINE_BYTES ({MAX_LINE_BYTES:,} bytes): skipped to the next line unread "
    "(the raw column keeps its first bytes)"
)
FIELD_TOO_LONG = (
    f"CSV field longer than MAX_FIELD_BYTES ({MAX_FIELD_BYTES:,} characters): the row is "
    "quarantined (the raw column keeps the start of its first line)"
)

DAMAGED_STREAM = "damaged compressed stream (a truncated download?): the rest of the file could not be read"


def _skip_to_next_line(fh: IO[bytes]) -> int:
    """Read ``fh`` past the next newline in bounded chunks; the bytes skipped."""
    skipped = 0
    while True:
        chunk = fh.readline(1 << 20)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


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
        except decompression_errors():
            self.units_read += 1  # the unreadable rest of the file: one unit, quarantined
            yield line_number, offset, None

    def open_text(self) -> IO[str]:
        # surrogateescape keeps undecodable bytes visible so the reader can quarantine the row.
        return io.TextIOWrapper(
            self.open_binary(), encoding="utf-8-sig", errors="surrogateescape", newline=""
        )

    def csv_rows(
        self,
        fieldnames: list[str] | None = None,
        *,
        skip_header: bool = False,
        text: IO[str] | None = None,
        lines_before: int = 0,
        **kwargs: Any,
    ) -> Iterator[tuple[int, dict[str, str], str | None]]:
        """(line number, row as dict, problem or None) for each CSV data record, as
        ``csv.DictReader`` gives them (the first row is the header unless ``fieldnames`` is given;
        ``skip_header`` drops it when it is), each counted in ``units_read``.

        ``text`` reads a piece of the file instead (a columnar reader's batch, which starts at a
        record boundary after ``lines_before`` lines), numbered as in the whole file.

        A quoted field whose quote never closes would swallow the rest of the file as one field:
        a record still open at the end of the file, or after ``MAX_CSV_RECORD_LINES`` lines, is
        yielded as an 'unterminated quote' problem with its first line, and reading resumes at
        the line after it, so one stray quote costs one row.
        """
        with self.open_text() if text is None else contextlib.nullcontext(text) as fh:
            lines = _RecordLines(fh, lines_before)
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
                except decompression_errors():
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
                elif has_undecodable("".join(values)):  # one check a row: any field has them
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

    def __init__(self, fh: IO[str], lines_before: int = 0) -> None:
        self._fh = fh
        # Bounded: a line longer than MAX_LINE_BYTES (characters here) is never held whole.
        self._readline = functools.partial(fh.readline, MAX_LINE_BYTES + 1)
        self._replay: list[str] = []  # reversed: pop() gives the next line
        self.record: list[str] = []
        self.line = lines_before  # lines handed to the parser (and those before the piece read)
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


def first_csv_header(head: bytes) -> list[str]:
    """The header fields of a CSV/TSV whose first bytes are ``head`` (lower-cased, stripped)."""
    return list(_first_csv_header(head))


# Sniffing asks once per reader for the same head: a JSON page's first 256 KB parsed as one CSV
# line cost a tenth of a second each time.
@functools.lru_cache(maxsize=4)
def _first_csv_header(head: bytes) -> tuple[str, ...]:
    text = head.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0].rstrip("\r")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        fields = next(csv.reader([first], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return ()
    return tuple(f.strip().strip('"').lower() for f in fields)


def decompression_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged compressed stream raises (``DAMAGED_STREAM``)."""
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, lzma.LZMAError)
    with contextlib.suppress(ImportError):
        import zstandard

        errors += (zstandard.ZstdError,)
    return errors


def dataset_name(path: Path) -> str:
    """'ira/tweets_2016.csv.xz' -> 'tweets_2016'."""
    name = path.name
    for ext in (
        ".gz",
        ".bz2",
        ".xz",
        ".zst",
        ".json",
        ".jsonl",
        ".ndjson",
        ".csv",
        ".tsv",
        ".txt",
        ".dat",
    ):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name or path.name
