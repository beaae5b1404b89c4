"""How the app reaches the case: opened per request, requests side by side.

The case is opened for each request and closed after it:

- DuckDB lets one process hold ``case.duckdb`` at a time. Closing it between requests lets the CLI
  (``cibwatch review …``, a rerun of ``coord`` or ``campaigns``) use the case while the server runs
  (the CLI waits for the gap, ``CIBWATCH_LOCK_WAIT``), and every request sees the tables as they are.
- Within the process, every request gets its own connection to one DuckDB database, which serves
  readers and a writer at once (MVCC). Only *connecting* is serialized: ``Case`` (re)creates its
  table views when it connects, and two connections creating the same view at once fail with a
  catalog write-write conflict.
- Review writes are serialized by the review stage itself (``review.log.writing``): DuckDB never
  conflicts two appends, so without it two decisions could read the same log head and fork the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cibwatch.store.case import Case, open_case


class CaseAccess:
    """Opens the case at ``root`` once per request; fails at once if it is not a case."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        open_case(self.root).close()  # a wrong --case fails at startup, not on the first request
        self._connecting = threading.Lock()

    @contextmanager
    def open(self) -> Iterator[Case]:
        with open_case(self.root) as case:
            with self._connecting:
                case.con  # noqa: B018 - connect (and create the views) one request at a time
            yield case
