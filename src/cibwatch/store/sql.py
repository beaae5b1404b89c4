"""Paths as SQL values: every file or folder name that reaches DuckDB goes through here.

DuckDB takes no bound parameters in ``CREATE VIEW`` or ``SET``, and its file readers glob
every name they are given, bound or not (``read_parquet(?)`` with ``work/g[1]/x.parquet``
reads ``work/g1/x.parquet``). So a path becomes a string literal (``'`` doubled) and, for a
reader, its glob characters are put in brackets (``[`` → ``[[]``), which DuckDB matches as
themselves. Callers pass lists of files they listed in Python (``Case.parts``), never a
pattern built from a path.

>>> literal("it's")
"'it''s'"
>>> file_literal("/work/g[1]/x*.parquet")
"'/work/g[[]1]/x[*].parquet'"
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from cibwatch.errors import CaseError

_GLOB = re.compile(r"([\[*?])")


def literal(value: str | Path) -> str:
    """``value`` as a DuckDB string literal, for names DuckDB does not glob (``temp_directory``,
    ``COPY … TO``). Paths are made absolute, so a name like ``~x`` or ``s3:`` stays a local file.

    >>> literal("a'b")
    "'a''b'"
    """
    text = os.path.abspath(value) if isinstance(value, Path) else value
    if "\x00" in text:
        raise CaseError(f"{text!r} holds a NUL character; DuckDB cannot name such a file")
    return "'" + text.replace("'", "''") + "'"


def file_literal(path: str | Path) -> str:
    """A literal that names exactly the file ``path`` to a DuckDB reader (``read_parquet`` and co.).

    >>> file_literal("/data/case/tables/posts/part-0.parquet")
    "'/data/case/tables/posts/part-0.parquet'"
    """
    text = os.path.abspath(path)
    if _GLOB.search(text):
        if "\\" in text:  # a glob pattern splits at '\': no escape can name such a file
            raise CaseError(
                f"DuckDB cannot read {text}: its path holds both '\\' and one of '[', '*', '?'; "
                "move the case to a folder whose path has no backslash"
            )
        text = _GLOB.sub(r"[\1]", text)
    return literal(text)


def read_parquet(paths: Sequence[str | Path], *, union_by_name: bool = False) -> str:
    """``read_parquet([...])`` over exactly ``paths``: no globbing, no hive columns from folder names.

    >>> read_parquet(["/c/tables/posts/part-0.parquet"])
    "read_parquet(['/c/tables/posts/part-0.parquet'], hive_partitioning=false)"
    """
    if not paths:
        raise ValueError("read_parquet needs at least one file; select from an empty table instead")
    files = ", ".join(file_literal(p) for p in paths)
    union = ", union_by_name=true" if union_by_name else ""
    return f"read_parquet([{files}], hive_partitioning=false{union})"
