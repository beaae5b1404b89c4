"""Helpers the JSON readers share (twitter-v2, bluesky, mastodon)."""

from __future__ import annotations

import json
from typing import Any

import orjson

from cibwatch.ingest.base import JsonItem


def dump_json(obj: Any) -> bytes:
    """JSON of ``obj`` for a quarantine row or ``raw``; never raises (huge integers become text)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, default=str, ensure_ascii=False).encode("utf-8", "surrogateescape")


def item_problem(item: JsonItem) -> str | None:
    """Why ``item`` cannot be read, or None: a JSON error, or bytes that are not UTF-8.

    A file whose first line is not JSON is decoded leniently (surrogateescape); strings with
    undecodable bytes would then reach the tables, so such a value is refused whole.
    """
    if item.error:
        return item.error
    try:
        item.raw.decode("utf-8")
    except UnicodeDecodeError:
        return "undecodable bytes (not UTF-8)"
    return None
