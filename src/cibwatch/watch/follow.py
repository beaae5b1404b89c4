"""Following growing JSON Lines files: which files, what each gained since its recorded offset.

A file is known by its identity, ``device:inode``, checked against a hash of its first bytes, so
that a rotated file (renamed to ``stream.jsonl.1``) keeps its offset under its new name, and a file
truncated or replaced in place starts again from its first byte. Only whole lines are taken: a
line still being written is read in the next batch. Standard input is spooled, line by line,
into a file inside the case, which is then followed like any other.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cibwatch.errors import InputFormatError

# Bytes of a file's start whose hash tells a truncated-and-rewritten file from the one recorded.
HEAD_BYTES = 1024
# The most bytes of one file taken into one batch: a backlog is worked off in bounded batches.
MAX_BATCH_BYTES = 32 << 20
STDIN = "-"


@dataclass(frozen=True)
class Offset:
    """Where following a file stands: the bytes and lines of it already committed to the case."""

    identity: str  # "device:inode"
    path: str  # where the file was last seen
    offset: int  # bytes committed: always the end of a whole line
    line: int  # the next line's number (1-based)
    head_len: int  # bytes of the file's start that ``head_sha`` hashes
    head_sha: str


@dataclass(frozen=True)
class Range:
    """Whole lines a file gained: bytes [start, end) from line ``first_line``, and the offset
    to record once they are committed."""

    path: Path
    start: int
    end: int
    first_line: int
    after: Offset
    more: bool = False  # the file held more than one batch may take: a backlog


def identity_of(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_dev}:{stat.st_ino}"


def head_hash(path: Path, length: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(length)).hexdigest()


def expand_sources(sources: Sequence[str | Path], spool_dir: Path | None = None) -> list[Path]:
    """The files ``sources`` name now: each file as given, each folder's visible files (not
    compressed: a compressed file cannot be followed), in name order. ``-`` is the stdin spool."""
    files: list[Path] = []
    for item in sources:
        if str(item) == STDIN:
            if spool_dir is not None and (spool_dir / STDIN_SPOOL).exists():
                files.append(spool_dir / STDIN_SPOOL)
            continue
        path = Path(item)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_COMPRESSED)
                )
            )
        elif path.is_file():
            files.append(path)
        # A file named but not there yet is followed once it appears.
    return files


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst")
STDIN_SPOOL = "stdin.jsonl"


def check_sources(sources: Sequence[str | Path]) -> None:
    """Refuse sources that cannot be followed, before anything is read."""
    if not sources:
        raise InputFormatError("no source given: pass files, folders or - for standard input")
    if sum(str(s) == STDIN for s in sources) > 1:
        raise InputFormatError("- (standard input) can be given once")
    for item in sources:
        path = Path(item)
        if str(item) != STDIN and path.is_dir() and (path / "case.json").exists():
            raise InputFormatError(f"{path} is a cibwatch case, not a source; pass the files to follow")
        if str(item) != STDIN and path.is_file() and path.name.endswith(_COMPRESSED):
            raise InputFormatError(f"{path} is compressed: a compressed file cannot be followed as it grows")


def pending_range(path: Path, known: Offset | None, max_bytes: int = MAX_BATCH_BYTES) -> Range | None:
    """The whole lines ``path`` gained since ``known`` (None: a file never seen), or None.

    A file shorter than its recorded offset, or whose first bytes changed, was truncated or
    replaced: it is read again from the start (posts already stored count as duplicates)."""
    try:
        stat = path.stat()
        identity = f"{stat.st_dev}:{stat.st_ino}"
        size = stat.st_size
        start, line = 0, 1
        same = known is not None and known.identity == identity and size >= known.offset
        if same and head_hash(path, known.head_len) == known.head_sha:  # type: ignore[union-attr]
            start, line = known.offset, known.line  # type: ignore[union-attr]
        if size <= start:
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            chunk = fh.read(min(size - start, max_bytes))
            # One line longer than a batch may take: the batch is that line (the reader
            # quarantines it past MAX_LINE_BYTES).
            long_line_end = _line_end(fh, start + len(chunk), size) if b"\n" not in chunk else None
            head_len = min(HEAD_BYTES, size)
            fh.seek(0)
            head = fh.read(head_len)
    except FileNotFoundError:  # rotated away between listing and reading: found under its new name
        return None
    last = chunk.rfind(b"\n")
    if last >= 0:
        end, lines = start + last + 1, chunk.count(b"\n", 0, last + 1)
    elif long_line_end is not None:
        end, lines = long_line_end, 1
    else:
        return None  # no whole line yet
    head_len = min(len(head), end)  # only committed bytes: they cannot change without a truncation
    after = Offset(
        identity=identity,
        path=str(path),
        offset=end,
        line=line + lines,
        head_len=head_len,
        head_sha=hashlib.sha256(head[:head_len]).hexdigest(),
    )
    return Range(
        path=path, start=start, end=end, first_line=line, after=after, more=start + len(chunk) < size
    )


def _line_end(fh: IO[bytes], at: int, size: int) -> int | None:
    """The offset after the next newline from ``at`` (read in 1 MiB blocks, nothing kept), or None
    if the line is not whole yet."""
    fh.seek(at)
    while at < size:
        block = fh.read(min(1 << 20, size - at))
        if not block:
            break
        cut = block.find(b"\n")
        if cut >= 0:
            return at + cut + 1
        at += len(block)
    return None


class StdinSpool:
    """Copies standard input, whole lines, into ``spool_dir/stdin.jsonl`` (synced as it goes),
    from a thread, so the follower reads it as a growing file. ``done`` is set at end of input."""

    def __init__(self, spool_dir: Path, stream: IO[bytes] | None = None) -> None:
        self.path = spool_dir / STDIN_SPOOL
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.done = threading.Event()
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.thread = threading.Thread(target=self._copy, name="cibwatch-stdin", daemon=True)

    def start(self) -> StdinSpool:
        self.thread.start()
        return self

    def _copy(self) -> None:
        try:
            with open(self.path, "ab") as out:
                for line in iter(self.stream.readline, b""):
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    out.flush()
                    os.fsync(out.fileno())
        finally:
            self.done.set()
