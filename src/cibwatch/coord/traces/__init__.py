"""The trace registry: each trace turns ``posts`` into (account, item, time, post) events.

A trace is a DuckDB ``SELECT`` over the view ``p`` (the case's posts with ``t``, the post time in
epoch milliseconds floored to the run's time resolution) returning the columns ``account_id``,
``item`` (VARCHAR), ``t`` and ``post_id``. A trace that needs a helper table (near-duplicate text)
builds it in ``prepare`` (and, if that is more than SQL, in ``prepare_spark`` for the Spark
engine). The SQL may use ``{sync_bin_ms}`` (the sync bin in milliseconds).
A trace may bring its own null-model strata (``Strata``). Adding a trace is one module that calls
``register``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cibwatch.errors import ConfigError

Prepare = Callable[[Any, dict[str, Any]], None]


@dataclass(frozen=True)
class Strata:
    """A trace's own time strata for the null model (docs/coordination.md, "The null model").

    ``sql`` is an integer SQL expression over ``{t}`` (epoch ms) and may use ``{stratum_ms}`` (the
    run's stratum, a week by default); consecutive ids must be neighbours in time, since a pair's
    expectation also counts the strata ±1. ``slot_ms`` is the length of one unbroken stretch of a
    stratum: neighbours weigh window / (2 × slot), and the strata are only used when a slot spans
    at least four windows (otherwise the run's default strata).
    """

    sql: str
    slot_ms: int
    label: str


@dataclass(frozen=True)
class Trace:
    name: str
    description: str
    sql: str
    default: bool = True
    # A trace whose items already are time slots fixes its own window (seconds), e.g. sync bins.
    fixed_window: Callable[[dict[str, Any]], float] | None = None
    strata: Strata | None = None  # None: the run's strata, t // stratum_ms
    # The window (seconds) when the user gives none for this trace: each tactic has its own
    # time scale (docs/coordination.md, "Windows per trace").
    default_window: float = 60.0
    # Items that recur over time (a hashtag, not a post): acting together on one in separate
    # windows is separate evidence, so co-actions count per (item, window-wide episode).
    recurring: bool = False
    # Items that are posts (reposts, quotes, replies): the evidence can name each item's author.
    targets_posts: bool = False
    prepare: Prepare | None = field(default=None, compare=False)
    # The Spark engine's preparation, for a trace whose ``prepare`` computes outside SQL (a
    # ``prepare`` that is only SQL runs on both engines as it is).
    prepare_spark: Prepare | None = field(default=None, compare=False)


_TRACES: dict[str, Trace] = {}


def register(trace: Trace) -> Trace:
    """Add ``trace`` to the registry (the built-ins use this too)."""
    _TRACES[trace.name] = trace
    return trace


def traces() -> dict[str, Trace]:
    """All registered traces by name."""
    _load_builtins()
    return dict(_TRACES)


def null_strata(trace: Trace, stratum_ms: int, window_ms: int) -> tuple[str | None, int, str]:
    """(SQL over ``{t}`` or None for the default ``t // stratum_ms``, slot ms, label) for ``trace``.

    >>> null_strata(traces()["repost"], 604_800_000, 60_000)
    (None, 604800000, '604800 s')
    """
    own = trace.strata
    default = f"{stratum_ms / 1000:g} s"
    if own is None:
        return None, stratum_ms, default
    if own.slot_ms < 4 * window_ms:
        return None, stratum_ms, f"{default} (window too wide for {own.label})"
    return own.sql.replace("{stratum_ms}", str(stratum_ms)), own.slot_ms, own.label


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
