"""Every top-level JSON value of a source: JSON Lines (one ``orjson.loads`` a line), a top-level
array streamed element by element, or concatenated pretty-printed documents decoded incrementally.

A bad line or value is yielded with its reason and reading resumes after it; a value nested deeper
than ``MAX_DEPTH`` or longer than ``MAX_JSON_VALUE_CHARS`` costs that value.
"""

from __future__ import annotations

import contextlib
import io
import json
import lzma
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from cibwatch.ingest.source import (
    DAMAGED_STREAM,
    MAX_LINE_BYTES,
    OVERLONG_LINE,
    PREVIEW_BYTES,
    SNIFF_BYTES,
    OverlongLine,
    Source,
    decompression_errors,
    open_decompressed,
)

# One value of a JSON document (an element of a top-level array) is bounded like a line.
MAX_JSON_VALUE_CHARS = MAX_LINE_BYTES
# JSON nested deeper than this is refused: below orjson's own limits (1,024 to read, 254 to
# write) and Python's recursion limit, so a kept value can always be written back out.
MAX_DEPTH = 128

TOO_DEEP = f"JSON nested deeper than MAX_DEPTH ({MAX_DEPTH} levels)"
OVERLONG_VALUE = (
    f"JSON value longer than MAX_LINE_BYTES ({MAX_LINE_BYTES:,} characters): skipped to the end "
    "of its line (the raw column keeps its first characters)"
)


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


def _iter_lines(source: Source) -> Iterator[JsonItem]:
    for lineno, offset, line in source.lines():
        if line is None:  # the compressed stream broke off: say so, for the rest of the file
            yield JsonItem(lineno, offset, error=DAMAGED_STREAM)
            return
        yield json_line_item(lineno, offset, line)


def json_line_item(lineno: int, offset: int, line: bytes) -> JsonItem:
    """One line of a JSON Lines source as ``iter_json`` yields it: its value, or why it has none."""
    if isinstance(line, OverlongLine):
        return JsonItem(lineno, offset, error=OVERLONG_LINE, raw=line)
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason = TOO_DEEP if "recursion" in str(exc) or "depth" in str(exc) else f"invalid JSON: {exc}"
        return JsonItem(lineno, offset, error=reason, raw=line)
    if json_too_deep(line):
        return JsonItem(lineno, offset, error=TOO_DEEP, raw=line)
    return JsonItem(lineno, offset, value, raw=line)


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
            except decompression_errors():
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
