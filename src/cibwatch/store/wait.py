"""Taking turns with a case another process holds: DuckDB lets one process at a time open ``case.duckdb``.

The review server opens the case per request; under steady load its requests overlap and it would
hold the file for good. So a command that finds the case held leaves a marker,
``DIR/.waiting-<pid>``: the server lets its open requests finish and starts no new one while a live
process's marker is there, the command gets in, removes its marker and works, and the server's next
requests wait for it in turn (``server_gate``). A command waits up to ``CIBWATCH_LOCK_WAIT`` seconds
(default 30), then raises a ``CaseError`` that says who holds the case, not DuckDB's lock error.

>>> with open_case("out/case") as case:                      # doctest: +SKIP
...     connect_waiting(case, on_wait=lambda s: print("waiting for the case…"))
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from cibwatch.errors import CaseError, ConfigError
from cibwatch.store.case import Case

LOCK_WAIT_ENV = "CIBWATCH_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 30.0
WAITING_PREFIX = ".waiting-"
_POLL_S = 0.05


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
    case: Case,
    *,
    wait: float | None = None,
    on_wait: Callable[[float], None] | None = None,
    ask_to_yield: bool = True,
) -> None:
    """Connect ``case`` to its DuckDB file, retrying while another process holds it.

    ``on_wait(seconds)`` is called once, when the first attempt finds the case held. With
    ``ask_to_yield`` a marker asks a serving process to let go (see the module doc); without it
    (the server itself) the last DuckDB error is raised when the wait runs out.
    """
    wait = lock_wait_seconds() if wait is None else wait
    deadline = time.monotonic() + wait
    marker: Path | None = None
    try:
        while True:
            try:
                case.con  # noqa: B018 - connecting is the point
                return
            except duckdb.IOException as exc:
                if not is_lock_conflict(exc):
                    raise
                if time.monotonic() >= deadline:
                    if not ask_to_yield:
                        raise
                    holder = re.search(r"\(PID (\d+)\)", str(exc))
                    who = f"process {holder.group(1)}" if holder else "another process"
                    raise CaseError(
                        f"case {case.root} is in use by {who} (a `cibwatch serve` under load, or "
                        f"another command); waited {wait:g} s. Try again when it is done, or wait "
                        f"longer with {LOCK_WAIT_ENV}=SECONDS"
                    ) from None
                if marker is None:
                    if ask_to_yield:
                        marker = case.root / f"{WAITING_PREFIX}{os.getpid()}"
                        marker.touch()
                    if on_wait is not None:
                        on_wait(wait)
                time.sleep(_POLL_S)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def others_waiting(case_root: str | Path) -> bool:
    """Whether a live process has asked for the case (a marker of a dead one is removed)."""
    waiting = False
    for marker in Path(case_root).glob(f"{WAITING_PREFIX}*"):
        pid = marker.name.removeprefix(WAITING_PREFIX)
        if pid.isdigit() and _alive(int(pid)):
            waiting = True
        else:
            marker.unlink(missing_ok=True)
    return waiting


def server_gate(case_root: str | Path, wait: float) -> None:
    """Before a server request opens the case: let a waiting command have it first (up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    while others_waiting(case_root) and time.monotonic() < deadline:
        time.sleep(_POLL_S)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    with contextlib.suppress(PermissionError):  # alive, someone else's
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
    return True
