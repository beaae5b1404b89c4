"""CrowdTangle link-share CSVs as CooRnet / PyCooRnet write them (``crowdtangle``).

Three layouts are seen: CooRnet's ``ct_shares`` (id, expanded, date, account.*), its
``ct_shares_marked`` output (platformId instead of id, plus is.coordinated), and PyCooRnet's
flattened API posts (account_id, account_subscriberCount…, ``updated`` but no ``date``).
Column names are matched with "_" read as "." and case ignored.

Each row is a post (``id``, else ``platformId``) by ``account.id`` sharing the ``expanded``
URL at ``date`` (CrowdTangle's times are UTC); a file without ``date`` gives posts without a
time rather than taking ``updated`` (when CrowdTangle refreshed the post, not when it was
made). Platform from ``account.platform`` (or ``platform``): "facebook", "instagram"…
The account snapshot takes handle, name, url, verified and subscriberCount → followers;
probed_at is null (CrowdTangle does not say when the count was read). ``is.coordinated`` is
CooRnet's own output, not a label, and is not read.

CooRnet writes one row per (post, link): adjacent rows of one post merge into one post with
all its links. A post repeated further apart is a duplicate for the store (first row wins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.csv_common import header_of, normalized_rows, raw_row, require_columns
from cibwatch.ingest.registry import UNIT_MERGED, UNIT_USED, Reader, Sink, emit, register
from cibwatch.ingest.source import Source, first_csv_header
from cibwatch.values import count, flag, parse_date_ms, text_or_none


def _dotted(name: str) -> str:
    return name.strip().lower().replace("_", ".")


def _value(row: dict[str, str], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    value = value.strip()
    return None if not value or value.upper() in {"NA", "NULL", "NAN", "NONE"} else value


def _records(row: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    post_id = _value(row, "id") or _value(row, "platformid")
    account_id = _value(row, "account.id")
    if not post_id or not account_id:
        raise ValueError("empty id/platformId or account.id")
    platform = (_value(row, "account.platform") or _value(row, "platform") or "facebook").lower()
    when = _value(row, "date")
    link = _value(row, "expanded") or _value(row, "link")
    message = _value(row, "message") or _value(row, "title")
    post = {
        "post_id": post_id,
        "account_id": account_id,
        "created_at": parse_date_ms(when) if when else None,
        "kind": "original",
        "text": message,
        "urls": [link] if link else [],
        "hashtags": [],
        "mentions": [],
        "media_hashes": [],
        "platform": platform,
    }
    account = {
        "account_id": account_id,
        "platform": platform,
        "screen_name": _value(row, "account.handle"),
        "name": text_or_none(_value(row, "account.name")),
        "description": _value(row, "account.pagedescription"),
        "followers": count(_value(row, "account.subscribercount")),
        "verified": flag(_value(row, "account.verified")),
        "url": _value(row, "account.url"),
        "probed_at": None,
    }
    return [("accounts", account), ("posts", post)]


@register
class CrowdTangleReader(Reader):
    name = "crowdtangle"
    layout = ("id|platformid", "account.id", "expanded", "date")
    platform = "facebook"
    description = "CrowdTangle link shares as CooRnet/PyCooRnet write them (id, expanded, date, account.*)"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        header = {_dotted(c) for c in first_csv_header(head)}
        return {"account.id", "expanded"} <= header and bool(header & {"id", "platformid"})

    def read(self, source: Source, sink: Sink) -> None:
        raw_header = header_of(source)
        header = [_dotted(c) for c in raw_header]
        require_columns(source, header, self.name, ("id", "platformid"), ("account.id",), ("expanded",))
        current: list[tuple[str, dict[str, Any]]] | None = None
        for lineno, row, problem in normalized_rows(source, dict(zip(raw_header, header, strict=True))):
            if problem:
                sink.quarantine(problem, raw_row(row), lineno)
                continue
            try:
                records = _records(row)
            except (ValueError, KeyError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
                continue
            post = records[1][1]
            if current is not None and _same_post(current[1][1], post):
                for url in post["urls"]:
                    if url not in current[1][1]["urls"]:
                        current[1][1]["urls"].append(url)
                sink.unit(UNIT_MERGED)  # a further link of the post before it
                continue
            if current is not None:
                emit(current, sink)
            current = records
            sink.unit(UNIT_USED)  # its records are emitted once its further rows are merged in
        if current is not None:
            emit(current, sink)


def _same_post(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["platform"], a["post_id"], a["account_id"]) == (b["platform"], b["post_id"], b["account_id"])
