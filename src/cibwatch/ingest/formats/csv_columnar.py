"""The columnar fast path of the CSV readers: an uncompressed CSV cut into large blocks at line
ends, each parsed by Arrow's multi-threaded CSV parser, for a reader to turn into columns.

It vouches only for blocks that Arrow and the row path (``Source.csv_rows``, Python's csv
module) read alike: every record has the header's number of fields, every field is UTF-8 and
within ``MAX_FIELD_BYTES``, and the block ends outside a quoted field (its last record holds no
line break, else the block grows to the next line end). Any other block is read by the row path
itself, so its quarantine rows keep their reasons and line numbers; where that read shows the
block's end inside a record (an unterminated quote), the rest of the file is read that way.

Not a reader: it registers nothing.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, NamedTuple, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from cibwatch.ingest.source import MAX_CSV_RECORD_LINES, MAX_FIELD_BYTES, Source, compression_of

# Switched off by tests to compare with the row path.
COLUMNAR_FAST_PATH = True
# Bytes parsed at a time: large enough for Arrow's threads, small enough to bound memory.
BLOCK_BYTES = 16 << 20
# A block whose last record spans its end grows up to this many times BLOCK_BYTES; then the row
# path reads the rest of the file.
_MAX_BLOCKS_GROWN = 8
# The characters Python's str.strip() and str.split() treat as whitespace (str.isspace): Rust's
# (polars') whitespace differs from Python's beyond ASCII.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
UNTERMINATED = "unterminated quote"
# The first field of the record of known values put after each block (no quote, comma or line break).
_END_MARK = b"\x1ecibwatch block end\x1e"

Rows = Iterable[tuple[int, dict[str, str], "str | None"]]
T = TypeVar("T")


class Block(NamedTuple, Generic[T]):
    """A block of the file: what ``build`` made of its ``units`` records, or (``built`` None)
    the block's records as the row path reads them (``Source.csv_rows`` items)."""

    built: T | None
    units: int
    rows: Rows


def read_blocks(
    source: Source, header: list[str], build: Callable[[pa.Table], T | None]
) -> Iterator[Block[T]] | None:
    """The file's records, block by block, each built by ``build`` from the block's Arrow table
    (every column a string) when ``build`` accepts it (not None), else as rows. None when the
    file is not for the fast path (compressed, a TSV, a part of a file, an unusual header).

    Records given built are counted in ``source.units_read`` before their block is yielded.

    >>> for block in read_blocks(source, header, lambda t: t.num_rows) or []: ...  # doctest: +SKIP
    """
    if (
        not COLUMNAR_FAST_PATH
        or source.start
        or source.end is not None
        or compression_of(source.path) is not None
        or len(set(header)) != len(header)
        or not all(header)
    ):
        return None
    first = source.head(64 * 1024).split(b"\n", 1)[0]
    if b'"' in first or b"\t" in first or b"\r" in first.rstrip(b"\r") or len(first) == 64 * 1024:
        return None
    return _blocks(source, header, build, len(first) + 1)


def _blocks(
    source: Source, header: list[str], build: Callable[[pa.Table], T | None], start: int
) -> Iterator[Block[T]]:
    line = 1  # lines before the block: the header's
    pos = start
    with source.open_binary() as fh:
        fh.seek(start)
        chunk = b""
        while True:
            more = fh.read(BLOCK_BYTES)
            chunk += more
            at_end = len(more) < BLOCK_BYTES
            if not chunk:
                return
            cut = len(chunk) if at_end else chunk.rfind(b"\n") + 1
            if not cut and len(chunk) <= _MAX_BLOCKS_GROWN * BLOCK_BYTES:
                continue  # a line longer than a block: read on to its end
            if not cut or cut > _MAX_BLOCKS_GROWN * BLOCK_BYTES:  # a huge line or record
                yield Block(None, 0, _rest_by_rows(source, header, pos, line))
                return
            block, chunk = chunk[:cut], chunk[cut:]
            table, grow = _arrow_table(block, header, at_end)
            if grow:
                chunk = block + chunk  # the cut may be inside a quoted field: cut further on
                continue
            lines = _lines_in(block)
            built = build(table) if table is not None and _within_bounds(table, lines) else None
            if built is not None:
                source.units_read += table.num_rows  # type: ignore[union-attr]
                yield Block(built, table.num_rows, ())  # type: ignore[union-attr]
            else:
                rows = _block_by_rows(source, header, block, line, at_end)
                if rows is None:  # the block ends inside a record for the row path
                    yield Block(None, 0, _rest_by_rows(source, header, pos, line))
                    return
                yield Block(None, 0, rows)
            pos += len(block)
            line += lines
            if at_end and not chunk:
                return


