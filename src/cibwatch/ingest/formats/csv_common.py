"""Helpers shared by the CSV readers: header checks, raw rows for quarantine, repost references.

Not a reader: it registers nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from cibwatch.errors import InputFormatError
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import normalize_text, stable_id

# Prefix of post ids derived from a repost's text: the same for every reader, so reposts of
# one text line up across datasets that carry no id of the reposted post.
REPOST_TEXT_PREFIX = "rt-text:"
_RT = re.compile(r"^RT @(\w{1,30}):?\s?(.*)\Z", re.DOTALL)


def header_of(source: Source) -> list[str]:
    """The lower-cased header of ``source`` (a CSV file)."""
    return first_csv_header(source.head(64 * 1024))


def require_columns(source: Source, header: Iterable[str], reader: str, *groups: tuple[str, ...]) -> None:
    """Raise InputFormatError unless ``header`` has one column of each group (alternatives).

    >>> require_columns(src, ["a", "b"], "qut", ("a",), ("b", "c"))  # doctest: +SKIP
    """
    present = set(header)
    missing = [" or ".join(group) for group in groups if not present.intersection(group)]
    if missing:
        expected = ", ".join(" or ".join(group) for group in groups)
        raise InputFormatError(
            f"{source.name} is missing the required column(s) {', '.join(missing)} for --format {reader}; "
            f"expected a header with: {expected}. Check the file's first line, or pass the right --format."
        )


def normalized_rows(
    source: Source, normalize: dict[str, str] | None = None
) -> Iterator[tuple[int, dict[str, str], str | None]]:
    """``Source.csv_rows`` with keys lower-cased (and renamed by ``normalize``), header row skipped."""
    header = header_of(source)
    if normalize:
        header = [normalize.get(name, name) for name in header]
    delimiter = "\t" if header and _first_line_has_tabs(source) else ","
    yield from source.csv_rows(fieldnames=header, skip_header=True, delimiter=delimiter)


def _first_line_has_tabs(source: Source) -> bool:
    first = source.head(64 * 1024).split(b"\n", 1)[0]
    return first.count(b"\t") > first.count(b",")


def raw_row(row: dict[str, str]) -> str | None:
    """The row as one CSV line again, for the quarantine's ``raw`` column."""
    if not row:
        return None
    if len(row) == 1 and "" in row:  # a line that could not be parsed (Source.csv_rows): as it was
        return row[""]
    # Extra fields (DictReader's None key) are kept; missing ones (None values) are not invented.
    values = [v for k, v in row.items() if k is not None and isinstance(v, str)]
    values.extend(row.get(None) or [])  # type: ignore[call-overload]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def repost_of_text(text: str) -> tuple[str, str | None]:
    """(ref_post_id, reposted handle or None) for a repost known only by its text.

    "RT @Alice: hello" and a bare "hello" reposted from Alice's post differ only in the
    handle; the id hashes the lower-cased handle ("" when the text names none) and the
    normalized reposted text, so every repost of one text by one handle shares an id.

    >>> repost_of_text("RT @Alice: Hello  World")[1]
    'alice'
    """
    match = _RT.match(text)
    handle, body = (match.group(1).lower(), match.group(2)) if match else (None, text)
    return stable_id(handle or "", normalize_text(body), prefix=REPOST_TEXT_PREFIX), handle


def is_rt_text(text: str | None) -> bool:
    return bool(text) and text.startswith("RT @")  # type: ignore[union-attr]
