"""Any table, by naming its columns (``--map``): CSV, TSV, JSON Lines or Parquet.

The map (``cibwatch.ingest.mapping``) says which column holds which normalized field. The
table is read with polars and each field is converted a column at a time; a row whose value
cannot be read (a bad date, a non-numeric count, an empty account) is quarantined with the
column and the value. Each row is a unit, counted as it is handed on.

Ids: a post without a mapped id gets ``map-`` + a 64-bit blake2b of its account, its time (epoch
ms, so the same moment written two ways gives one id) and its text: the same row gives the
same id in every run and file, so re-ingesting adds nothing. A repost known only by the
reposted account (a Telegram forward) refers to the id the other readers derive from the
reposted account and text (``csv_common.repost_of_text``), so one text forwarded by many
channels lines up as reposts of one post.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson
import polars as pl

from cibwatch.errors import InputFormatError
from cibwatch.ingest.dates import parse_dates_ms
from cibwatch.ingest.formats.csv_common import (
    REPOST_TEXT_PREFIX,
    header_of,
    normalized_rows,
    raw_row,
    repost_of_text,
)
from cibwatch.ingest.mapping import ACCOUNT_FIELDS, FIELDS, ColumnMap, table_kind
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.sink import account_record
from cibwatch.ingest.source import (
    DAMAGED_STREAM,
    MAX_FIELD_BYTES,
    OVERLONG_LINE,
    OverlongLine,
    Source,
    decompression_errors,
)
from cibwatch.values import (
    HASHTAG_PATTERN,
    MAX_INT,
    MENTION_PATTERN,
    URL_PATTERN,
    URL_TRAILING,
    normalize_text,
    shown,
    stable_id,
    zone,
)

POST_ID_PREFIX = "map-"
# Rows converted to Python objects at a time (memory: one batch's records, not the file's).
BATCH_ROWS = 100_000
_NULLS = ["", "NA", "NULL", "NONE", "NAN"]
_TRUE = ["1", "true", "t", "yes", "y"]
_FALSE = ["0", "false", "f", "no", "n"]
_KINDS = {
    "original": "original", "post": "original", "tweet": "original", "message": "original",
    "status": "original", "repost": "repost", "retweet": "repost", "rt": "repost",
    "forward": "repost", "forwarded": "repost", "share": "repost", "reblog": "repost",
    "reply": "reply", "comment": "reply", "quote": "quote", "quoted": "quote",
}  # fmt: skip
_COUNTS = ("followers", "following", "posts_count", "likes_count", "listed_count")
_FLAGS = ("is_repost", "verified", "default_profile", "default_profile_image", "profile_use_background_image")
_LISTS = ("hashtags", "urls", "mentions", "media")
# Tokens of a list written as text: "[a, b]", "['a', 'b']", "a b", "#a #b".
_TOKEN = r"[^\s,\[\]'\"]+"
# The account snapshot's columns, from the map's fields.
_ACCOUNT_COLUMNS = {
    "screen_name": "screen_name", "name": "name", "description": "description",
    "account_created": "created_at", "followers": "followers", "following": "following",
    "posts_count": "posts_count", "likes_count": "likes_count", "listed_count": "listed_count",
    "verified": "verified", "default_profile": "default_profile",
    "default_profile_image": "default_profile_image",
    "profile_use_background_image": "profile_use_background_image", "location": "location",
    "profile_url": "url", "account_lang": "lang", "probed_at": "probed_at",
}  # fmt: skip


class Table:
    """A table read for a map: one String or List(String) column per mapped field, the source line
    of each row, and the problems found while reading (row index -> reason)."""

    def __init__(self, frame: pl.DataFrame, lines: list[int], raw: Any, columns: list[str]) -> None:
        self.frame, self.lines, self._raw, self.columns = frame, lines, raw, columns
        self.problems: dict[int, str] = {}

    def raw(self, i: int) -> str | None:
        return self._raw(i)

    def slice(self, start: int, length: int) -> Table:
        """Rows ``start`` to ``start + length`` as a table of their own (indices from 0)."""
        end = start + length
        part = Table(
            self.frame.slice(start, length),
            self.lines[start:end],
            lambda i: self._raw(start + i),
            self.columns,
        )
        part.problems = {i - start: r for i, r in self.problems.items() if start <= i < end}
        return part


def resolve(path: str, available: list[str]) -> str | None:
    """The column ``path`` names: exactly, else ignoring case."""
    if path in available:
        return path
    lowered = {c.lower(): c for c in available}
    return lowered.get(path.lower())


def read_table(source: Source, mapping: ColumnMap) -> Table:
    """``source`` as a ``Table`` of the map's fields; InputFormatError when a mapped column is missing."""
    kind = table_kind(source.head(4096), source.path)
    if kind == "parquet":
        return _read_parquet(source, mapping)
    if kind == "jsonl":
        return _read_jsonl(source, mapping)
    return _read_csv(source, mapping)


