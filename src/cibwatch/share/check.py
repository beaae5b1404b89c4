"""The last look before an export leaves: does any file still hold an id or name it must not?

``find_leaks`` reads every file of the export (CSV, HTML, JSON, GraphML/GEXF as text; Parquet
decoded cell by cell; anything else as raw bytes) and looks, token by token (``scrub.tokens``), for:

- any original account or post id (all of them are pseudonymized, flagged or not);
- an unflagged account's handle as ``@handle``, or as a bare token (a chunk or a URL path part, not
  a word inside a domain) when it is distinctive (it has a digit or an underscore, or 8 characters
  or more: a bare ``news`` is a word, not a handle);
- an unflagged account's display name of two words or more, as consecutive words.

Ids shorter than ``MIN_ID_CHARS`` are left out: a 3-digit id is indistinguishable from a count.
PNG figures are read as bytes: cibwatch draws no names or ids in them (histograms, and networks
and timelines coloured by role), and their compressed pixels cannot be searched for text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cibwatch.share.scrub import tokens

MIN_ID_CHARS = 6
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Leak:
    file: str  # relative to the export folder
    kind: str  # "id", "handle" or "name"
    value: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} {self.value!r}"


@dataclass
class Forbidden:
    """What no exported file may contain."""

    ids: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)  # lower case
    names: set[str] = field(default_factory=set)  # case-folded words joined by one space

    def add_name(self, name: str) -> None:
        words = _WORDS.findall(name.casefold())
        if len(words) >= 2 and len(" ".join(words)) >= 8:
            self.names.add(" ".join(words))


def distinctive(handle: str) -> bool:
    """Whether a bare ``handle`` in text is surely the handle (not an ordinary word)."""
    return len(handle) >= 8 or any(c.isdigit() or c == "_" for c in handle)


def file_text(path: Path) -> str:
    """What ``find_leaks`` searches in ``path``: Parquet cells as text, any other file as text."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return (
            "\n".join("\t".join("" if v is None else str(v) for v in row) for row in frame.iter_rows())
            + "\n"
            + "\t".join(frame.columns)
        )
    return path.read_bytes().decode("utf-8", errors="replace")


def text_leaks(text: str, forbidden: Forbidden) -> list[tuple[str, str]]:
    """(kind, value) of everything forbidden in ``text``."""
    found: set[tuple[str, str]] = set()
    for token in tokens(text):
        if len(token) >= MIN_ID_CHARS and token in forbidden.ids:
            found.add(("id", token))
    # Not plain words: the handle "baydaily" in the domain baydaily.com is a site, not a mention.
    for token in tokens(text, words=False):
        lower = token.lower()
        if lower.startswith("@") and lower[1:] in forbidden.handles:
            found.add(("handle", lower[1:]))
        elif lower in forbidden.handles and distinctive(lower):
            found.add(("handle", lower))
    if forbidden.names:
        words = _WORDS.findall(text.casefold())
        lengths = {name.count(" ") + 1 for name in forbidden.names}
        for n in lengths:
            for i in range(len(words) - n + 1):
                phrase = " ".join(words[i : i + n])
                if phrase in forbidden.names:
                    found.add(("name", phrase))
    return sorted(found)


def find_leaks(folder: str | Path, forbidden: Forbidden, *, skip: frozenset[str] = frozenset()) -> list[Leak]:
    """Every forbidden id, handle or name in the files under ``folder`` (paths in ``skip`` left out).

    >>> find_leaks("export", Forbidden(ids={"1351683634792958806"}))   # doctest: +SKIP
    [Leak(file='coord/edges.csv', kind='id', value='1351683634792958806')]
    """
    root = Path(folder)
    leaks: list[Leak] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name in skip:
            continue
        leaks += [Leak(name, kind, value) for kind, value in text_leaks(file_text(path), forbidden)]
    return leaks
