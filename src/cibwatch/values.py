"""Field parsers shared by the ingest readers and bot scoring: dates (``parse_date_ms``), counts,
flags, text.

Parsers raise ``ValueError`` with a short reason on a bad value; the reader's
record loop turns that into a quarantine row. Numbers are bounded: a count must fit int64
(``MIN_INT``..``MAX_INT``) and a time must fall in years 1 to 9999 (``MIN_TIME_MS``..``MAX_TIME_MS``),
else the record is quarantined: no value of it could be stored, and a wrong one would mislead.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


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


# The date forms ``parse_date_ms`` reads, named in the reason of a date it cannot read.
DATE_FORMS = (
    "ISO 8601 with or without zone (2019-09-28T18:05:23Z, 2019-09-28 18:05)",
    "X API (Sat Sep 28 18:05:23 +0000 2019)",
    "epoch seconds or milliseconds (1569693923, 1569693923000)",
    "M/D/YYYY [H:MM[:SS]]",
)
# Dates without a zone are read in this zone: UTC unless a run declares another (``default_zone``).
_DEFAULT_ZONE: ContextVar[tzinfo] = ContextVar("default_zone", default=UTC)
_US_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2}(:\d{2})?)?")
_NULL_TEXTS = frozenset({"NA", "NULL", "NONE", "NAN"})


def zone(name: str) -> tzinfo:
    """The zone called ``name`` ('UTC', 'Europe/Berlin', '+02:00'); ValueError naming it otherwise."""
    if name.upper() in {"UTC", "Z"}:
        return UTC
    if re.fullmatch(r"[+-]\d{2}:?\d{2}", name):
        sign = -1 if name[0] == "-" else 1
        hours, minutes = int(name[1:3]), int(name[-2:])
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected UTC, an IANA name such as Europe/Berlin, or +HH:MM"
        ) from None


@contextlib.contextmanager
def default_zone(name: str | tzinfo) -> Iterator[None]:
    """Read dates without a zone in ``name`` inside the block (``parse_date_ms``)."""
    token = _DEFAULT_ZONE.set(zone(name) if isinstance(name, str) else name)
    try:
        yield
    finally:
        _DEFAULT_ZONE.reset(token)


def current_zone() -> tzinfo:
    """The zone dates without one are read in (UTC unless ``default_zone`` says otherwise)."""
    return _DEFAULT_ZONE.get()


def bad_date(value: object) -> str:
    """The reason for a date no form reads: the value and the forms tried."""
    return f"bad date {shown(value)} (tried: {'; '.join(DATE_FORMS)})"


def parse_date_ms(value: str, zone: tzinfo | None = None) -> int:
    """Any date form in ``DATE_FORMS`` to epoch ms; naive times are in ``zone`` (default: the run's
    declared zone, UTC unless set). ValueError naming the value and the forms tried otherwise.

    The one date parser of every reader (``cibwatch.ingest.dates`` is its vectorized twin).

    >>> parse_date_ms("Tue Oct 07 19:55:59 +0000 2014") == parse_date_ms("2014-10-07T19:55:59Z")
    True
    >>> parse_date_ms("1412711759") == parse_date_ms("1412711759000") == parse_date_ms("2014-10-07 19:55:59")
    True
    """
    text = value if len(value) == 30 else value.strip()
    if len(text) == 24 and text[19:] == ".000Z":  # X API v2's form: a known day and second
        day_ms = _ISO_DAY_MS.get(text[:10])
        if day_ms is not None:
            second_ms = _ISO_SECOND_MS.get(text[10:19])
            if second_ms is not None:
                return day_ms + second_ms
    if len(text) == 30 and text[3] == " " and text[7] == " ":  # the X API's form, the most common
        try:
            return twitter_date_ms(text)
        except ValueError:
            raise ValueError(bad_date(value)) from None
    try:
        if text.replace(".", "", 1).isdigit():
            return epoch_ms(text)
        if "/" in text and _US_DATE.fullmatch(text):
            zone_here = zone or _DEFAULT_ZONE.get()
            if zone_here is UTC:  # the FiveThirtyEight IRA files: millions of rows, so no strptime
                return time_ms(_us_date_utc_ms(text), value)
            fmt = "%m/%d/%Y"
            if " " in text:
                fmt += " %H:%M:%S" if text.count(":") == 2 else " %H:%M"
            dt = datetime.strptime(text, fmt)
        else:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=zone or _DEFAULT_ZONE.get())
        # Exact, and floored as the column parser does: timestamp() * 1000 is a float, 1 ms short at times.
        ms = time_ms((dt - _UNIX_EPOCH) // _ONE_MS, value)
    except (ValueError, OverflowError):
        raise ValueError(bad_date(value)) from None
    if len(text) == 24 and _ISO_WHOLE_SECOND.fullmatch(text) and len(_ISO_DAY_MS) < 100_000:
        second = text[10:19]  # 'THH:MM:SS', read and checked by fromisoformat just now
        second_ms = (int(second[1:3]) * 3600 + int(second[4:6]) * 60 + int(second[7:9])) * 1000
        _ISO_SECOND_MS[second] = second_ms
        _ISO_DAY_MS[text[:10]] = ms - second_ms
    return ms


# 'YYYY-MM-DDTHH:MM:SS.000Z' split in two caches (filled only from dates parsed whole above),
# so most v2 dates are two lookups: epoch ms of a day's start by 'YYYY-MM-DD', and ms since
# midnight by 'THH:MM:SS'.
_ISO_WHOLE_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.000Z")
_ISO_DAY_MS: dict[str, int] = {}
_ISO_SECOND_MS: dict[str, int] = {}


@functools.lru_cache(maxsize=65_536)
def _utc_day_ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 1000


def _us_date_utc_ms(text: str) -> int:
    """'M/D/YYYY[ HH:MM[:SS]]' (already matched by ``_US_DATE``) in UTC to epoch ms."""
    day, _, clock = text.partition(" ")
    month, mday, year = day.split("/")
    parts = clock.split(":") if clock else ["0", "0"]
    hh, mm = int(parts[0]), int(parts[1])
    ss = int(parts[2]) if len(parts) > 2 else 0
    if not (hh < 24 and mm < 60 and ss < 60):
        raise ValueError(text)
    return _utc_day_ms(int(year), int(month), int(mday)) + (hh * 3600 + mm * 60 + ss) * 1000


def epoch_ms(value: str | float | int) -> int:
    """Epoch seconds or milliseconds (told apart by magnitude: above 1e11 is ms) to epoch ms."""
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"bad epoch time {shown(value)}") from None
    if number != number or number < 0 or number > MAX_TIME_MS:
        raise ValueError(f"bad epoch time {shown(value)}")
    return int(number) if number > 1e11 else round(number * 1000)


def any_date_ms(value: str | None) -> int | None:
    """``parse_date_ms``, with None for an empty or NA value."""
    if value is None:
        return None
    text = value.strip()
    if not text or text.upper() in _NULL_TEXTS:
        return None
    return parse_date_ms(text)


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
# One definition for ``re`` and for polars (the mapped reader), so no lookbehind: a '#' not inside
# a word or an HTML entity (&#39;), an '@' not inside a word. Group 1 is the tag or the handle.
HASHTAG_PATTERN = r"(?:^|[^\w&])#(\w+)"
MENTION_PATTERN = r"(?:^|[^\w])@(\w{1,30})"
URL_PATTERN = r"https?://\S+"
URL_TRAILING = ".,;:!?)\"'"  # punctuation after a link is the sentence's, not the link's
_URL = re.compile(URL_PATTERN)


def normalize_text(text: str) -> str:
    """Case-, space- and link-insensitive form of a post's text, for identity of content."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _URL.sub("", text)
    return _SPACE.sub(" ", text).strip()


def stable_id(*parts: str, prefix: str = "") -> str:
    """A short deterministic id derived from content (blake2b, 64 bits, hex)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8)
    return prefix + digest.hexdigest()


_HASHTAG = re.compile(HASHTAG_PATTERN)
_MENTION = re.compile(MENTION_PATTERN)


def hashtags_in(text: str) -> list[str]:
    """Hashtags written in ``text``, lower-cased, for sources without entity fields."""
    return [h.lower() for h in _HASHTAG.findall(text)] if text else []


def mentions_in(text: str) -> list[str]:
    return [m.lower() for m in _MENTION.findall(text)] if text else []


def urls_in(text: str) -> list[str]:
    return [u.rstrip(URL_TRAILING) for u in _URL.findall(text)] if text else []
