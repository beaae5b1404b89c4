"""Field parsers: the one date parser (every form, the declared zone, its reason), its column
twin, and the cached v1.1 date parser agreeing with the plain one on any text."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.ingest.dates import parse_dates_ms
from cibwatch.values import DATE_FORMS, bad_date, default_zone, parse_date_ms, twitter_date_ms, zone


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


_NEAR_ISO = st.builds(
    "{}-{}-{}T{}:{}:{}.000Z".format,
    st.sampled_from(["2024", "2023", "0001", "9999", "20x4", "２０２４"]),
    st.sampled_from(["01", "02", "12", "13", "00", " 2", "+2"]),
    st.sampled_from(["01", "28", "29", "30", "31", "00", "32", " 5"]),
    st.sampled_from(["00", "23", "24", "-1", "0١"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60", "61"]),
)


def _iso_reference(value: str) -> int:
    dt = datetime.fromisoformat(value.strip()[:-1] + "+00:00")
    return int(dt.timestamp() * 1000)


@settings(max_examples=600, deadline=None)
@given(st.lists(_NEAR_ISO, min_size=1, max_size=6))
def test_cached_v2_dates_match_fromisoformat(dates):
    # X API v2's 'YYYY-MM-DDTHH:MM:SS.000Z' is cached by day and second once parsed whole: a
    # cached day or second never lets an impossible date through, and values stay exact.
    for value in dates * 2:
        try:
            expected: int | str = _iso_reference(value)
        except ValueError:
            expected = bad_date(value)
        assert _outcome(parse_date_ms, value) == (
            expected if isinstance(expected, int) else f"ValueError: {expected}"
        )


# -- the one date parser (parse_date_ms) and its column twin (parse_dates_ms) -----------------------

MOMENT_MS = 1412711759000  # 2014-10-07 19:55:59 UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-10-07T19:55:59Z", MOMENT_MS),
        ("2014-10-07T19:55:59+00:00", MOMENT_MS),
        ("2014-10-07T21:55:59+02:00", MOMENT_MS),
        ("2014-10-07T19:55:59.250Z", MOMENT_MS + 250),
        ("2014-10-07T19:55:59", MOMENT_MS),  # no zone: the default, UTC
        ("2014-10-07 19:55", MOMENT_MS - 59_000),
        ("2014-10-07", MOMENT_MS - (19 * 3600 + 55 * 60 + 59) * 1000),
        ("Tue Oct 07 19:55:59 +0000 2014", MOMENT_MS),
        ("Tue Oct 07 21:55:59 +0200 2014", MOMENT_MS),
        ("1412711759", MOMENT_MS),  # epoch seconds
        ("1412711759000", MOMENT_MS),  # epoch milliseconds
        ("1412711759.5", MOMENT_MS + 500),
        ("10/7/2014 19:55", MOMENT_MS - 59_000),
        (" 2014-10-07T19:55:59Z ", MOMENT_MS),
        (" Tue Oct 07 19:55:59 +0000 2014\t", MOMENT_MS),
    ],
)
def test_every_date_form(text, expected):
    assert parse_date_ms(text) == expected
    ms, bad = parse_dates_ms(pl.Series([text]))
    assert (ms.to_list(), bad) == ([expected], {})


def test_declared_zone_applies_to_times_without_one():
    berlin = zone("Europe/Berlin")
    assert parse_date_ms("2014-10-07 21:55:59", berlin) == MOMENT_MS  # CEST, UTC+2
    assert parse_date_ms("2014-10-07T19:55:59Z", berlin) == MOMENT_MS  # a zone given wins
    assert parse_date_ms("1412711759", berlin) == MOMENT_MS  # epoch times have no zone to set
    with default_zone("+05:30"):
        assert parse_date_ms("2014-10-08 01:25:59") == MOMENT_MS
    assert parse_date_ms("2014-10-07 19:55:59") == MOMENT_MS  # back to UTC after the block
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")


@pytest.mark.parametrize("text", ["yesterday", "2014-13-01", "2014-10-07 25:00", "7/10/14 19:55", "-5", ""])
def test_an_unreadable_date_names_the_value_and_the_forms_tried(text):
    with pytest.raises(ValueError) as err:
        parse_date_ms(text)
    assert str(err.value) == bad_date(text)
    for form in DATE_FORMS:
        assert form in str(err.value)


_DATE_TEXT = st.one_of(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)).flatmap(
        lambda d: st.sampled_from(
            [
                d.isoformat(),
                d.isoformat(sep=" ", timespec="minutes"),
                d.strftime("%Y-%m-%dT%H:%M:%SZ"),
                d.strftime("%Y-%m-%dT%H:%M:%S+0130"),
                d.strftime("%a %b %d %H:%M:%S -0500 %Y"),
                d.strftime("%Y-%m-%d"),
                str(int(d.replace(tzinfo=UTC).timestamp())),
                str(int(d.replace(tzinfo=UTC).timestamp() * 1000)),
                f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}",
            ]
        )
    ),
    st.text("0123456789-:T +Z./", max_size=26),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DATE_TEXT, min_size=1, max_size=8), st.sampled_from(["UTC", "Europe/Berlin", "-03:00"]))
def test_column_parser_gives_what_the_scalar_parser_gives(values, zone_name):
    # The vectorized fast paths may only ever agree with parse_date_ms, reasons included.
    tz = zone(zone_name)
    ms, bad = parse_dates_ms(pl.Series(values, dtype=pl.String), tz)
    for i, value in enumerate(values):
        if not value.strip() or value.strip().upper() in {"NA", "NULL", "NONE", "NAN"}:
            assert ms[i] is None and i not in bad
            continue
        try:
            expected: object = parse_date_ms(value, tz)
        except ValueError as exc:
            expected = str(exc)
        assert (bad[i] if i in bad else ms[i]) == expected, value


def test_fractional_seconds_are_exact_milliseconds() -> None:
    # timestamp() * 1000 is a float: 2148595200.015 * 1000 fell to …014 (found by hypothesis above).
    assert parse_date_ms("2038-02-01T00:00:00.015000", zone("UTC")) == 2148595200015
    assert parse_date_ms("1969-12-31T23:59:59.999500", zone("UTC")) == -1  # floored, as the column parser
