"""``cibwatch formats --explain``: how a file would be read, without ingesting it.

The layout detected (or the map given), which column feeds which field, and the first few
normalized posts, made by the same reader the ingest would use.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cibwatch import schema
from cibwatch.errors import InputFormatError
from cibwatch.ingest.mapping import FIELDS, ColumnMap, columns_of, guess_map
from cibwatch.ingest.registry import Reader, get_reader, sniff_format
from cibwatch.ingest.source import Source, dataset_name


@dataclass
class Explanation:
    path: str
    reader: str
    columns: list[str]
    # field -> column, for a mapped read; empty for a known format (its reader knows its columns).
    mapping: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[tuple[int | None, str]] = field(default_factory=list)
    note: str = ""
    map_spec: str = ""


class _Enough(Exception):
    """Raised by the preview sink once it has its rows: the read stops there."""


class _PreviewSink:
    def __init__(self, n: int, platform: str) -> None:
        self.n, self.platform = n, platform
        self.rows: list[dict[str, Any]] = []
        self.quarantined: list[tuple[int | None, str]] = []

    def post(self, record: dict[str, Any]) -> None:
        self.rows.append({k: record.get(k) for k in schema.POST_ROW if k != "dataset"})
        if len(self.rows) >= self.n:
            raise _Enough

    def post_rows(self, rows: list[tuple[Any, ...]], line: int | None) -> None:
        for row in rows:
            self.post(dict(zip(schema.POST_ROW, row, strict=True)))

    def quarantine(
        self, reason: str, raw: Any, line: int | None = None, byte_offset: int | None = None
    ) -> None:
        if len(self.quarantined) < self.n:
            self.quarantined.append((line, reason))

    def account(self, record: dict[str, Any]) -> None: ...
    def profile_unchanged(self, platform: str, account_id: str, fingerprint: int) -> bool:
        return False

    def duplicate(self, table: str, n: int = 1) -> None: ...
    def unit(self, outcome: str) -> None: ...
    def label(self, record: dict[str, Any]) -> None: ...


def explain(path: str | Path, mapping: ColumnMap | str | None = None, rows: int = 5) -> Explanation:
    """How ``path`` would be read: the reader, the column map and the first ``rows`` normalized posts.

    Without ``mapping``, the format is sniffed; a file of no known format is previewed with the
    map its header suggests (``mapping.guess_map``), when that names an account and a time.

    >>> explain("tweets.csv", "account=user,time=when").rows[0]["account_id"]  # doctest: +SKIP
    'alice'
    """
    source = Source(path=Path(path), dataset=dataset_name(Path(path)))
    columns = columns_of(source.head(), source.path)
    note = ""
    if isinstance(mapping, str):
        mapping = ColumnMap.parse(mapping)
    if mapping is None:
        try:
            reader: type[Reader] = sniff_format(source)
        except InputFormatError as exc:
            guessed = guess_map(columns)
            if not {"account", "time"} <= set(guessed):
                raise
            mapping = ColumnMap.from_pairs(dict(guessed), "the suggested map")
            note = str(exc)
    if mapping is not None:
        reader = get_reader("mapped").configure(mapping.as_settings())
    sink = _PreviewSink(rows, reader.platform)
    with contextlib.suppress(_Enough):
        reader().read(source, sink)
    result = Explanation(
        path=str(path),
        reader=reader.name,
        columns=columns,
        rows=sink.rows,
        quarantined=sink.quarantined,
        note=note,
    )
    if mapping is not None:
        result.mapping = dict(mapping.columns)
        result.map_spec = mapping.as_spec()
    return result


def field_help(name: str) -> str:
    """What a map field holds, for the explanation's table."""
    return FIELDS.get(name, "")