def _missing(source: Source, mapping: ColumnMap, available: list[str], what: str) -> InputFormatError:
    missing = [f"{f}={c}" for f, c in mapping.columns.items() if _locate(c, available) is None]
    shown_columns = ", ".join(available[:60]) + (" …" if len(available) > 60 else "")
    return InputFormatError(
        f"{source.name}: {mapping.origin} names {what} the file does not have: {', '.join(missing)}. "
        f"The file's columns: {shown_columns or '(none)'}"
    )


def _locate(path: str, available: list[str]) -> str | None:
    """The column holding ``path``, or its top-level column when it is a dotted path."""
    found = resolve(path, available)
    if found is None and "." in path:
        found = resolve(path.split(".", 1)[0], available)
    return found


def _decompressed(source: Source) -> tuple[bytes, bool]:
    """The file's decompressed bytes, and whether its stream broke off."""
    chunks: list[bytes] = []
    try:
        with source.open_binary() as fh:
            while chunk := fh.read(1 << 22):
                chunks.append(chunk)
    except decompression_errors():
        return b"", True
    return b"".join(chunks), False


def _read_csv(source: Source, mapping: ColumnMap) -> Table:
    data, damaged = _decompressed(source)
    frame: pl.DataFrame | None = None
    if not damaged:
        data = data.removeprefix(b"\xef\xbb\xbf")
        first = data.split(b"\n", 1)[0]
        separator = "\t" if first.count(b"\t") > first.count(b",") else ","
        # Ragged rows, stray quotes, bytes that are not UTF-8 or a stream that broke off: the
        # line-by-line reader below, which quarantines each bad row with its line.
        with contextlib.suppress(pl.exceptions.PolarsError):
            frame = pl.read_csv(
                data, separator=separator, infer_schema=False, encoding="utf8",
                raise_if_empty=False,
            )  # fmt: skip
    if frame is not None and frame.width == 0:
        raise _missing(source, mapping, [], "column(s)")
    if frame is None:
        table = _csv_rows(source)
    else:
        # A record's line: the header's, plus one a record, plus the line breaks inside quoted fields.
        breaks = frame.select(
            pl.sum_horizontal(pl.all().str.count_matches("\n", literal=True).fill_null(0))
        ).to_series()
        lines = (
            pl.int_range(0, frame.height, eager=True) + 2 + breaks.cum_sum().shift(1, fill_value=0)
        ).to_list()
        whole = frame
        table = Table(frame, lines, lambda i: _csv_line(whole.row(i)), frame.columns)
    available = table.columns
    if any(_locate(c, available) is None for c in mapping.columns.values()):
        raise _missing(source, mapping, available, "column(s)")
    table.frame = table.frame.select(
        [pl.col(resolve(c, available)).alias(f) for f, c in mapping.columns.items()]  # type: ignore[arg-type]
    )
    return table


def _csv_rows(source: Source) -> Table:
    """The CSV read row by row (``Source.csv_rows``), each bad row a problem with its line."""
    header = header_of(source)
    if not header:
        raise InputFormatError(f"{source.name}: no CSV header on the first line (the column names)")
    records: list[list[str | None]] = []
    lines: list[int] = []
    raws: list[str | None] = []
    problems: dict[int, str] = {}
    counted = source.units_read
    for line, row, problem in normalized_rows(source):
        values = [v if isinstance(v, str) else None for v in (row.get(h) for h in header)]
        if problem:
            problems[len(records)] = problem
            # Undecodable bytes (kept as surrogates for the raw column) cannot enter a polars column.
            values = [v and v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for v in values]
        records.append(values)
        lines.append(line)
        raws.append(raw_row(row))
    source.units_read = counted  # counted as rows are handed on (``MappedReader.read``)
    names = _unique(header)
    frame = pl.DataFrame(records, schema=dict.fromkeys(names, pl.String), orient="row")
    table = Table(frame, lines, raws.__getitem__, names)
    table.problems.update(problems)
    return table


