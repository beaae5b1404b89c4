"""Helpers the JSON readers share (twitter-v2, bluesky, mastodon)."""

from __future__ import annotations

import json
from typing import Any

import orjson

from cibwatch.ingest.jsonstream import JsonItem


def dump_json(obj: Any) -> bytes:
    """JSON of ``obj`` for a quarantine row or ``raw``, as UTF-8; never raises.

    orjson refuses lone surrogates, integers beyond 64 bits and nesting past 254 levels; ``json``
    then writes them (surrogates as ``\\ud800`` escapes), and what even it refuses (nesting past
    the recursion limit) becomes a JSON string saying so.

    >>> dump_json({"text": "\\ud800", "n": 2**70})
    b'{"text": "\\\\ud800", "n": 1180591620717411303424}'
    """
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError
        pass
    try:
        text = json.dumps(obj, default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError) as exc:
        return orjson.dumps(f"(a {type(obj).__name__} that cannot be written as JSON: {type(exc).__name__})")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, the output is ASCII
        return json.dumps(obj, default=str).encode("ascii")


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
