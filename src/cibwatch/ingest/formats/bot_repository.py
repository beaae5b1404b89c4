"""OSoMe Bot Repository sets: ``<name>.tsv`` (id, label) and ``<name>_tweets.json``.

The tsv gives labels only (``bot``/``human``, ``0``/``1`` in varol-2017, kinds such as
``political_Bot`` in astroturf); separators may be tabs or runs of spaces. The json is an
array of ``{created_at, user}`` where ``user`` is a v1.1 user object and ``created_at`` the
time of one sampled post: the profile snapshot's ``probed_at``. Ingest both files of a set
(or the folder) to get profiles and labels; both land under the set's name.
"""

from __future__ import annotations

import re
from pathlib import Path

from cibwatch.ingest.formats.twitter_v1 import account_from_v1_user
from cibwatch.ingest.jsonstream import iter_json
from cibwatch.ingest.registry import Reader, Sink, register
from cibwatch.ingest.source import DAMAGED_STREAM, OVERLONG_LINE, OverlongLine, Source, dataset_name
from cibwatch.values import parse_date_ms

_LINE = re.compile(rb"^\s*(\d{1,20})\s+([A-Za-z_]+|[01])\s*$")
_HUMAN = {"human", "0"}


def label_of(raw_label: str) -> str:
    """The normalized label: 'human' for human/0, 'bot' for every bot kind (bot, 1, political_Bot…)."""
    return "human" if raw_label.lower() in _HUMAN else "bot"


def set_name(source: Source) -> str:
    """The set's name: the --dataset given, else the file name without ``_tweets``."""
    default = dataset_name(source.path)
    if source.dataset != default:
        return source.dataset
    return default.removesuffix("_tweets")


@register
class BotRepositoryLabels(Reader):
    name = "bot-repository"
    description = "OSoMe Bot Repository labels (<name>.tsv / varol .dat: id and label) and <name>_tweets.json"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        lines = [ln for ln in head.split(b"\n")[:20] if ln.strip()]
        if lines and all(_LINE.match(ln) for ln in lines[:-1] or lines):
            return True
        return _is_probe_json(head)

    def read(self, source: Source, sink: Sink) -> None:
        if _is_probe_json(source.head(4096)):
            _read_probes(source, sink)
            return
        dataset = set_name(source)
        for lineno, offset, line in source.lines():
            if line is None:
                sink.quarantine(DAMAGED_STREAM, None, lineno, offset)
                break
            if isinstance(line, OverlongLine):
                sink.quarantine(OVERLONG_LINE, line, lineno, offset)
                continue
            match = _LINE.match(line)
            if not match:
                sink.quarantine("expected 'account_id<TAB>label'", line, lineno, offset)
                continue
            raw_label = match.group(2).decode()
            sink.label(
                {
                    "account_id": match.group(1).decode(),
                    "label": label_of(raw_label),
                    "label_detail": raw_label,
                    "dataset": dataset,
                }
            )


def _is_probe_json(head: bytes) -> bool:
    start = head.lstrip()[:400]
    return (
        start.startswith(b"[") and b'"user"' in start and b'"created_at"' in start and b'"text"' not in start
    )


def _read_probes(source: Source, sink: Sink) -> None:
    dataset = set_name(source)
    for item in iter_json(source):
        if item.error:
            sink.quarantine(item.error, item.raw, item.line, item.byte_offset)
            continue
        try:
            value = item.value
            if not isinstance(value, dict) or not isinstance(value.get("user"), dict):
                raise ValueError("expected {created_at, user} with a v1.1 user object")
            probed = value.get("created_at")
            record = account_from_v1_user(value["user"], parse_date_ms(probed) if probed else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            sink.quarantine(f"{type(exc).__name__}: {exc}", item.raw, item.line, item.byte_offset)
            continue
        record["dataset"] = dataset
        sink.account(record)
