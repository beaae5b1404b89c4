"""Field parsers shared by the ingest readers and bot scoring: dates, counts, flags, text.

Parsers raise ``ValueError`` with a short reason on a bad value; the reader's
record loop turns that into a quarantine row. Numbers are bounded: a count must fit int64
(``MIN_INT``..``MAX_INT``) and a time must fall in years 1 to 9999 (``MIN_TIME_MS``..``MAX_TIME_MS``),
else the record is quarantined: no value of it could be stored, and a wrong one would mislead.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from datetime import UTC, datetime

# Integers are stored as int64: a number outside this range (a count of 2**70, a 5,000-digit
# integer) makes its record a quarantine row rather than a null, as no value of it is storable.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
# Times storable in every table and readable by DuckDB: 0001-01-01 to 9999-12-31 (epoch ms).
MIN_TIME_MS = -62_135_596_800_000
MAX_TIME_MS = 253_402_300_799_999
# Characters of a bad value shown in a reason: reasons stay short whatever the input holds.
_SHOWN = 60


def shown(value: object) -> str:
    """``repr(value)``, cut to a few dozen characters for a quarantine reason."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text):,} characters)"


def time_ms(ms: int, value: object) -> int:
    """``ms`` if it is a time in years 1 to 9999, else ValueError naming ``value``."""
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise ValueError(f"time {shown(value)} outside years 1 to 9999 (MIN_TIME_MS..MAX_TIME_MS)")
    return ms


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_EPOCH_DAYS_CACHE: dict[tuple[int, int, int], int] = {}


def _days_from_civil(y: int, m: int, d: int) -> int:
    key = (y, m, d)
    cached = _EPOCH_DAYS_CACHE.get(key)
    if cached is None:
        cached = datetime(y, m, d, tzinfo=UTC).toordinal() - 719163
        if len(_EPOCH_DAYS_CACHE) < 100_000:
            _EPOCH_DAYS_CACHE[key] = cached
    return cached


_BAD_TWITTER_DATE = "bad date {!r} (expected 'Sat Sep 28 18:05:23 +0000 2019')"
# Epoch ms at 00:00:00 of a day, keyed by the characters that name it (month, day, offset, year):
# a file's dates fall on few days, so most dates only parse their time of day.
_TWITTER_DAY_MS: dict[str, int] = {}
# Milliseconds since midnight, keyed by 'HH:MM:SS': with the day cache, most dates are two lookups.
_TIME_OF_DAY_MS: dict[str, int] = {}


def twitter_date_ms(value: str) -> int:
    """'Sat Sep 28 18:05:23 +0000 2019' (X API v1.1) to epoch milliseconds."""
    if isinstance(value, str) and len(value) == 30:
        day_ms = _TWITTER_DAY_MS.get(value[4:10] + value[20:30])
        if day_ms is not None:
            time_ms = _TIME_OF_DAY_MS.get(value[11:19])
            if time_ms is not None:
                return day_ms + time_ms
    return _twitter_date_ms(value)


def _twitter_date_ms(value: str) -> int:
    try:
        month = _MONTHS[value[4:7]]
        day = int(value[8:10])
        hh, mm, ss = int(value[11:13]), int(value[14:16]), int(value[17:19])
        tz = value[20:25]
        year = int(value[26:30])
    except (KeyError, ValueError, IndexError):
        raise ValueError(_BAD_TWITTER_DATE.format(value)) from None
    if not (1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61 and len(value) == 30):
        raise ValueError(_BAD_TWITTER_DATE.format(value))
    offset = 0
    if tz != "+0000":
        sign = -1 if tz[0] == "-" else 1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)
    try:
        days = _days_from_civil(year, month, day)
    except ValueError:
        raise ValueError(f"bad date {value!r}") from None
    day_ms = (days * 86400 - offset) * 1000
    time_ms = (hh * 3600 + mm * 60 + ss) * 1000
    if len(_TWITTER_DAY_MS) < 100_000:
        _TWITTER_DAY_MS[value[4:10] + value[20:30]] = day_ms
    if len(_TIME_OF_DAY_MS) < 100_000:  # at most 86,400 valid times (and a few leap seconds)
        _TIME_OF_DAY_MS[value[11:19]] = time_ms
    return day_ms + time_ms