def _unique(names: list[str]) -> list[str]:
    """Column names made unique as polars does for a CSV header (``a``, ``a_duplicated_0``, …)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        out.append(name if count == 0 else f"{name}_duplicated_{count - 1}")
        seen[name] = count + 1
    return out


def _csv_line(values: tuple[Any, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if v is None else v for v in values])
    return out.getvalue()


def _read_jsonl(source: Source, mapping: ColumnMap) -> Table:
    paths = {f: c.split(".") for f, c in mapping.columns.items()}
    values: dict[str, list[Any]] = {f: [] for f in paths}
    lines: list[int] = []
    raws: list[bytes] = []
    problems: dict[int, str] = {}
    seen: set[str] = set()
    counted = source.units_read
    for line, _, raw in source.lines():
        index = len(lines)
        lines.append(line)
        if raw is None:
            problems[index] = DAMAGED_STREAM
            raws.append(b"")
            for f in paths:
                values[f].append(None)
            continue
        raws.append(raw)
        if isinstance(raw, OverlongLine):
            problems[index] = OVERLONG_LINE
            for f in paths:
                values[f].append(None)
            continue
        try:
            record = orjson.loads(raw)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, expected an object")
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            problems[index] = f"bad JSON: {exc}"
            record = {}
        seen.update(record)
        for f, path in paths.items():
            values[f].append(_as_text(_dig(record, path)))
    source.units_read = counted  # counted as rows are handed on (``MappedReader.read``)
    # A field no object has is a misnamed field, told once for the file. One object is too little
    # to tell that from a damaged record: its row is quarantined like any row missing a field.
    objects = len(lines) - len(problems)
    absent = [c for c in mapping.columns.values() if c.split(".")[0] not in seen]
    if objects > 1 and absent:
        raise _missing(source, mapping, sorted(seen), "field(s)")
    frame = pl.DataFrame({f: _column(f, v) for f, v in values.items()})
    table = Table(
        frame, lines, lambda i: raws[i].decode("utf-8", "backslashreplace").rstrip("\r\n"), sorted(seen)
    )
    table.problems.update(problems)
    return table


def _dig(record: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _as_text(value: Any) -> Any:
    """A JSON value as text, a list of texts or None: the columns a map's fields are read from."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [
            _as_text(v) if isinstance(v, str | int | float | bool) else orjson.dumps(v).decode()
            for v in value
        ]
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def _column(name: str, values: list[Any]) -> pl.Series:
    """A field's values as a String column, or a List(String) one when any is a list (a lone
    string among lists is a list of one)."""
    if any(isinstance(v, list) for v in values):
        lists = [v if v is None or isinstance(v, list) else [v] for v in values]
        return pl.Series(name, lists, dtype=pl.List(pl.String))
    return pl.Series(name, values, dtype=pl.String)