def _arrow_table(block: bytes, header: list[str], at_end: bool) -> tuple[pa.Table | None, bool]:
    """The block as a table of strings (None if a record is not plain: a wrong number of fields,
    bytes that are not UTF-8, a quote open at the end of the file), and whether the block must
    grow: the cut is inside a quoted field.

    A last record of known values follows the block: it is read as one only if the block ends
    outside a quoted field (else the open field swallows it), in Arrow's reading and so in the
    row path's, which quote alike."""
    if block.startswith(codecs.BOM_UTF8):  # Arrow would drop it; the row path keeps it in the field
        return None, False
    invalid: list[str] = []

    def skip(row: pa_csv.InvalidRow) -> str:
        invalid.append(row.text)
        return "skip"

    ended = block if block.endswith((b"\n", b"\r")) else block + b"\n"
    try:
        table = pa_csv.read_csv(
            io.BytesIO(ended + _END_MARK + b"," * (len(header) - 1) + b"\n"),
            read_options=pa_csv.ReadOptions(column_names=header, block_size=1 << 20),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None, False  # bytes that are not UTF-8, …
    if not table.num_rows or table.column(0)[-1].as_py() != _END_MARK.decode():
        return None, not at_end  # a quote still open: cut further on, or (at the end) the row path
    return (None if invalid else table.slice(0, table.num_rows - 1)), False


def _within_bounds(table: pa.Table, lines: int) -> bool:
    """No field longer than MAX_FIELD_BYTES, no record over MAX_CSV_RECORD_LINES lines: the row
    path quarantines those."""
    if lines - table.num_rows >= MAX_CSV_RECORD_LINES:
        return False
    return all(
        (pc.max(pc.binary_length(table.column(k))).as_py() or 0) <= MAX_FIELD_BYTES
        for k in table.column_names
    )


def _lines_in(block: bytes) -> int:
    """Lines as the row path counts them (universal newlines: \\n, \\r\\n and a lone \\r)."""
    returns = block.count(b"\r")
    return block.count(b"\n") + (returns - block.count(b"\r\n") if returns else 0)


def _text(data: bytes) -> io.TextIOWrapper:
    # As Source.open_text, but "utf-8": a byte-order mark is skipped at the file's start only.
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape", newline="")


def _block_by_rows(source: Source, header: list[str], block: bytes, line: int, at_end: bool) -> Rows | None:
    """The block's records by the row path; None if the block ends inside one of them."""
    units = source.units_read
    rows = list(source.csv_rows(header, text=_text(block), lines_before=line))
    source.units_read = units  # counted again as they are handed on, each where it is read
    if not at_end and any(problem and problem.startswith(UNTERMINATED) for _, _, problem in rows):
        return None
    return _counted(source, rows)


def _counted(source: Source, rows: list[tuple[int, dict[str, str], str | None]]) -> Rows:
    for row in rows:  # each item of Source.csv_rows is one unit
        source.units_read += 1
        yield row


def _rest_by_rows(source: Source, header: list[str], pos: int, line: int) -> Rows:
    """The records from byte ``pos`` (a record's start, after ``line`` lines) to the end of the file."""
    with open(source.path, "rb") as fh:
        fh.seek(pos)
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
        yield from source.csv_rows(header, text=text, lines_before=line)
