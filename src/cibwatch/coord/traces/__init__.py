"""The trace registry: each trace turns ``posts`` into (account, item, time, post) events.

A trace is a DuckDB ``SELECT`` over the view ``p`` (the case's posts with ``t``, the post time in
epoch milliseconds floored to the run's time resolution) returning the columns ``account_id``,
``item`` (VARCHAR), ``t`` and ``post_id``. A trace that needs a helper table (near-duplicate text)
builds it in ``prepare``. The SQL may use ``{sync_bin_ms}`` (the sync bin in milliseconds).
Adding a trace is one module that calls ``register``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cibwatch.errors import ConfigError

Prepare = Callable[[Any, dict[str, Any]], None]


@dataclass(frozen=True)
class Trace:
    name: str
    description: str
    sql: str
    default: bool = True
    # A trace whose items already are time slots fixes its own window (seconds), e.g. sync bins.
    fixed_window: Callable[[dict[str, Any]], float] | None = None
    prepare: Prepare | None = field(default=None, compare=False)


_TRACES: dict[str, Trace] = {}


def register(trace: Trace) -> Trace:
    """Add ``trace`` to the registry (the built-ins use this too)."""
    _TRACES[trace.name] = trace
    return trace


def traces() -> dict[str, Trace]:
    """All registered traces by name."""
    _load_builtins()
    return dict(_TRACES)


def default_traces() -> list[str]:
    return [name for name, t in traces().items() if t.default]


def get_traces(names: list[str] | str | None) -> list[Trace]:
    """Resolve trace names ('all', 'default', a list or a comma-separated string)."""
    known = traces()
    if names is None or names == "default":
        return [known[n] for n in default_traces()]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if names == ["all"]:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigError(
            f"Unknown trace {', '.join(unknown) or '(none given)'}; choose from {', '.join(sorted(known))}."
        )
    return [known[n] for n in dict.fromkeys(names)]


def _load_builtins() -> None:
    from cibwatch.coord.traces import builtin, near_text, sync  # noqa: F401
