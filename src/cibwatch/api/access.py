"""How the app reaches the case: opened per request, requests side by side.

The case is opened for each request and closed after it:

- DuckDB lets one process hold ``case.duckdb`` at a time. Closing it between requests lets the CLI
  (``cibwatch review …``, a rerun of ``coord`` or ``campaigns``) use the case while the server runs,
  and every request sees the tables as they are. Under load requests overlap and the file would
  never be let go, so a waiting command leaves a marker and the server takes turns
  (``cibwatch.store.wait``): it starts no new request until the command has had the case, and
  its requests wait up to ``BUSY_WAIT_S`` for the command (then 503).
- Within the process, every request gets its own connection to one DuckDB database, which serves
  readers and a writer at once (MVCC). Only *connecting* is serialized: ``Case`` recreates its
  table views when it connects after the case's parts changed (a stamp in the database says when),
  and two connections creating the same view at once fail with a catalog write-write conflict.
- Review writes are serialized by the review stage itself (``review.log.writing``): DuckDB never
  conflicts two appends, so without it two decisions could read the same log head and fork the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cibwatch.store.case import Case, open_case
from cibwatch.store.wait import connect_waiting, server_gate

BUSY_WAIT_S = 5.0


class CaseAccess:
    """Opens the case at ``root`` once per request; fails at once if it is not a case."""

    def __init__(self, root: str | Path, busy_wait: float = BUSY_WAIT_S) -> None:
        self.root = Path(root)
        self.busy_wait = busy_wait
        open_case(self.root).close()  # a wrong --case fails at startup, not on the first request
        self._connecting = threading.Lock()

    @contextmanager
    def open(self) -> Iterator[Case]:
        server_gate(self.root, self.busy_wait)  # a waiting command goes first
        with open_case(self.root) as case:
            with self._connecting:  # connect (and create the views) one request at a time
                connect_waiting(case, wait=self.busy_wait, ask_to_yield=False)
            yield case