def iso_date_ms(value: str) -> int:
    """An ISO 8601 date or 'YYYY-MM-DD HH:MM[:SS]' to epoch ms; naive times are UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date {value!r} (expected ISO 8601, e.g. 2019-09-28T18:05:23Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def epoch_ms(value: str | float | int) -> int:
    """Epoch seconds or milliseconds (told apart by magnitude) to epoch ms."""
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"bad epoch time {shown(value)}") from None
    if number != number or number < 0 or number > MAX_TIME_MS:
        raise ValueError(f"bad epoch time {shown(value)}")
    return int(number) if number > 1e11 else round(number * 1000)


def any_date_ms(value: str | None) -> int | None:
    """The formats seen in the wild, tried cheapest first; None for empty."""
    if value is None:
        return None
    text = value.strip()
    if not text or text.upper() in {"NA", "NULL", "NONE", "NAN"}:
        return None
    if len(text) == 30 and text[3] == " " and text[7] == " ":
        return twitter_date_ms(text)
    if text.replace(".", "", 1).isdigit():
        return epoch_ms(text)
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2}(:\d{2})?)?", text):
        return _us_date_ms(text)
    return iso_date_ms(text)


def _us_date_ms(text: str) -> int:
    fmt = "%m/%d/%Y"
    if " " in text:
        fmt += " %H:%M:%S" if text.count(":") == 2 else " %H:%M"
    return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp() * 1000)


def count(value: object) -> int | None:
    """A count, or None when absent; non-numeric is an error. A negative count is kept as given
    (the IRA files write -1 for unknown): the bot scorer treats it as missing and says so."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"bad count {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if text.upper() in {"NA", "NULL", "NAN", "NONE"}:
            return None
        try:
            number = int(float(text)) if "." in text or "e" in text.lower() else int(text)
        except (ValueError, OverflowError):  # OverflowError: infinity; ValueError: > 4,300 digits too
            raise ValueError(f"bad count {shown(value)}") from None
    if not MIN_INT <= number <= MAX_INT:
        raise ValueError(f"count {shown(value)} outside the int64 range (MIN_INT..MAX_INT)")
    return number


def flag(value: object) -> bool | None:
    """'1', 'true', 'TRUE', True to True; '0', 'false', False to False; empty/NULL to None."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "t", "yes", "y"}:
        return True
    if text in {"0", "false", "f", "no", "n"}:
        return False
    if text in {"", "null", "na", "none", "nan"}:
        return None
    raise ValueError(f"bad flag {value!r}")


def text_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return None if text == "" or text.upper() in {"NULL", "NA"} else text


_SOURCE_TAG = re.compile(r"<[^>]*>")


@functools.lru_cache(maxsize=4096)
def source_app(value: str | None) -> str | None:
    """'<a href="...">Twitter for Android</a>' to 'Twitter for Android'."""
    if not value:
        return None
    return _SOURCE_TAG.sub("", value).strip() or None


_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+")


def normalize_text(text: str) -> str:
    """Case-, space- and link-insensitive form of a post's text, for identity of content."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _URL.sub("", text)
    return _SPACE.sub(" ", text).strip()


def stable_id(*parts: str, prefix: str = "") -> str:
    """A short deterministic id derived from content (blake2b, 64 bits, hex)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8)
    return prefix + digest.hexdigest()


_HASHTAG = re.compile(r"(?:^|(?<=[^\w&]))#(\w+)")
_MENTION = re.compile(r"(?:^|(?<=[^\w]))@(\w{1,30})")


def hashtags_in(text: str) -> list[str]:
    """Hashtags written in ``text``, lower-cased, for sources without entity fields."""
    return [h.lower() for h in _HASHTAG.findall(text)] if text else []


def mentions_in(text: str) -> list[str]:
    return [m.lower() for m in _MENTION.findall(text)] if text else []


def urls_in(text: str) -> list[str]:
    return [u.rstrip(".,;:!?)\"'") for u in _URL.findall(text)] if text else []
