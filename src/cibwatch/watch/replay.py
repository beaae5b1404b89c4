"""Replays for ``watch``: X API v2 pages (the simulator's output, a twarc2 search) cut into the
one-post responses ``twarc2 stream`` writes, in time order, and written into a growing file.

>>> lines = stream_lines(Path("sim/posts"))                          # doctest: +SKIP
>>> write_growing(lines, Path("live/stream.jsonl"), posts_per_second=2000)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson


def stream_lines(folder: Path) -> list[tuple[str, bytes]]:
    """(created_at, line) of every post in the pages of ``folder``'s ``*.jsonl``, sorted by time:
    each line ``{"data": post, "includes": {"users": [its author and referenced posts' authors],
    "tweets": [the posts it references]}}`` as the filtered stream sends it."""
    out: list[tuple[str, bytes]] = []
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, "rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                page = orjson.loads(raw)
                includes = page.get("includes") or {}
                users = {u["id"]: u for u in includes.get("users") or []}
                tweets = {t["id"]: t for t in includes.get("tweets") or []}
                for post in page.get("data") or []:
                    refs = [tweets[r["id"]] for r in post.get("referenced_tweets") or [] if r["id"] in tweets]
                    authors = [post.get("author_id"), *(t.get("author_id") for t in refs)]
                    line = {
                        "data": post,
                        "includes": {
                            "users": [users[a] for a in dict.fromkeys(authors) if a in users],
                            "tweets": refs,
                        },
                    }
                    out.append((str(post.get("created_at", "")), orjson.dumps(line) + b"\n"))
    out.sort(key=lambda item: item[0])
    return out


def write_growing(
    lines: Iterable[bytes],
    path: Path,
    *,
    posts_per_second: float,
    chunk: int = 100,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Append ``lines`` to ``path`` at about ``posts_per_second``, ``chunk`` lines at a time
    (flushed, so a follower sees whole chunks); ``on_chunk(lines written so far)`` after each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    written = 0
    batch: list[bytes] = []
    with open(path, "ab") as fh:
        for line in lines:
            batch.append(line)
            if len(batch) < chunk:
                continue
            fh.write(b"".join(batch))
            fh.flush()
            written += len(batch)
            batch.clear()
            if on_chunk is not None:
                on_chunk(written)
            ahead = written / posts_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if batch:
            fh.write(b"".join(batch))
            fh.flush()
            written += len(batch)
            if on_chunk is not None:
                on_chunk(written)
