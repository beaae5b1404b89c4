"""The Kaggle "Twitter bot prediction" set (2017): ``bots_data.csv`` / ``nonbots_data.csv``.

Twenty profile columns plus the account's last status and a ``bot`` column (1 bot, 0 human).
The files carry no crawl time. The status (a JSON object or a Python repr of one) was fetched
with the profile, so its newest timestamp is a lower bound of the crawl: that is ``probed_at``,
which gives the per-day rates an age to divide by. Without a dated status it stays null.
"""

from __future__ import annotations

import re
from pathlib import Path

from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import any_date_ms, count, flag, text_or_none

_DASHED = re.compile(r"\d{1,2}-\d{1,2}-\d{4} \d{1,2}:\d{2}")
# A v1.1 timestamp wherever it sits in the status text ('Mon Mar 13 22:35:37 +0000 2017').
_V1_DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [+-]\d{4} \d{4}")
_REQUIRED = {"id", "screen_name", "followers_count", "friends_count", "listedcount", "bot"}


def _date(value: str | None) -> int | None:
    # Re-saved by a spreadsheet: 'MM-DD-YYYY HH:MM' beside 'M/D/YYYY H:MM' and the v1.1 form.
    if value and _DASHED.fullmatch(value.strip()):
        value = value.strip().replace("-", "/")
    return any_date_ms(value)


def _newest_date(status: str | None) -> int | None:
    # The status may hold older times too (a retweeted post, the user's creation): take the newest.
    times = [any_date_ms(match) for match in _V1_DATE.findall(status or "")]
    return max((t for t in times if t is not None), default=None)


def _account(row: dict[str, str]) -> dict[str, object]:
    account_id = (row.get("id_str") or row["id"]).strip()
    if not account_id.isdigit():
        raise ValueError(f"bad account id {account_id!r}")
    return {
        "account_id": account_id,
        "screen_name": text_or_none(row.get("screen_name")),
        "name": text_or_none(row.get("name")),
        "description": text_or_none(row.get("description")),
        "created_at": _date(row.get("created_at")),
        "followers": count(row.get("followers_count")),
        "following": count(row.get("friends_count")),
        "posts_count": count(row.get("statuses_count")),
        "likes_count": count(row.get("favourites_count")),
        "listed_count": count(row.get("listedcount")),
        "verified": flag(row.get("verified")),
        "default_profile": flag(row.get("default_profile")),
        "default_profile_image": flag(row.get("default_profile_image")),
        "profile_use_background_image": None,
        "location": text_or_none(row.get("location")),
        "url": text_or_none(row.get("url")),
        "lang": text_or_none(row.get("lang")),
        "probed_at": _newest_date(row.get("status")),
        "raw": None,
    }


@register
class KaggleBotsReader(Reader):
    name = "kaggle-bot-2017"
    layout = tuple(sorted(_REQUIRED))
    description = "Kaggle Twitter bot prediction CSV (profile columns + 'bot' 1/0)"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return set(first_csv_header(head)) >= _REQUIRED

    def read(self, source: Source, sink: Sink) -> None:
        for lineno, row, problem in source.csv_rows():
            raw = ",".join(str(v) for v in row.values()) if row else None
            if problem:
                sink.quarantine(problem, raw, lineno)
                continue
            try:
                record = _account(row)
                label = {"1": "bot", "0": "human"}.get(row["bot"].strip())
                if label is None:
                    raise ValueError(f"bad bot column {row['bot']!r} (expected 1 or 0)")
            except (ValueError, KeyError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw, lineno)
                continue
            sink.account(record)
            sink.label({"account_id": record["account_id"], "label": label, "label_detail": label})
