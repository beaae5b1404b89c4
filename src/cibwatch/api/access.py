"""How the app reaches the case: opened per request, one request at a time.

The case is opened for each request and closed after it, under one process-wide lock:

- DuckDB lets one process hold ``case.duckdb`` for writing. Closing it between requests lets the CLI
  (``cibwatch review …``, a rerun of ``coord`` or ``campaigns``) use the case while the server runs,
  and every request sees the tables as they are now.
- The lock serializes review writes, so two appends can never read the same log head and fork the
  hash chain. Reads take it too: a review tool serves a handful of people, and opening is cheap
  because ``Case`` connects to DuckDB only when a request needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cibwatch.store.case import Case, open_case


class CaseAccess:
    """Opens the case at ``root`` for one request at a time; fails at once if it is not a case."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        open_case(self.root).close()  # a wrong --case fails at startup, not on the first request
        self._lock = threading.Lock()

    @contextmanager
    def open(self) -> Iterator[Case]:
        with self._lock, open_case(self.root) as case:
            yield case
