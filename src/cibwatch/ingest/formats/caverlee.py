"""Lee, Eoff & Caverlee (2011) honeypot set: ``content_polluters.csv`` / ``legitimate_users.csv``.

No header: UserID, CreatedAt, CollectedAt, NumFollowings, NumFollowers, NumTweets,
LenScreenName, LenDescription[, label]. Only the lengths of the screen name and description
are known, so they stay in ``raw``. The label comes from the file name (content_polluters →
bot, legitimate_users → human) or, when present, the last column (1 bot, 0 human).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.source import DAMAGED_STREAM, OVERLONG_LINE, OverlongLine, Source
from cibwatch.values import any_date_ms, count

_US_DATE = rb"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?"
_ROW = re.compile(rb"^\d+," + _US_DATE + b"," + _US_DATE + rb",\d+,\d+,\d+,\d+,\d+(,[01])?\r?$")
_ISO_ROW = re.compile(rb"^\d+\t\d{4}-\d{2}-\d{2} [\d:]+\t\d{4}-\d{2}-\d{2} [\d:]+(\t\d+){5}\r?$")


def _file_label(name: str) -> str | None:
    low = name.lower()
    if "polluter" in low:
        return "bot"
    if "legitimate" in low:
        return "human"
    return None


@register
class CaverleeReader(Reader):
    name = "caverlee-2011"
    description = "Lee et al. 2011 honeypot users (no header: id, created, collected, counts, lengths)"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        lines = [ln for ln in head.split(b"\n")[:10] if ln.strip()][:-1] or head.split(b"\n")[:1]
        return bool(lines) and all(_ROW.match(ln) or _ISO_ROW.match(ln) for ln in lines)

    def read(self, source: Source, sink: Sink) -> None:
        file_label = _file_label(source.path.name) or _file_label(source.dataset)
        for lineno, offset, line in source.lines():
            if line is None:
                sink.quarantine(DAMAGED_STREAM, None, lineno, offset)
                break
            if isinstance(line, OverlongLine):
                sink.quarantine(OVERLONG_LINE, line, lineno, offset)
                continue
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            fields = text.split("\t" if "\t" in text else ",")
            try:
                if len(fields) not in (8, 9):
                    raise ValueError(f"expected 8 or 9 fields, got {len(fields)}")
                account_id, created, collected = fields[0], fields[1], fields[2]
                if not account_id.isdigit():
                    raise ValueError(f"bad account id {account_id!r}")
                record = {
                    "account_id": account_id,
                    "created_at": any_date_ms(created),
                    "probed_at": any_date_ms(collected),
                    "following": count(fields[3]),
                    "followers": count(fields[4]),
                    "posts_count": count(fields[5]),
                    "raw": orjson.dumps(
                        {"len_screen_name": count(fields[6]), "len_description": count(fields[7])}
                    ).decode(),
                }
                label = file_label or (
                    {"1": "bot", "0": "human"}.get(fields[8]) if len(fields) == 9 else None
                )
            except ValueError as exc:
                sink.quarantine(f"ValueError: {exc}", line, lineno, offset)
                continue
            sink.account(record)
            if label:
                detail = "content_polluter" if label == "bot" else "legitimate_user"
                sink.label({"account_id": account_id, "label": label, "label_detail": detail})
