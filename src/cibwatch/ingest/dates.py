"""``parse_date_ms`` over a whole column at once (polars), for readers that read tables.

The common forms are parsed in Rust; what they leave unread (an unusual but valid form, a
daylight-saving edge, a bad value) goes through ``parse_date_ms`` itself, value by value, so the
column gives exactly what the scalar parser gives, reasons included.
"""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

import polars as pl

from cibwatch.values import current_zone, parse_date_ms

_NULL_TEXTS = ["", "NA", "NULL", "NONE", "NAN"]
# Shapes handed to the Rust parsers; anything else goes to ``parse_date_ms`` directly.
_ISO = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
_ZONED = r"(?:Z|[+-]\d{2}:?\d{2})$"
_X_API = r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [+-]\d{4} \d{4}$"
_EPOCH = r"^\d{1,15}$"


def parse_dates_ms(values: pl.Series, zone: tzinfo | None = None) -> tuple[pl.Series, dict[int, str]]:
    """Epoch ms (Int64) for each value of a String column, null where it is empty or NA; and the
    reason (``parse_date_ms``'s) for each row index whose value is not a date.

    >>> ms, bad = parse_dates_ms(pl.Series(["2014-10-07 19:55:59", "1412711759", "soon", None]))
    >>> ms.to_list()[:2], sorted(bad)
    ([1412711759000, 1412711759000], [2])
    """
    zone = zone or current_zone()
    raw = values.cast(pl.String)
    frame = pl.DataFrame({"v": raw.str.strip_chars(), "raw": raw})
    v = pl.col("v")
    present = v.is_not_null() & ~v.str.to_uppercase().is_in(_NULL_TEXTS)
    iso = v.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "${1} ").str.replace(r"[Zz]$", "+00:00")
    is_iso = v.str.contains(_ISO)
    zoned = iso.str.strptime(pl.Datetime("ms", "UTC"), "%Y-%m-%d %H:%M:%S%.f%#z", strict=False)
    zoned_short = iso.str.strptime(pl.Datetime("ms", "UTC"), "%Y-%m-%d %H:%M%#z", strict=False)
    naive = pl.coalesce(
        iso.str.strptime(pl.Datetime("ms"), "%Y-%m-%d %H:%M:%S%.f", strict=False),
        iso.str.strptime(pl.Datetime("ms"), "%Y-%m-%d %H:%M", strict=False),
        iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("ms")),
    )
    x_api = v.str.strptime(pl.Datetime("ms", "UTC"), "%a %b %d %H:%M:%S %z %Y", strict=False)
    epoch = v.cast(pl.Int64, strict=False)
    fast = (
        pl.when(~present)
        .then(None)
        .when(v.str.contains(_EPOCH))
        .then(pl.when(epoch > 100_000_000_000).then(epoch).otherwise(epoch * 1000))
        .when(v.str.contains(_X_API))
        .then(x_api.dt.epoch("ms"))
        .when(is_iso & v.str.contains(_ZONED))
        .then(pl.coalesce(zoned, zoned_short).dt.epoch("ms"))
        .when(is_iso)
        .then(_in_zone(naive, zone))
        .otherwise(None)
    )
    frame = frame.with_columns(ms=fast, present=present)
    ms = frame["ms"].to_list()
    bad: dict[int, str] = {}
    # What the Rust parsers left: the scalar parser decides, with its reason.
    left = frame.with_row_index("i").filter(pl.col("present") & pl.col("ms").is_null())
    for i, value in zip(left["i"].to_list(), left["raw"].to_list(), strict=True):
        if not value.strip() or value.strip().upper() in _NULL_TEXTS:
            continue  # blank by Python's reckoning (e.g. '\x1f'), as parse_date_ms's callers see it
        try:
            ms[i] = parse_date_ms(value, zone)
        except ValueError as exc:
            bad[i] = str(exc)
    return pl.Series(values.name, ms, dtype=pl.Int64), bad


def _in_zone(naive: pl.Expr, zone: tzinfo) -> pl.Expr:
    """Epoch ms of naive datetimes read in ``zone``; null at a daylight-saving gap (left to the
    scalar parser, which reads it as Python does)."""
    if isinstance(zone, ZoneInfo):
        local = naive.dt.replace_time_zone(zone.key, ambiguous="earliest", non_existent="null")
        return local.dt.epoch("ms")
    offset = zone.utcoffset(None)
    shift = int(offset.total_seconds() * 1000) if offset is not None else 0
    return naive.dt.epoch("ms") - shift
