"""The one progress event every long-running function sends to its ``progress=`` callback.

Stages never draw a bar themselves: they call ``progress(ProgressEvent(...))`` and the CLI turns
the events into rich bars (``cibwatch.cli.console``), one bar per ``step``.

>>> events = []
>>> progress: Progress = events.append
>>> progress(ProgressEvent("bots", "bot scores", done=1, total=3))
>>> events[0].step, events[0].done, events[0].total
('bot scores', 1, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """How far one step of a stage has come.

    ``stage`` is the package that sends it (``ingest``, ``bots``, ``coord``, ``campaigns``,
    ``report``, ``scan``, ``sim``, ``evaluate``); ``step`` what is under way (for ingest: the
    file being read). ``done`` never goes down within a step; ``total`` is None when unknown.
    ``unit`` says what ``done`` and ``total`` count when it is not steps (ingest: ``"bytes"``).
    ``detail`` carries what else a step reports: ingest's ``records`` staged so far, the
    simulator's ``posts``, the ``phase`` a multi-part step is in, and a ``summary`` line on the
    part just finished (scan: a stage's time and rate), which the CLI prints once above the bars.
    """

    stage: str
    step: str
    done: int
    total: int | None
    unit: str | None = None
    detail: Mapping[str, int | str] = field(default_factory=dict)


Progress = Callable[[ProgressEvent], None]