def _read_parquet(source: Source, mapping: ColumnMap) -> Table:
    try:
        frame = pl.read_parquet(source.path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputFormatError(f"{source.name}: not a readable Parquet file ({exc})") from None
    available = frame.columns
    if any(_locate(c, available) is None for c in mapping.columns.values()):
        raise _missing(source, mapping, available, "column(s)")
    exprs = []
    for f, c in mapping.columns.items():
        exact = resolve(c, available)
        if exact is not None:
            expr = pl.col(exact)
        else:
            top, *rest = c.split(".")
            expr = pl.col(resolve(top, available))  # type: ignore[arg-type]
            for key in rest:
                expr = expr.struct.field(key)
        exprs.append(expr.alias(f))
    try:
        picked = frame.select(exprs)
    except pl.exceptions.PolarsError as exc:
        raise InputFormatError(
            f"{source.name}: {mapping.origin}: a dotted path does not fit ({exc})"
        ) from None
    for name, dtype in picked.schema.items():
        try:
            picked = picked.with_columns(_as_text_column(pl.col(name), dtype))
        except pl.exceptions.PolarsError:
            raise InputFormatError(
                f"{source.name}: column {mapping.columns[name]!r} ({dtype}) cannot be read as {name}; "
                "map a field inside it with a dotted path"
            ) from None
    lines = list(range(1, picked.height + 1))
    return Table(
        picked, lines, lambda i: orjson.dumps(frame.row(i, named=True), default=str).decode(), available
    )


def _as_text_column(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A Parquet column as String (times as ISO 8601, UTC when the column has a zone) or as
    List(String) for a list column; a struct becomes its JSON."""
    if isinstance(dtype, pl.List | pl.Array):
        return column.cast(pl.List(pl.String))
    if isinstance(dtype, pl.Struct):
        return column.struct.json_encode()
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return column.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        return column.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")
    return column.cast(pl.String)


# -- fields -------------------------------------------------------------------------------------


def _text(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A mapped String field, null when empty or NA; a null column when unmapped."""
    if name not in frame.columns:
        return pl.lit(None, pl.String)
    col = pl.col(name)
    if frame.schema[name] != pl.String:
        col = col.cast(pl.List(pl.String)).list.join(" ")
    return pl.when(col.str.strip_chars().str.to_uppercase().is_in(_NULLS)).then(None).otherwise(col)


def build(table: Table, mapping: ColumnMap) -> tuple[pl.DataFrame, dict[int, str]]:
    """The normalized post and account columns of ``table``, and the problems per row index."""
    frame, problems = table.frame, dict(table.problems)

    def flag_problems(mask: pl.Series, reason: Any) -> None:
        for i in mask.arg_true().to_list():
            problems.setdefault(i, reason(i) if callable(reason) else reason)

    out: dict[str, Any] = {}
    texts = frame.select(**{name: _text(frame, name) for name in FIELDS if name not in _LISTS})
    # The bound every CSV reader keeps (source.MAX_FIELD_BYTES): a longer value costs its row.
    for name in texts.columns:
        if name in frame.columns:
            flag_problems(
                texts[name].str.len_bytes() > MAX_FIELD_BYTES,
                f"field longer than MAX_FIELD_BYTES ({MAX_FIELD_BYTES:,} bytes) in column "
                f"{mapping.columns[name]!r}: the row is quarantined",
            )
    account = texts["account"].str.strip_chars()
    flag_problems(
        account.is_null() | (account == ""), f"empty account (column {mapping.columns['account']!r})"
    )
    tz = zone(mapping.tz) if mapping.tz is not None else None  # None: the run's zone
    for name in ("time", "account_created", "probed_at"):
        if name not in frame.columns:
            out[name] = _nulls(name, pl.Int64, frame.height)
            continue
        ms, bad = parse_dates_ms(texts[name], tz)
        column = mapping.columns[name]
        for i, reason in bad.items():
            problems.setdefault(i, f"{reason} in column {column!r}")
        out[name] = ms
    flag_problems(out["time"].is_null(), f"empty time (column {mapping.columns['time']!r})")
    for name in _COUNTS:
        if name in frame.columns:
            value = texts[name].str.strip_chars()
            number = value.cast(pl.Float64, strict=False)
            invalid = value.is_not_null() & (number.is_null() | number.is_nan() | (number.abs() > MAX_INT))
            flag_problems(
                invalid,
                lambda i, n=name, v=value: f"bad count {shown(v[i])} in column {mapping.columns[n]!r}",
            )
            out[name] = pl.when(invalid).then(None).otherwise(number).cast(pl.Int64)
    for name in _FLAGS:
        if name in frame.columns:
            value = texts[name].str.strip_chars().str.to_lowercase()
            parsed = pl.select(
                pl.when(value.is_in(_TRUE)).then(True).when(value.is_in(_FALSE)).then(False).otherwise(None)
            ).to_series()
            invalid = value.is_not_null() & parsed.is_null()
            flag_problems(
                invalid, lambda i, n=name, v=value: f"bad flag {shown(v[i])} in column {mapping.columns[n]!r}"
            )
            out[name] = parsed
    if "label" in frame.columns:
        label = texts["label"].str.strip_chars().str.to_lowercase()
        flag_problems(
            label.is_not_null() & ~label.is_in(["bot", "human"]),
            lambda i: f"bad label {shown(label[i])} (expected bot or human)",
        )
        out["label"] = label
    if "kind" in frame.columns:
        kind = texts["kind"].str.strip_chars().str.to_lowercase().replace_strict(_KINDS, default=None)
        raw_kind = texts["kind"]
        flag_problems(
            raw_kind.is_not_null() & kind.is_null(),
            lambda i: f"bad kind {shown(raw_kind[i])} (expected original, repost, reply or quote)",
        )
        out["kind"] = kind.fill_null("original")
    else:
        is_repost = out.get("is_repost", _nulls("is_repost", pl.Boolean, frame.height))
        out["kind"] = pl.select(
            pl.when(
                texts["repost_of"].is_not_null()
                | texts["repost_of_account"].is_not_null()
                | is_repost.fill_null(False)
            )
            .then(pl.lit("repost"))
            .when(texts["quote_of"].is_not_null())
            .then(pl.lit("quote"))
            .when(texts["reply_to"].is_not_null() | texts["reply_to_account"].is_not_null())
            .then(pl.lit("reply"))
            .otherwise(pl.lit("original"))
        ).to_series()
    post_id = texts["post"].str.strip_chars() if "post" in frame.columns else None
    if post_id is not None:
        flag_problems(
            post_id.is_null() | (post_id == ""), f"empty post id (column {mapping.columns['post']!r})"
        )
    result = pl.DataFrame(
        {
            "account_id": account,
            "created_at": out["time"],
            "kind": out["kind"],
            "text": texts["text"],
            "post_id": post_id if post_id is not None else _nulls("post_id", pl.String, frame.height),
            "repost_of": texts["repost_of"].str.strip_chars(),
            "repost_of_account": texts["repost_of_account"].str.strip_chars(),
            "reply_to": texts["reply_to"].str.strip_chars(),
            "reply_to_account": texts["reply_to_account"].str.strip_chars(),
            "quote_of": texts["quote_of"].str.strip_chars(),
            "lang": texts["lang"],
            "source_app": texts["source_app"],
        }
    )
    lists = {name: _list(frame, name, texts["text"]) for name in _LISTS}
    result = result.with_columns(**lists)
    accounts = {
        column: (out[field] if field in out else texts[field])
        for field, column in _ACCOUNT_COLUMNS.items()
        if field in frame.columns
    }
    result = result.with_columns(**{f"a_{k}": v for k, v in accounts.items()})
    if "label" in out:
        result = result.with_columns(label=out["label"], label_detail=texts["label_detail"])
    return result, problems


def _nulls(name: str, dtype: pl.DataType | type[pl.DataType], n: int) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)


def _list(frame: pl.DataFrame, name: str, text: pl.Series) -> pl.Series:
    """A list field: the mapped column's items, or (hashtags, urls, mentions) those in the text."""
    if name in frame.columns:
        column = frame[name]
        items = column if column.dtype == pl.List(pl.String) else column.str.extract_all(_TOKEN)
        strip = {"hashtags": "#", "mentions": "@"}.get(name)
        if strip:
            items = items.list.eval(pl.element().str.strip_chars_start(strip))
        return (
            items.list.eval(pl.element().filter(pl.element().str.len_chars() > 0)).fill_null([]).alias(name)
        )
    empty = pl.select(pl.repeat(pl.lit([], dtype=pl.List(pl.String)), frame.height)).to_series().alias(name)
    if name == "media" or text.null_count() == len(text):
        return empty
    found = {
        "hashtags": text.str.extract_all(HASHTAG_PATTERN).list.eval(
            pl.element().str.extract(HASHTAG_PATTERN, 1).str.to_lowercase()
        ),
        "mentions": text.str.extract_all(MENTION_PATTERN).list.eval(
            pl.element().str.extract(MENTION_PATTERN, 1).str.to_lowercase()
        ),
        "urls": text.str.extract_all(URL_PATTERN).list.eval(pl.element().str.strip_chars_end(URL_TRAILING)),
    }[name]
    return found.fill_null([]).alias(name)


@register
class MappedReader(Reader):
    name = "mapped"
    platform = "other"
    description = "any CSV, TSV, JSON Lines or Parquet table, by naming its columns: --map account=…,time=…"
    settings: ClassVar[dict[str, Any]] = {}

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return False  # chosen by --map, never guessed

    @classmethod
    def settings_attributes(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return {"platform": settings.get("platform", "other")}

    @classmethod
    def mapping(cls) -> ColumnMap:
        if not cls.settings:
            raise InputFormatError(
                "--format mapped needs a map: --map account=COLUMN,time=COLUMN[,text=COLUMN,…] "
                "or --map @file.toml"
            )
        return ColumnMap.from_settings(cls.settings)

    def read(self, source: Source, sink: Sink) -> None:
        mapping = self.mapping()
        if not source.head(4096).strip():
            raise InputFormatError(f"{source.name} is empty (after decompression); nothing to read")
        table = read_table(source, mapping)
        for line, outcome in self.rows(table, mapping):
            source.units_read += 1  # a row of the table, counted as it is handed on
            kind, value = outcome
            if kind == "quarantine":
                sink.quarantine(value[0], value[1], line)
                continue
            sink.post_rows([value[0]], line)
            if value[1] is not None:
                sink.account(value[1])
            if value[2] is not None:
                sink.label(value[2])

    def rows(self, table: Table, mapping: ColumnMap) -> Iterator[tuple[int | None, tuple[str, Any]]]:
        """(line, ("quarantine", (reason, raw)) or ("record", (post row, account, label))) per row,
        converted ``BATCH_ROWS`` at a time: Python objects are made for one batch, not the file."""
        for start in range(0, table.frame.height, BATCH_ROWS):
            yield from self._batch_rows(table.slice(start, BATCH_ROWS), mapping)

    def _batch_rows(self, table: Table, mapping: ColumnMap) -> Iterator[tuple[int | None, tuple[str, Any]]]:
        result, problems = build(table, mapping)
        platform = mapping.platform
        derive_ids = "post" not in mapping.columns
        has_account = any(f in mapping.columns for f in ACCOUNT_FIELDS)
        account_cols = [c for c in result.columns if c.startswith("a_")]
        has_label = "label" in result.columns
        columns = [
            "post_id", "account_id", "created_at", "kind", "repost_of", "repost_of_account",
            "reply_to", "reply_to_account", "quote_of", "text", "lang", "source_app", "hashtags",
            "urls", "mentions", "media",
        ]  # fmt: skip
        extra = account_cols + (["label", "label_detail"] if has_label else [])
        for i, values in enumerate(zip(*(result[c].to_list() for c in columns + extra), strict=True)):
            line = table.lines[i] if i < len(table.lines) else None
            reason = problems.get(i)
            if reason is not None:
                yield line, ("quarantine", (reason, table.raw(i)))
                continue
            (post_id, account, created, kind, repost_of, repost_acct, reply_to, reply_acct, quote_of,
             text, lang, app, hashtags, urls, mentions, media) = values[:16]  # fmt: skip
            if derive_ids:
                post_id = stable_id(account, str(created), text or "", prefix=POST_ID_PREFIX)
            ref_post, ref_account = None, None
            if kind == "repost":
                ref_post, ref_account = repost_of, repost_acct
                if ref_post is None:
                    if ref_account is not None:
                        ref_post = stable_id(
                            ref_account.lower(), normalize_text(text or ""), prefix=REPOST_TEXT_PREFIX
                        )
                    else:
                        ref_post, ref_account = repost_of_text(text or "")
            elif kind == "reply":
                ref_post, ref_account = reply_to, reply_acct
            elif kind == "quote":
                ref_post = quote_of
            row = (post_id, account, created, kind, ref_post, ref_account, text, lang, app,
                   hashtags, urls, mentions, media, platform, None)  # fmt: skip
            snapshot = None
            if has_account:  # every field present, so the sink takes its fast path
                snapshot = account_record(platform, account_id=account)
                for name, value in zip(account_cols, values[16 : 16 + len(account_cols)], strict=True):
                    snapshot[name[2:]] = value
            label_record = None
            if has_label and values[-2] is not None:
                label_record = {
                    "account_id": account,
                    "platform": platform,
                    "label": values[-2],
                    "label_detail": values[-1],
                }
            yield line, ("record", (row, snapshot, label_record))
