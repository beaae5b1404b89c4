"""Field parsers: the cached v1.1 date parser agrees with the plain one on any text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.values import twitter_date_ms


def _reference(value: str) -> int:
    """The parser before the per-day cache, kept here as the specification."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    try:
        month = months.index(value[4:7]) + 1
        day = int(value[8:10])
        hh, mm, ss = int(value[11:13]), int(value[14:16]), int(value[17:19])
        tz = value[20:25]
        year = int(value[26:30])
    except (ValueError, IndexError):
        raise ValueError(f"bad date {value!r} (expected 'Sat Sep 28 18:05:23 +0000 2019')") from None
    if not (1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61 and len(value) == 30):
        raise ValueError(f"bad date {value!r} (expected 'Sat Sep 28 18:05:23 +0000 2019')")
    offset = 0
    if tz != "+0000":
        sign = -1 if tz[0] == "-" else 1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)
    try:
        days = datetime(year, month, day, tzinfo=UTC).toordinal() - 719163
    except ValueError:
        raise ValueError(f"bad date {value!r}") from None
    return (days * 86400 + hh * 3600 + mm * 60 + ss - offset) * 1000


def _outcome(fn, value):
    try:
        return fn(value)
    except ValueError as exc:
        return f"ValueError: {exc}"


def test_twitter_date():
    assert twitter_date_ms("Sat Sep 28 18:05:23 +0000 2019") == 1569693923000
    assert twitter_date_ms("Sat Sep 28 20:05:23 +0200 2019") == 1569693923000
    with pytest.raises(ValueError, match="bad date 'Sat Sep 28 24:05:23 \\+0000 2019'"):
        twitter_date_ms("Sat Sep 28 24:05:23 +0000 2019")


_DIGITS = st.text("0123456789 +-_x", min_size=2, max_size=2)
_NEAR_VALID = st.builds(
    lambda wd, mon, d, h, m, s, tz, y, sep: f"{wd} {mon} {d}{sep}{h}:{m}:{s} {tz} {y}",
    st.sampled_from(["Sat", "Mon", "xx "]),
    st.sampled_from(["Sep", "Feb", "Dec", "Foo"]),
    st.sampled_from(["28", "29", "30", "31", "01", "00", "32", " 5", "+5"]) | _DIGITS,
    st.sampled_from(["00", "18", "23", "24", "-1"]) | _DIGITS,
    st.sampled_from(["00", "05", "59", "60"]) | _DIGITS,
    st.sampled_from(["00", "23", "60", "61"]) | _DIGITS,
    st.sampled_from(["+0000", "+0200", "-0530", "+00x0", "junk!"]),
    st.sampled_from(["2019", "2020", "2100", "0000", "20x9"]),
    st.sampled_from([" ", "T", ""]),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_NEAR_VALID | st.text(max_size=34), min_size=1, max_size=6))
def test_cached_parse_matches_reference(dates):
    # Several dates per example, so cached days are reused across hour/minute/second changes.
    for value in dates:
        assert _outcome(twitter_date_ms, value) == _outcome(_reference, value)
