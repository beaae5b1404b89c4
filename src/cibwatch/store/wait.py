"""Waiting for a case another process holds: DuckDB lets one process at a time open ``case.duckdb``.

The review server opens the case per request, so a CLI command started while it serves one gets in
a moment later. ``connect_waiting`` retries for ``CIBWATCH_LOCK_WAIT`` seconds (default 30), then
raises a ``CaseError`` that says who holds the case, instead of DuckDB's lock error.

>>> with open_case("out/case") as case:                      # doctest: +SKIP
...     connect_waiting(case, on_wait=lambda s: print("waiting for the case…"))
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import duckdb

from cibwatch.errors import CaseError, ConfigError
from cibwatch.store.case import Case

LOCK_WAIT_ENV = "CIBWATCH_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 30.0
_POLL_S = 0.25


def lock_wait_seconds() -> float:
    """Seconds to wait for a held case: ``CIBWATCH_LOCK_WAIT`` or the default."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{LOCK_WAIT_ENV} must be a number of seconds >= 0. Got {raw!r} instead.")
    return value


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB saying another process holds the database file."""
    return isinstance(exc, duckdb.IOException) and "Could not set lock on file" in str(exc)


def connect_waiting(
    case: Case, *, wait: float | None = None, on_wait: Callable[[float], None] | None = None
) -> None:
    """Connect ``case`` to its DuckDB file, retrying while another process holds it.

    ``on_wait(seconds)`` is called once, when the first attempt finds the case held.
    """
    wait = lock_wait_seconds() if wait is None else wait
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            case.con  # noqa: B018 - connecting is the point
            return
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc):
                raise
            if time.monotonic() >= deadline:
                holder = re.search(r"\(PID (\d+)\)", str(exc))
                who = f"process {holder.group(1)}" if holder else "another process"
                raise CaseError(
                    f"case {case.root} is in use by {who} (a `cibwatch serve` between requests, or "
                    f"another command); waited {wait:g} s. Try again when it is done, or wait longer "
                    f"with {LOCK_WAIT_ENV}=SECONDS"
                ) from None
            if not told and on_wait is not None:
                on_wait(wait)
                told = True
            time.sleep(_POLL_S)
