"""Run parameters of the coordination stage (``run``, ``detect``): validated once, with messages
that say how to fix them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cibwatch.coord.traces import get_traces
from cibwatch.errors import ConfigError

ENGINES = ("duckdb", "spark")


@dataclass
class CoordParams:
    # Trace names, a comma-separated string, 'all', or None / 'default': the default traces plus
    # what the posts call for (coord/choose.py). ``detect``'s run record holds the names it ran.
    traces: list[str] | str | None = None
    # None: each trace's own default window; a number or 'auto' for all; a dict per trace.
    window: float | str | dict[str, float | str] | None = None
    time_resolution: float | str = "auto"
    alpha: float = 0.01
    min_shared: int = 3
    max_item_accounts: int = 1000
    max_burst_accounts: int = 1000
    max_examples: int = 5
    near_threshold: float = 0.8
    sync_bin: float = 60.0
    null_stratum: float = 604_800.0  # a week: see docs/coordination.md, "The null model"
    null_passes: int = 3  # 1: the background rate from all pairs; more: re-estimated without flagged ones
    seed: int = 0
    memory_limit: str = "2GB"
    threads: int = 2
    engine: str = "duckdb"  # or "spark": the same statements on a SparkSession (coord/spark.py)
    extra: dict[str, Any] = field(default_factory=dict)

    def window_for(self, trace: str) -> float | str | None:
        """The window asked for ``trace``; None when the trace's own default applies."""
        if isinstance(self.window, dict):
            return self.window.get(trace, self.window.get("default"))
        return self.window

    def validate(self) -> CoordParams:
        windows = self.window.values() if isinstance(self.window, dict) else [self.window]
        windows = [w for w in windows if w is not None]
        if isinstance(self.window, dict):
            names = [t.name for t in get_traces(self.traces)]
            unknown = sorted(set(self.window) - {*names, "default"})
            if unknown:
                raise ConfigError(
                    f"A window is given for {', '.join(unknown)}, which is not among the traces run "
                    f"({', '.join(names)}); name a trace or 'default'."
                )
        for w in windows:
            check_window(w)
        if self.time_resolution != "auto":
            _positive("time_resolution", self.time_resolution, "a positive number of seconds or 'auto'")
        if not 0 < float(self.alpha) <= 1:
            raise ConfigError(f"The 'alpha' parameter must be in (0, 1]. Got {self.alpha} instead.")
        for name in ("min_shared", "max_item_accounts", "max_burst_accounts", "max_examples", "null_passes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"The '{name}' parameter must be a whole number ≥ 1. Got {value!r} instead."
                )
        if not 0 < float(self.near_threshold) <= 1:
            raise ConfigError(
                "The 'near_threshold' parameter must be a similarity in (0, 1]. "
                f"Got {self.near_threshold} instead."
            )
        if self.engine not in ENGINES:
            raise ConfigError(
                f"The 'engine' parameter must be one of {', '.join(ENGINES)}. Got {self.engine!r} instead."
            )
        _positive("sync_bin", self.sync_bin, "a positive number of seconds")
        _positive("null_stratum", self.null_stratum, "a positive number of seconds")
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_window(value: object) -> float | str:
    """A window is a number of seconds ≥ 0 or 'auto'."""
    if value == "auto":
        return "auto"
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(
            f"The 'window' parameter must be a number of seconds ≥ 0 (0: the same instant) or 'auto'. "
            f"Got {value!r} instead."
        )
    return seconds


def _positive(name: str, value: object, expected: str) -> None:
    try:
        ok = float(value) > 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"The '{name}' parameter must be {expected}. Got {value!r} instead.")
